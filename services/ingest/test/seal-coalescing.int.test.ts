import { randomBytes } from 'node:crypto';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { openRawBody } from '@livechat-pipeline/events';
import { PrivacyError, PrivacyVault, migratePrivacy, parsePrivacyConfig } from '@livechat-pipeline/privacy';
import { createTestDatabase } from '@livechat-pipeline/testkit';
import type { TestDatabase } from '@livechat-pipeline/testkit';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IngestError } from '../src/errors.js';
import { toErrorResponse } from '../src/http-errors.js';
import { VaultRawBodySealer } from '../src/privacy/raw-body-sealer.js';
import type { DataKeyStore } from '../src/privacy/raw-body-sealer.js';
import type { KeyedRawRecord } from '../src/raw-record.js';
import type { JsonObject } from '../src/webhook.js';

/** A chat webhook carrying personal data (its scope is the chat id). */
function personalBody(chatId: string): JsonObject {
  return {
    action: 'incoming_event',
    organization_id: 'org',
    payload: {
      chat_id: chatId,
      thread_id: 'T1',
      event: { id: `E-${chatId}`, type: 'message', text: `hello from ${chatId}`, author_id: 'c@example.com' },
    },
  };
}

function rawRecordOf(tenant: string, chatId: string): KeyedRawRecord {
  return {
    key: `${tenant}|${chatId}`,
    value: {
      event_id: chatId.padEnd(64, '0'),
      received_at: 1_795_000_000_000_000,
      format: 'v3',
      api_version: '3.6+',
      action: 'incoming_event',
      tenant,
      tenant_source: 'body',
      chat_id: chatId,
      thread_id: 'T1',
      webhook_id: null,
      body: JSON.stringify(personalBody(chatId)),
      content_length: null,
      user_agent: null,
      remote_address: null,
    },
  };
}

/**
 * The real vault, with its calls counted (it delegates every call). Each look-up first lets `holdTurns` event-loop
 * turns pass, so that it spans that many of the test's turns however fast Postgres answers (a deterministic bound).
 */
function counted(
  vault: PrivacyVault,
  holdTurns = 0,
): DataKeyStore & { calls: number; inFlight: number; maxInFlight: number } {
  const store = {
    calls: 0,
    inFlight: 0,
    maxInFlight: 0,
    async keysFor(tenant: string, scopes: readonly string[], options: { create: boolean }) {
      store.calls += 1;
      store.inFlight += 1;
      store.maxInFlight = Math.max(store.maxInFlight, store.inFlight);
      try {
        for (let turn = 0; turn < holdTurns; turn++) await nextTurn();
        return await vault.keysFor(tenant, scopes, options);
      } finally {
        store.inFlight -= 1;
      }
    },
  };
  return store;
}

