import { createTestDatabase, waitFor } from '@livechat-pipeline/testkit';
import type { TestDatabase } from '@livechat-pipeline/testkit';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  MIGRATIONS,
  TenantRegistry,
  anyOfVerifiers,
  createRegistrySecretVerifier,
  hashWebhookSecret,
  migrateRegistry,
} from '../src/index.js';
import type { RegistrySecretVerifier } from '../src/index.js';

const CLIENT = 'client-registry-test';
const ORG = 'f9c7cc55-b35a-4e76-b0d5-ae9fce362314';
const OTHER_ORG = '0c2b6b0e-6a8f-4d7e-9a53-1f1f1f1f1f1f';

describe('tenant registry + secret verifier (real Postgres)', () => {
  let db: TestDatabase;
  let pool: pg.Pool;
  let registry: TenantRegistry;
  let verifier: RegistrySecretVerifier;

  beforeAll(async () => {
    db = await createTestDatabase('registry');
    pool = new pg.Pool({ connectionString: db.url, max: 4 });
    expect(await migrateRegistry(pool)).toEqual(MIGRATIONS.map((m) => m.version));
    expect(await migrateRegistry(pool)).toEqual([]); // idempotent
    registry = new TenantRegistry(pool);
    verifier = await createRegistrySecretVerifier(pool, { refreshMs: 100, recordLastWebhook: true });
  });

  afterAll(async () => {
    await verifier?.close();
    await pool?.end();
    await db?.drop();
  });

  const v3 = (secretKey: string) => ({ format: 'v3' as const, secretKey });
  const subject = (tenant: string | null) => ({ tenant, action: 'incoming_chat' });

  it('accepts the secret of a live registration for an active tenant only, and follows changes within a second', async () => {
    await registry.recordInstall({ clientId: CLIENT, organizationId: ORG, licenseId: '104130623' });
    await registry.addRegistration({
      id: 'wh-1',
      ownerClientId: CLIENT,
      action: 'incoming_chat',
      url: 'https://x/webhooks/livechat',
      secretHash: hashWebhookSecret('old-secret'),
      definition: {},
    });
    await waitFor(() => verifier.verifyV3Secret('old-secret', ORG), {
      timeoutMs: 5000,
      message: 'registry secret accepted',
    });

    expect(await verifier.verify(v3('old-secret'), subject(ORG))).toEqual({ ok: true });
    expect(await verifier.verify(v3('old-secret'), subject('104130623'))).toEqual({ ok: true }); // v3.2/3.3 license_id
    expect(await verifier.verify(v3('wrong'), subject(ORG))).toEqual({
      ok: false,
      reason: 'bad_credentials',
    });
    expect(await verifier.verify(v3('old-secret'), subject(OTHER_ORG))).toEqual({
      ok: false,
      reason: 'bad_credentials',
    });
    expect(await verifier.verify(v3('old-secret'), subject(null))).toEqual({
      ok: false,
      reason: 'bad_credentials',
    });
    expect(await verifier.verify(v3(''), subject(ORG))).toEqual({ ok: false, reason: 'missing_credentials' });
    expect((await verifier.verify({ format: 'v2', authorization: 'Basic eDp5' }, subject(ORG))).ok).toBe(
      false,
    );

    // rotation: the new one registered, the old one retiring -> both accepted; old deleted -> refused
    await registry.addRegistration({
      id: 'wh-2',
      ownerClientId: CLIENT,
      action: 'incoming_chat',
      url: 'https://x/webhooks/livechat',
      secretHash: hashWebhookSecret('new-secret'),
      definition: {},
    });
    await registry.setRegistrationStatus('wh-1', 'retiring');
    await waitFor(() => verifier.verifyV3Secret('new-secret', ORG), { timeoutMs: 5000 });
    expect(verifier.verifyV3Secret('old-secret', ORG)).toBe(true);
    await registry.setRegistrationStatus('wh-1', 'deleted');
    await waitFor(() => !verifier.verifyV3Secret('old-secret', ORG), {
      timeoutMs: 5000,
      message: 'old secret refused',
    });
    expect(verifier.verifyV3Secret('new-secret', ORG)).toBe(true);

    // last_webhook_at follows accepted deliveries
    await waitFor(async () => (await registry.findTenant(CLIENT, ORG))?.lastWebhookAt, {
      timeoutMs: 5000,
      message: 'last_webhook_at written',
    });

    // uninstall -> refused
    await registry.markUninstalled({ clientId: CLIENT, organizationId: ORG });
    await waitFor(() => !verifier.verifyV3Secret('new-secret', ORG), {
      timeoutMs: 5000,
      message: 'uninstalled tenant refused',
    });
  });

  it("one tenant per delivery: tenant A's registered secret is refused for tenant B, and for no tenant", async () => {
    const A = 'aaaaaaaa-0000-4000-8000-00000000000a';
    const B = 'bbbbbbbb-0000-4000-8000-00000000000b';
    await registry.recordInstall({ clientId: 'client-a', organizationId: A, licenseId: '9001' });
    await registry.recordInstall({ clientId: 'client-b', organizationId: B });
    for (const [id, client, secret] of [
      ['wh-a', 'client-a', 'secret-of-a'],
      ['wh-b', 'client-b', 'secret-of-b'],
    ] as const)
      await registry.addRegistration({
        id,
        ownerClientId: client,
        action: 'incoming_chat',
        url: 'https://x/webhooks/livechat',
        secretHash: hashWebhookSecret(secret),
        definition: {},
      });
    await verifier.refresh();
    expect(await verifier.verify(v3('secret-of-a'), subject(A))).toEqual({ ok: true });
    expect(await verifier.verify(v3('secret-of-a'), subject('9001'))).toEqual({ ok: true });
    expect(await verifier.verify(v3('secret-of-b'), subject(B))).toEqual({ ok: true });
    expect(await verifier.verify(v3('secret-of-a'), subject(B))).toEqual({
      ok: false,
      reason: 'bad_credentials',
    });
    expect(await verifier.verify(v3('secret-of-b'), subject(A))).toEqual({
      ok: false,
      reason: 'bad_credentials',
    });
    expect(await verifier.verify(v3('secret-of-a'), subject(null))).toEqual({
      ok: false,
      reason: 'bad_credentials',
    });
    expect(await verifier.verify(v3('secret-of-a'), subject(''))).toEqual({
      ok: false,
      reason: 'bad_credentials',
    });
    // combined with another verifier, still only tenant B's credentials are asked about for tenant B
    const seen: unknown[] = [];
    const spy = {
      verify: (_c: unknown, s: unknown) => (
        seen.push(s),
        { ok: false as const, reason: 'bad_credentials' as const }
      ),
    };
    expect(await anyOfVerifiers(spy, verifier).verify(v3('secret-of-a'), subject(B))).toEqual({
      ok: false,
      reason: 'bad_credentials',
    });
    expect(seen).toEqual([subject(B)]);
  });

  it('a retiring registration past its expiry is refused although nobody finished the rotation', async () => {
    const C = 'cccccccc-0000-4000-8000-00000000000c';
    await registry.recordInstall({ clientId: 'client-c', organizationId: C });
    for (const [id, secret] of [
      ['wh-c-old', 'old-secret-of-c'],
      ['wh-c-crashed', 'crashed-secret-of-c'],
      ['wh-c-new', 'new-secret-of-c'],
    ] as const)
      await registry.addRegistration({
        id,
        ownerClientId: 'client-c',
        action: 'incoming_chat',
        url: 'https://x/webhooks/livechat',
        secretHash: hashWebhookSecret(secret),
        definition: {},
      });
    // a rotation that crashed long ago: retiring, never deleted, its expiry passed
    await registry.setRegistrationStatus('wh-c-crashed', 'retiring', { retiringForMs: 0 });
    // a rotation in progress whose process dies now: retiring for 5 s more (long enough for the checks below
    // on a loaded machine; the waitFor below then sees it expire)
    await registry.setRegistrationStatus('wh-c-old', 'retiring', { retiringForMs: 5_000 });
    const stored = (await registry.getRegistration('wh-c-old'))!;
    expect(stored.status).toBe('retiring');
    expect(stored.retiringUntil).toBeInstanceOf(Date);
    // retiring again keeps the first expiry (a retried step cannot extend it)
    await registry.setRegistrationStatus('wh-c-old', 'retiring', { retiringForMs: 3_600_000 });
    expect((await registry.getRegistration('wh-c-old'))!.retiringUntil).toEqual(stored.retiringUntil);

    // a verifier that does not refresh in between: the expiry is checked at verification time
    const slow = await createRegistrySecretVerifier(pool, { refreshMs: 60_000 });
    try {
      expect(await slow.verify(v3('crashed-secret-of-c'), subject(C))).toEqual({
        ok: false,
        reason: 'bad_credentials',
      });
      expect(await slow.verify(v3('old-secret-of-c'), subject(C))).toEqual({ ok: true });
      expect(await slow.verify(v3('new-secret-of-c'), subject(C))).toEqual({ ok: true });
      await waitFor(() => !slow.verifyV3Secret('old-secret-of-c', C), {
        timeoutMs: 15_000,
        message: 'expired retiring secret refused without a refresh',
      });
      await slow.refresh();
      expect(await slow.verify(v3('old-secret-of-c'), subject(C))).toEqual({
        ok: false,
        reason: 'bad_credentials',
      });
      expect(await slow.verify(v3('new-secret-of-c'), subject(C))).toEqual({ ok: true });
    } finally {
      await slow.close();
    }
    // still "retiring" in the table: nobody finished it, the expiry alone refuses it
    expect((await registry.getRegistration('wh-c-old'))!.status).toBe('retiring');
  });

  it('a webhook registered a moment ago is accepted at once, without waiting for the refresh', async () => {
    const D = 'dddddddd-0000-4000-8000-00000000000d';
    // refreshes once at start, then not for a minute
    const slow = await createRegistrySecretVerifier(pool, { refreshMs: 60_000 });
    try {
      await registry.recordInstall({ clientId: 'client-d', organizationId: D, licenseId: '9004' });
      await registry.addRegistration({
        id: 'wh-d',
        ownerClientId: 'client-d',
        action: 'incoming_chat',
        url: 'https://x/webhooks/livechat',
        secretHash: hashWebhookSecret('fresh-secret-of-d'),
        definition: {},
      });
      expect(await slow.verify(v3('fresh-secret-of-d'), subject(D))).toEqual({ ok: true });
      expect(await slow.verify(v3('fresh-secret-of-d'), subject('9004'))).toEqual({ ok: true });
      // still one tenant only, and a wrong secret still refused
      expect(await slow.verify(v3('fresh-secret-of-d'), subject(ORG))).toEqual({
        ok: false,
        reason: 'bad_credentials',
      });
      expect(await slow.verify(v3('wrong'), subject(D))).toEqual({ ok: false, reason: 'bad_credentials' });
      // a second registration for the same tenant right after: its first miss waits for the tenant's next
      // look-up (at most the interval), which sees it
      await registry.addRegistration({
        id: 'wh-d2',
        ownerClientId: 'client-d',
        action: 'incoming_event',
        url: 'https://x/webhooks/livechat',
        secretHash: hashWebhookSecret('second-secret-of-d'),
        definition: {},
      });
      expect(await slow.verify(v3('second-secret-of-d'), subject(D))).toEqual({ ok: true });
      // and an uninstall is seen by the next miss look-up too
      await registry.markUninstalled({ clientId: 'client-d', organizationId: D });
      expect(await slow.verify(v3('unknown-to-the-set'), subject(D))).toEqual({
        ok: false,
        reason: 'bad_credentials',
      });
      expect(slow.verifyV3Secret('fresh-secret-of-d', D)).toBe(false);
      expect(slow.stats.missLookupHits).toBe(3);
    } finally {
      await slow.close();
    }
  });

  it('misses cannot become a query flood: one look-up per tenant per interval, a global budget', async () => {
    const E = 'eeeeeeee-0000-4000-8000-00000000000e';
    const limited = await createRegistrySecretVerifier(pool, {
      refreshMs: 60_000,
      missLookupIntervalMs: 500,
      missLookupsPerSecond: 20,
      missLookupTenantCap: 100,
    });
    try {
      // 200 concurrent wrong secrets for one tenant: one query (plus one after the interval at most)
      const started = Date.now();
      const one = await Promise.all(
        Array.from({ length: 200 }, (_, i) => limited.verify(v3(`guess-${i}`), subject(E))),
      );
      expect(one.every((r) => !r.ok)).toBe(true);
      expect(limited.stats.missLookups).toBeLessThanOrEqual(2);
      // a miss right after waits for the interval (bounded), it does not query again at once
      expect(await limited.verify(v3('guess-again'), subject(E))).toEqual({
        ok: false,
        reason: 'bad_credentials',
      });
      expect(Date.now() - started).toBeLessThan(3000);
      expect(limited.stats.missLookups).toBeLessThanOrEqual(3);

      // 1000 different made-up tenants: at most the budget is queried, the rest refused without a query
      const before = limited.stats;
      const many = await Promise.all(
        Array.from({ length: 1000 }, (_, i) => limited.verify(v3('x'), subject(`made-up-${i}`))),
      );
      expect(many.every((r) => !r.ok)).toBe(true);
      const after = limited.stats;
      expect(after.missLookups - before.missLookups).toBeLessThanOrEqual(25);
      expect(after.missLookupsThrottled - before.missLookupsThrottled).toBeGreaterThanOrEqual(975);
      // an over-long tenant id is never looked up
      expect(await limited.verify(v3('x'), subject('t'.repeat(10_000)))).toEqual({
        ok: false,
        reason: 'bad_credentials',
      });
      expect(limited.stats.missLookups).toBe(after.missLookups);
    } finally {
      await limited.close();
    }
  });

  it('anyOfVerifiers accepts what one accepts and keeps the first refusal reason', async () => {
    const refuse = { verify: () => ({ ok: false as const, reason: 'missing_credentials' as const }) };
    const accept = { verify: async () => ({ ok: true as const }) };
    expect(await anyOfVerifiers(refuse, accept).verify(v3('x'), subject(ORG))).toEqual({ ok: true });
    expect(await anyOfVerifiers(refuse, verifier).verify(v3('x'), subject(ORG))).toEqual({
      ok: false,
      reason: 'missing_credentials',
    });
  });

  it('stores no secret: the digest only', async () => {
    const r = await pool.query<{ secret_hash: string }>('select secret_hash from app.webhook_registrations');
    for (const row of r.rows) expect(row.secret_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(r.rows.map((x) => x.secret_hash)).not.toContain('new-secret');
  });
});
