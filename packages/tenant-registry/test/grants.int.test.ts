import { createTestDatabase, waitFor } from '@livechat-pipeline/testkit';
import type { TestDatabase } from '@livechat-pipeline/testkit';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  MIGRATIONS,
  TenantRegistry,
  createRegistrySecretVerifier,
  hashWebhookSecret,
  migrateRegistry,
  migrateRegistryWithGrants,
} from '../src/index.js';

/**
 * A role of this test only (role names are cluster-wide and the stack is shared): created idempotently, so
 * concurrent runs and reruns both succeed, and never dropped (it owns nothing; its grants live in the test
 * database, dropped at the end).
 */
const ROLE = 'lcp_test_registry_ingest';
const PASSWORD = 'lcp-test-registry-ingest';

async function ensureRole(adminUrl: string): Promise<void> {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(
      `do $r$ begin create role ${ROLE} login password '${PASSWORD}'; exception when duplicate_object or unique_violation then null; end $r$`,
    );
    // twice: idempotent
    await admin.query(
      `do $r$ begin create role ${ROLE} login password '${PASSWORD}'; exception when duplicate_object or unique_violation then null; end $r$`,
    );
  } finally {
    await admin.end();
  }
}

const asRole = (url: string): string => {
  const u = new URL(url);
  u.username = ROLE;
  u.password = PASSWORD;
  return u.toString();
};

/** The Postgres error code of a failed statement ('' when it succeeded). */
async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return '';
  } catch (err) {
    return String((err as { code?: string }).code);
  }
}

describe('least privilege: the ingest role reads the registry and writes last_webhook_at only', () => {
  let db: TestDatabase;
  let admin: pg.Pool;
  let ingest: pg.Pool;
  const CLIENT = 'client-grants';
  const ORG = '6a1f0c1e-0000-4000-8000-000000000001';

  beforeAll(async () => {
    db = await createTestDatabase('registry_grants');
    await ensureRole(db.url);
    admin = new pg.Pool({ connectionString: db.url, max: 3 });
    ingest = new pg.Pool({ connectionString: asRole(db.url), max: 3 });
  });

  afterAll(async () => {
    await ingest?.end();
    await admin?.end();
    await db?.drop();
  });

  it('the ingest starts before the app migrated, refuses registry secrets, and accepts them once the app has migrated and granted', async () => {
    const errors: string[] = [];
    const verifier = await createRegistrySecretVerifier(ingest, {
      refreshMs: 100,
      recordLastWebhook: true,
      onError: (e) => errors.push(e.message),
    });
    try {
      expect(verifier.loaded).toBe(false);
      expect(errors.length).toBeGreaterThan(0);
      const v3 = { format: 'v3' as const, secretKey: 'secret-of-grants' };
      expect(await verifier.verify(v3, { tenant: ORG, action: 'incoming_chat' })).toEqual({
        ok: false,
        reason: 'bad_credentials',
      });

      // the app migrates to the first version only, and grants (an older app release)
      const first = await migrateRegistryWithGrants(admin, { ingestRole: ROLE, toVersion: 1 });
      expect(first).toEqual({ applied: [1], ingestRoleMissing: false });
      // ... then a newer app adds the later migrations (new columns the ingest reads): the grants follow
      const rest = await migrateRegistryWithGrants(admin, { ingestRole: ROLE });
      expect(rest.applied).toEqual(MIGRATIONS.slice(1).map((m) => m.version));

      const registry = new TenantRegistry(admin);
      await registry.recordInstall({ clientId: CLIENT, organizationId: ORG });
      await registry.addRegistration({
        id: 'wh-grants',
        ownerClientId: CLIENT,
        action: 'incoming_chat',
        url: 'https://x/webhooks/livechat',
        secretHash: hashWebhookSecret('secret-of-grants'),
        definition: {},
      });
      expect(await verifier.verify(v3, { tenant: ORG, action: 'incoming_chat' })).toEqual({ ok: true });
      await waitFor(() => verifier.loaded, { timeoutMs: 5000, message: 'the refresh reads the registry' });
      // the verifier writes last_webhook_at through the ingest role
      await verifier.close();
      expect((await registry.findTenant(CLIENT, ORG))?.lastWebhookAt).toBeInstanceOf(Date);
    } finally {
      await verifier.close();
    }
  });

  it('the ingest role cannot write registrations, read tokens or sessions, change tenants or create in the schema', async () => {
    expect(
      await codeOf(
        ingest.query(
          `insert into app.webhook_registrations (id, owner_client_id, action, url, secret_hash, status)
           values ('forged', '${CLIENT}', 'incoming_chat', 'https://x', '${hashWebhookSecret('forged')}', 'active')`,
        ),
      ),
    ).toBe('42501');
    expect(await codeOf(ingest.query(`update app.webhook_registrations set status = 'active'`))).toBe(
      '42501',
    );
    expect(await codeOf(ingest.query(`delete from app.webhook_registrations`))).toBe('42501');
    expect(await codeOf(ingest.query(`update app.tenants set status = 'active'`))).toBe('42501');
    expect(
      await codeOf(
        ingest.query(
          `insert into app.tenants (client_id, organization_id, status) values ('c', 'o', 'active')`,
        ),
      ),
    ).toBe('42501');
    expect(await codeOf(ingest.query('select * from app.tokens'))).toBe('42501');
    expect(await codeOf(ingest.query('select * from app.sessions'))).toBe('42501');
    expect(await codeOf(ingest.query('select * from app.session_handoffs'))).toBe('42501');
    expect(await codeOf(ingest.query('select * from app.schema_migrations'))).toBe('42501');
    expect(await codeOf(ingest.query('select definition from app.webhook_registrations'))).toBe('42501');
    expect(await codeOf(ingest.query('create table app.forged (x int)'))).toBe('42501');
    expect(await codeOf(ingest.query('create table public.forged (x int)'))).toBe('42501');
    expect(await codeOf(ingest.query('alter table app.tenants add column x int'))).toBe('42501');
    // what it needs works
    expect(
      await codeOf(
        ingest.query(`update app.tenants set last_webhook_at = now() where organization_id = '${ORG}'`),
      ),
    ).toBe('');
    expect(
      await codeOf(ingest.query('select secret_hash, retiring_until from app.webhook_registrations')),
    ).toBe('');
  });

  it('migrating again (the app restarting or adding migrations) keeps exactly these grants; a missing role is reported', async () => {
    // a grant someone added by hand is taken back at the next migration run
    await admin.query(`grant insert on app.webhook_registrations to ${ROLE}`);
    expect(await migrateRegistry(admin, { ingestRole: ROLE })).toEqual([]);
    expect(
      await codeOf(
        ingest.query(
          `insert into app.webhook_registrations (id, owner_client_id, action, url, secret_hash, status)
           values ('forged2', '${CLIENT}', 'incoming_chat', 'https://x', '${hashWebhookSecret('f')}', 'active')`,
        ),
      ),
    ).toBe('42501');
    expect(await codeOf(ingest.query('select organization_id from app.tenants'))).toBe('');
    expect(await migrateRegistryWithGrants(admin, { ingestRole: 'lcp_role_that_does_not_exist' })).toEqual({
      applied: [],
      ingestRoleMissing: true,
    });
  });
});