describe('sealer under load: one key look-up in flight per tenant, the rest coalesced', () => {
  let db: TestDatabase;
  let pool: pg.Pool;
  let vault: PrivacyVault;
  const keys = {
    PRIVACY_KEYS: `k1:${randomBytes(32).toString('base64')}`,
    PRIVACY_EMAIL_HASH_KEY: randomBytes(32).toString('base64'),
  };

  beforeAll(async () => {
    db = await createTestDatabase('ingest_seal_coalescing');
    // The ingest's key-store pool size (INGEST_PRIVACY_POOL_SIZE's default).
    pool = new pg.Pool({ connectionString: db.url, max: 2 });
    const config = parsePrivacyConfig(keys)!;
    await migratePrivacy(pool, { schema: config.schema });
    vault = new PrivacyVault(pool, config);
  });
  afterAll(async () => {
    await pool?.end();
    await db?.drop();
  });

  it('a burst of 2,000 new chats over 200 turns: at most one look-up at a time, far fewer look-ups than turns, all sealed', async () => {
    const holdTurns = 10;
    const store = counted(vault, holdTurns);
    // The queue cap is not what this test is about: room for the whole burst.
    const sealer = new VaultRawBodySealer({ keys: store, maxQueuedRecordsPerTenant: 10_000 });
    const tenant = 'org-burst';
    const turns = 200;
    const perTurn = 10;
    const sealing: Promise<KeyedRawRecord>[] = [];
    for (let turn = 0; turn < turns; turn++) {
      for (let i = 0; i < perTurn; i++) {
        const chatId = `BURST-${turn}-${i}`;
        sealing.push(sealer.seal(rawRecordOf(tenant, chatId), personalBody(chatId)));
      }
      await nextTurn();
    }
    const sealed = await Promise.all(sealing);
    expect(store.maxInFlight).toBe(1);
    // Each look-up spans at least holdTurns of the burst's turns: one per holdTurns turns, and one for the rest at
    // the end (without coalescing: a look-up per turn, 200).
    expect(store.calls).toBeLessThanOrEqual(turns / holdTurns + 2);
    for (const record of sealed) {
      expect(record.value.body).toBe('');
      const scope = record.value.sealed?.key_scope ?? '';
      const states = await vault.keysFor(tenant, [scope], { create: false });
      expect(openRawBody(record.value, states.get(scope))).toEqual({
        body: JSON.stringify(personalBody(scope)),
      });
    }
  });

  it('a tenant with the queue cap waiting: its next webhook is 503 INGEST_PRIVACY_KEY_UNAVAILABLE with Retry-After at once; other tenants go on', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    // The real vault behind a gate for org-capped only: its look-up holds until the test lets it go (a slow key
    // store for that tenant); other tenants' look-ups go through.
    const slow: DataKeyStore = {
      keysFor: async (tenant, scopes, options) => {
        if (tenant === 'org-capped') await gate;
        return vault.keysFor(tenant, scopes, options);
      },
    };
    const sealer = new VaultRawBodySealer({ keys: slow, maxQueuedRecordsPerTenant: 3 });
    const seal = (tenant: string, chatId: string) =>
      sealer.seal(rawRecordOf(tenant, chatId), personalBody(chatId));
    const first = seal('org-capped', 'CAP-0');
    await nextTurn(); // its look-up is running (held at the gate)
    const queued = [seal('org-capped', 'CAP-1'), seal('org-capped', 'CAP-2'), seal('org-capped', 'CAP-3')];
    // Refused at once, not after the slow look-up: it has not ended when the next turn comes.
    const refused = await Promise.race([
      seal('org-capped', 'CAP-4').then(
        () => 'sealed',
        (err: unknown) => err,
      ),
      nextTurn().then(() => 'still waiting'),
    ]);
    expect(refused).toBeInstanceOf(IngestError);
    expect(refused).toMatchObject({ code: 'INGEST_PRIVACY_KEY_UNAVAILABLE', status: 503 });
    expect(toErrorResponse(refused, { bodyLimitBytes: 1 })).toMatchObject({
      status: 503,
      retryAfterSeconds: expect.any(Number) as number,
    });
    // Another tenant is sealed while org-capped's look-up is still held (the bound is per tenant, not global).
    const otherTenant = await Promise.race([
      seal('org-other', 'OTHER-0'),
      new Promise<'blocked'>((resolve) => setTimeout(() => resolve('blocked'), 10_000).unref()),
    ]);
    expect(otherTenant).not.toBe('blocked');
    release();
    for (const record of await Promise.all([first, ...queued])) expect(record.value.body).toBe('');
    // Once the queue drained, the tenant is served again.
    expect((await seal('org-capped', 'CAP-5')).value.body).toBe('');
  });
  it('key store down: a cached chat is sealed while the look-ups of new chats hang in their per-scope fallback', async () => {
    const tenant = 'org-outage';
    await vault.keysFor(tenant, ['CACHED-1'], { create: true }); // in the vault's cache now
    let release!: () => void;
    const hang = new Promise<void>((resolve) => (release = resolve));
    // The store is down for chats the cache does not hold: a look-up of several fails at once, a per-scope one
    // hangs (a connect timeout) until the test releases it; cached chats are answered from the vault's cache.
    const down: DataKeyStore = {
      keysFor: async (t, scopes, options) => {
        if (!scopes.some((scope) => scope.startsWith('NEW-'))) return vault.keysFor(t, scopes, options);
        if (scopes.length === 1) await hang;
        throw new PrivacyError('PRIVACY_KEY_UNAVAILABLE', 'key store: connection timeout');
      },
    };
    const sealer = new VaultRawBodySealer({ keys: down });
    const seal = (chatId: string) => sealer.seal(rawRecordOf(tenant, chatId), personalBody(chatId));
    const newChats = [seal('NEW-1'), seal('NEW-2')]; // one look-up: fails, then each scope alone hangs
    await nextTurn();
    await nextTurn();
    const cached = await Promise.race([
      seal('CACHED-1'),
      new Promise<'blocked'>((resolve) => setTimeout(() => resolve('blocked'), 10_000).unref()),
    ]);
    expect(cached).not.toBe('blocked');
    expect((cached as KeyedRawRecord).value.body).toBe('');
    release();
    for (const outcome of await Promise.allSettled(newChats)) {
      expect(outcome.status).toBe('rejected');
      expect((outcome as PromiseRejectedResult).reason).toMatchObject({
        code: 'INGEST_PRIVACY_KEY_UNAVAILABLE',
      });
    }
  });

  it('the bodies waiting for keys, all tenants together, are bounded: beyond it 503 at once, and room again once they are sealed', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const slow: DataKeyStore = {
      keysFor: async (tenant, scopes, options) => {
        await gate;
        return vault.keysFor(tenant, scopes, options);
      },
    };
    const bodyBytes = rawRecordOf('org-b0', 'BYTES-0').value.body.length;
    // Room for three bodies in all; each tenant's own cap is far away.
    const sealer = new VaultRawBodySealer({ keys: slow, maxQueuedBytes: 3 * bodyBytes + 10 });
    const seal = (tenant: string, chatId: string) =>
      sealer.seal(rawRecordOf(tenant, chatId), personalBody(chatId));
    const held = [seal('org-b0', 'BYTES-0'), seal('org-b1', 'BYTES-1'), seal('org-b2', 'BYTES-2')];
    await expect(seal('org-b3', 'BYTES-3')).rejects.toMatchObject({
      code: 'INGEST_PRIVACY_KEY_UNAVAILABLE',
      status: 503,
    });
    release();
    for (const record of await Promise.all(held)) expect(record.value.body).toBe('');
    expect((await seal('org-b3', 'BYTES-3')).value.body).toBe('');
  });
});
