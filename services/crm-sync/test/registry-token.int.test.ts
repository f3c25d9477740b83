import { createCipheriv, randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { startFakeHubSpot, type FakeHubSpot } from '@livechat-pipeline/hubspot-fake';
import { TenantRegistry, migrateRegistry } from '@livechat-pipeline/tenant-registry';
import { createTestDatabase, waitFor, type TestDatabase } from '@livechat-pipeline/testkit';
import { startCrmSync, type CrmSync } from '../src/start.js';
import { ORG, smallChat } from './support/chats.js';
import { allRowsText, captureLogs, chatEventsTopic, crmConfig, crmEnv, eventsOf } from './support/harness.js';

const TENANT_TOKEN = 'pat-na1-CANARY-tenant-token';
const KEY = randomBytes(32);

/** Sealed as the app's TokenCipher seals (version 1 | iv | tag | ciphertext, AAD `<tenant id>/hubspot`). */
function seal(plaintext: string, aad: string): Buffer {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', KEY, iv);
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return Buffer.concat([Buffer.from([1]), iv, cipher.getAuthTag(), body]);
}

let db: TestDatabase | undefined;
let pool: pg.Pool | undefined;
let fake: FakeHubSpot | undefined;
let crm: CrmSync | undefined;
afterAll(async () => {
  await crm?.stop();
  await fake?.close();
  await pool?.end();
  await db?.drop();
});

describe('crm-sync with per-tenant tokens from the tenant registry', () => {
  it("uses the tenant's sealed token, and reports a refused one as a broken connection for the app", async () => {
    db = await createTestDatabase('crm_registry');
    pool = new pg.Pool({ connectionString: db.url, max: 2 });
    await migrateRegistry(pool);
    const registry = new TenantRegistry(pool);
    const tenant = await registry.recordInstall({ clientId: 'client-1', organizationId: ORG });
    await registry.saveCrmToken(tenant.id, {
      keyId: 'k1',
      tokenEnc: seal(TENANT_TOKEN, `${tenant.id}/hubspot`),
    });

    fake = await startFakeHubSpot({ tokens: { [TENANT_TOKEN]: 11 } });
    const { topic, publish } = await chatEventsTopic(1);
    const env = crmEnv(
      { databaseUrl: db.url, topic, apiUrl: fake.url, token: '' },
      {
        CRM_TENANT_REGISTRY_DATABASE_URL: db.url,
        CRM_TOKEN_KEYS: `k1:${KEY.toString('base64')}`,
      },
    );
    const { lines, logger } = captureLogs('debug');
    crm = await startCrmSync(crmConfig(env), logger);

    await publish(eventsOf(smallChat(900).deliveries));
    await waitFor(() => fake!.notes().length === 1, { timeoutMs: 20_000, message: 'the note' });
    await waitFor(async () => (await registry.getCrmConnection(tenant.id))?.status === 'ok', {
      message: 'ok',
    });

    fake.setToken(TENANT_TOKEN, null);
    await publish(eventsOf(smallChat(901).deliveries));
    await waitFor(async () => (await registry.getCrmConnection(tenant.id))?.status === 'broken', {
      timeoutMs: 20_000,
      message: 'broken',
    });
    expect((await registry.getCrmConnection(tenant.id))?.code).toBe('CRM_HUBSPOT_UNAUTHORIZED');
    expect(lines.filter((l) => l.includes('CANARY'))).toEqual([]);
    expect(await allRowsText(pool, 'crm')).not.toContain('CANARY');
  });
});

describe('crm-sync: tenants that cannot be synced do not hold up the others', () => {
  const GOOD = 'a1111111-1111-4111-8111-111111111111';
  const BAD_KEY = 'b2222222-2222-4222-8222-222222222222';
  const NONE = 'c3333333-3333-4333-8333-333333333333';
  let db2: TestDatabase | undefined;
  let pool2: pg.Pool | undefined;
  let fake2: FakeHubSpot | undefined;
  let crm2: CrmSync | undefined;
  afterAll(async () => {
    await crm2?.stop();
    await fake2?.close();
    await pool2?.end();
    await db2?.drop();
  });

  it("an unreadable token (unknown key id) backs off only its tenant; a token-less tenant's rows are parked until set-token", async () => {
    db2 = await createTestDatabase('crm_registry_tenants');
    pool2 = new pg.Pool({ connectionString: db2.url, max: 2 });
    await migrateRegistry(pool2);
    const registry = new TenantRegistry(pool2);
    const good = await registry.recordInstall({ clientId: 'client-good', organizationId: GOOD });
    const badKey = await registry.recordInstall({ clientId: 'client-bad', organizationId: BAD_KEY });
    const none = await registry.recordInstall({ clientId: 'client-none', organizationId: NONE });
    await registry.saveCrmToken(good.id, { keyId: 'k1', tokenEnc: seal(TENANT_TOKEN, `${good.id}/hubspot`) });
    // Sealed with a key this crm-sync does not have (rotated away): openSealedToken throws.
    await registry.saveCrmToken(badKey.id, {
      keyId: 'k-gone',
      tokenEnc: seal(TENANT_TOKEN, `${badKey.id}/hubspot`),
    });

    fake2 = await startFakeHubSpot({ tokens: { [TENANT_TOKEN]: 11 } });
    const { topic, publish } = await chatEventsTopic(1);
    const schema = 'crm';
    const env = crmEnv(
      { databaseUrl: db2.url, topic, apiUrl: fake2.url, token: '' },
      {
        CRM_TENANT_REGISTRY_DATABASE_URL: db2.url,
        CRM_TOKEN_KEYS: `k1:${KEY.toString('base64')}`,
        CRM_PROBE_MS: '200',
        CRM_TOKEN_CACHE_MS: '200',
      },
    );
    crm2 = await startCrmSync(crmConfig(env), captureLogs().logger);

    // The unreadable and the token-less tenants' threads are older: they are claimed first.
    await publish(
      eventsOf([
        ...smallChat(910, { org: BAD_KEY }).deliveries,
        ...smallChat(911, { org: BAD_KEY }).deliveries,
        ...smallChat(920, { org: NONE }).deliveries,
        ...smallChat(930, { org: GOOD }).deliveries,
      ]),
    );
    await waitFor(() => fake2!.notes().length === 1, {
      timeoutMs: 20_000,
      message: "the good tenant's note",
    });
    await waitFor(
      async () => {
        const { rows } = await pool2!.query<{ tenant: string; status: string; code: string | null }>(
          `select tenant, status, last_error_code as code from "${schema}".outbox where tenant <> $1 order by chat_id`,
          [GOOD],
        );
        return (
          JSON.stringify(rows) ===
          JSON.stringify([
            { tenant: BAD_KEY, status: 'pending', code: 'CRM_TOKEN_UNREADABLE' },
            { tenant: BAD_KEY, status: 'pending', code: 'CRM_TOKEN_UNREADABLE' },
            { tenant: NONE, status: 'no_token', code: 'CRM_NO_TOKEN' },
          ])
        );
      },
      { timeoutMs: 20_000, message: 'unreadable rows backed off, token-less rows parked' },
    );
    await waitFor(async () => (await registry.getCrmConnection(badKey.id))?.code === 'CRM_TOKEN_UNREADABLE', {
      message: 'the unreadable token shown broken',
    });
    expect((await registry.getCrmConnection(badKey.id))?.status).toBe('broken');

    // set-token for the token-less tenant: its parked thread is synced.
    await registry.saveCrmToken(none.id, { keyId: 'k1', tokenEnc: seal(TENANT_TOKEN, `${none.id}/hubspot`) });
    await waitFor(() => fake2!.notes().length === 2, { timeoutMs: 20_000, message: 'the parked note' });
  });
});

describe('crm-sync: a rate-limited account does not hold up the other accounts', () => {
  const LIMITED = 'd4444444-4444-4444-8444-444444444444';
  const OTHER = 'e5555555-5555-4555-8555-555555555555';
  const LIMITED_TOKEN = 'pat-na1-CANARY-limited';
  const OTHER_TOKEN = 'pat-na1-CANARY-other';
  let db3: TestDatabase | undefined;
  let pool3: pg.Pool | undefined;
  let fake3: FakeHubSpot | undefined;
  let crm3: CrmSync | undefined;
  afterAll(async () => {
    await crm3?.stop();
    await fake3?.close();
    await pool3?.end();
    await db3?.drop();
  });

  it("tenant A's account in a ten-second 429 window: tenant B's note still arrives within a few seconds", async () => {
    db3 = await createTestDatabase('crm_registry_limited');
    pool3 = new pg.Pool({ connectionString: db3.url, max: 2 });
    await migrateRegistry(pool3);
    const registry = new TenantRegistry(pool3);
    const limited = await registry.recordInstall({ clientId: 'client-limited', organizationId: LIMITED });
    const other = await registry.recordInstall({ clientId: 'client-other', organizationId: OTHER });
    await registry.saveCrmToken(limited.id, {
      keyId: 'k1',
      tokenEnc: seal(LIMITED_TOKEN, `${limited.id}/hubspot`),
    });
    await registry.saveCrmToken(other.id, {
      keyId: 'k1',
      tokenEnc: seal(OTHER_TOKEN, `${other.id}/hubspot`),
    });

    // Three calls per portal per ten seconds: A's upsert and two notes pass, its next note meets a 429 (no
    // Retry-After: the client waits HUBSPOT_RATE_LIMIT_WAIT_MS, HubSpot's ten seconds).
    fake3 = await startFakeHubSpot({
      tokens: { [LIMITED_TOKEN]: 21, [OTHER_TOKEN]: 22 },
      tenSecondlyLimit: 3,
      tenSecondlyWindowMs: 10_000,
    });
    const { topic, publish } = await chatEventsTopic(1);
    const env = crmEnv(
      { databaseUrl: db3.url, topic, apiUrl: fake3.url, token: '' },
      {
        CRM_TENANT_REGISTRY_DATABASE_URL: db3.url,
        CRM_TOKEN_KEYS: `k1:${KEY.toString('base64')}`,
        HUBSPOT_RATE_LIMIT_WAIT_MS: '10000',
        CRM_WORKER_CONCURRENCY: '4',
      },
    );
    crm3 = await startCrmSync(crmConfig(env), captureLogs().logger);

    await publish(
      eventsOf([940, 941, 942, 943, 944, 945].flatMap((n) => smallChat(n, { org: LIMITED }).deliveries)),
    );
    await waitFor(() => fake3!.calls().some((c) => c.portalId === 21 && c.status === 429), {
      timeoutMs: 20_000,
      message: "A's 429",
    });
    const blockedAt = Date.now();
    await publish(eventsOf(smallChat(950, { org: OTHER }).deliveries));
    await waitFor(() => fake3!.notes(22).length === 1, { timeoutMs: 20_000, message: "B's note" });
    // Within the ten-second window of A (before the fix B waited for A's pass to sleep it out).
    expect(Date.now() - blockedAt).toBeLessThan(5_000);
    expect(fake3.notes(21).length).toBeLessThan(6);
  });
});
