import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openRawBody } from '@livechat-pipeline/events';
import { ENVELOPE_OVERHEAD, PrivacyVault, parsePrivacyConfig } from '@livechat-pipeline/privacy';
import { createTestDatabase, uniqueName, waitFor } from '@livechat-pipeline/testkit';
import type { TestDatabase } from '@livechat-pipeline/testkit';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { VaultRawBodySealer } from '../src/privacy/raw-body-sealer.js';
import type { DataKeyStore } from '../src/privacy/raw-body-sealer.js';
import type { KeyedRawRecord } from '../src/raw-record.js';
import { fixture, redacted } from './support/fixtures.js';
import type { JsonBody } from './support/fixtures.js';
import { postWebhook, readRawRecords, startTestIngest, topicRecordCount } from './support/harness.js';
import type { DecodedRecord, TestIngest } from './support/harness.js';

/**
 * A TCP relay to Postgres that the test can cut: `close()` refuses new connections (the port is closed) and drops
 * the open ones, as a Postgres outage does; `hang()` drops them and accepts new ones that never answer (a Postgres
 * that hangs); `open()` relays again, on the same port.
 */
class CuttableRelay {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private hanging = false;
  port = 0;

  constructor(private readonly target: { host: string; port: number }) {}

  async open(): Promise<void> {
    if (this.hanging) for (const s of this.sockets) s.destroy(); // the hung connections fail; new ones relay
    this.hanging = false;
    if (this.server !== undefined) return;
    const server = createServer((client) => {
      this.track(client);
      if (this.hanging) return; // accepted, never answered
      const upstream = connect(this.target.port, this.target.host);
      this.track(upstream);
      client.pipe(upstream).pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  /** Open connections stop relaying (queries sent on them are never answered), new ones are never answered. */
  hang(): void {
    this.hanging = true;
    for (const s of this.sockets) {
      s.unpipe();
      s.pause();
    }
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    this.hanging = false;
    for (const s of this.sockets) s.destroy();
    if (server !== undefined) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private track(socket: Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => undefined);
  }
}

const TENANT = 'org-privacy-test';
/** A value that must never be readable outside the process: only inside a sealed envelope. */
const CANARY = `canary-${randomBytes(6).toString('hex')}`;

function personalWebhook(chatId: string, eventId: string, text = `hello from ${CANARY}`): JsonBody {
  return {
    action: 'incoming_event',
    secret_key: 'fixture-v3-secret',
    organization_id: TENANT,
    payload: {
      chat_id: chatId,
      thread_id: 'T1',
      event: {
        id: eventId,
        type: 'message',
        text,
        author_id: 'customer@example.com',
        created_at: '2026-11-29T09:00:00.000000Z',
      },
    },
  };
}

/** Every byte of every file under `dir`. */
function bytesUnder(dir: string): Buffer {
  const parts: Buffer[] = [];
  for (const name of readdirSync(dir, { recursive: true }) as string[]) {
    const file = join(dir, name);
    if (statSync(file).isFile()) parts.push(readFileSync(file));
  }
  return Buffer.concat(parts);
}

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function metricValue(text: string, line: string): number {
  const match = text.split('\n').find((l) => l.startsWith(`${line} `));
  return match === undefined ? 0 : Number(match.slice(line.length + 1));
}

/** A raw record as the ingest builds it for a personal webhook of `chatId`. */
function rawRecordOf(tenant: string, chatId: string, eventId = chatId): KeyedRawRecord {
  return {
    key: `${tenant}|${chatId}`,
    value: {
      event_id: eventId.padEnd(64, '0'),
      received_at: 1_795_000_000_000_000,
      format: 'v3',
      api_version: '3.6+',
      action: 'incoming_event',
      tenant,
      tenant_source: 'body',
      chat_id: chatId,
      thread_id: 'T1',
      webhook_id: null,
      body: JSON.stringify(personalWebhook(chatId, eventId)),
      content_length: null,
      user_agent: null,
      remote_address: null,
    },
  };
}

describe('privacy on: raw bodies sealed before Kafka and the spool', () => {
  let db: TestDatabase;
  let relay: CuttableRelay;
  let ingest: TestIngest | undefined;
  let vaultPool: pg.Pool;
  let vault: PrivacyVault;
  const spoolDir = mkdtempSync(join(tmpdir(), 'ingest-privacy-spool-'));
  const topic = uniqueName('ingest-raw-privacy');
  const keys = {
    PRIVACY_KEYS: `k1:${randomBytes(32).toString('base64')}`,
    PRIVACY_EMAIL_HASH_KEY: randomBytes(32).toString('base64'),
  };
  let privacyEnv: Record<string, string>;

  /** Opens a sealed record with a vault of its own on the same key store (as the normalizer will). */
  async function open(record: DecodedRecord): Promise<{ body: string } | { erased: true }> {
    const scope = record.value.sealed?.key_scope;
    if (scope === undefined) throw new Error('record is not sealed');
    const states = await vault.keysFor(TENANT, [scope], { create: false });
    return openRawBody(record.value, states.get(scope));
  }

  /** The record of an event id answered 200 (acks=-1: it is below the high watermark already). */
  async function recordOf(eventId: string): Promise<DecodedRecord> {
    const records = await readRawRecords(topic, await topicRecordCount(topic));
    const mine = records.find((r) => r.value.event_id === eventId);
    if (mine === undefined) throw new Error(`record ${eventId} not on the topic`);
    return mine;
  }

  async function sealFailures(): Promise<number> {
    const metrics = await (await fetch(`${ingest!.operationsUrl}/metrics`)).text();
    return metricValue(metrics, 'ingest_privacy_seal_failures_total{code="PRIVACY_KEY_UNAVAILABLE"}');
  }

  async function sealLookUps(): Promise<number> {
    const metrics = await (await fetch(`${ingest!.operationsUrl}/metrics`)).text();
    return metricValue(metrics, 'ingest_privacy_seal_seconds_count');
  }

  /** The key store's URL through the relay (what the ingest uses). */
  function relayedUrl(): string {
    return privacyEnv['PRIVACY_DATABASE_URL'] ?? '';
  }

  beforeAll(async () => {
    db = await createTestDatabase('ingest_privacy');
    const url = new URL(db.url);
    relay = new CuttableRelay({ host: url.hostname, port: Number(url.port) });
    await relay.open();
    url.hostname = '127.0.0.1';
    url.port = String(relay.port);
    // Default timings (request deadline, spool-after): a loaded CI machine must not turn a slow Kafka ack into
    // a spooled record or a 503. Only the hang test runs an ingest of its own with other timings.
    privacyEnv = { ...keys, PRIVACY_DATABASE_URL: url.toString() };
    ingest = await startTestIngest({
      RAW_WEBHOOK_TOPIC: topic,
      INGEST_SPOOL_DIR: spoolDir,
      INGEST_READINESS_CACHE_MS: '0',
      ...privacyEnv,
    });
    vaultPool = new pg.Pool({ connectionString: db.url, max: 2 });
    vault = new PrivacyVault(vaultPool, parsePrivacyConfig(keys)!);
  });
  // Every test starts with the key store reachable, whatever an earlier (failed) one left.
  afterEach(async () => {
    await relay.open();
  });
  afterAll(async () => {
    await ingest?.close();
    await relay?.close();
    await vaultPool?.end();
    await db?.drop();
    rmSync(spoolDir, { recursive: true, force: true });
  });

  it('a personal webhook lands with body "" and an envelope that opens to the redacted body', async () => {
    const body = personalWebhook('CHAT-SEALED', 'E1');
    const res = await postWebhook(ingest!, body);
    expect(res.statusCode, res.body).toBe(200);
    const eventId = res.json<{ event_id: string }>().event_id;

    const record = await recordOf(eventId);
    expect(record.value.body).toBe('');
    expect(record.value.chat_id).toBe('CHAT-SEALED');
    expect(record.value.sealed).toMatchObject({ key_scope: 'CHAT-SEALED', key_version: 1 });
    expect(record.raw.includes(CANARY)).toBe(false);
    expect(await open(record)).toEqual({ body: JSON.stringify(redacted(body)) });

    // A configuration webhook carries nothing personal: stored as before, not sealed.
    const routing = fixture('v3.6-routing_status_set');
    const plain = await postWebhook(ingest!, routing);
    expect(plain.statusCode, plain.body).toBe(200);
    const plainRecord = await recordOf(plain.json<{ event_id: string }>().event_id);
    expect(JSON.parse(plainRecord.value.body)).toEqual(redacted(routing));
    expect(plainRecord.value.sealed ?? null).toBeNull();

    const metrics = await (await fetch(`${ingest!.operationsUrl}/metrics`)).text();
    expect(metricValue(metrics, 'ingest_privacy_seal_seconds_count')).toBeGreaterThanOrEqual(1);
  });

  it('an id that would key the encryption but is longer than the key store takes: sealed under raw:<event id>', async () => {
    // packages/events' boundedKeyScope: a sender-chosen id of any length still gets a key the store can hold.
    const res = await postWebhook(ingest!, {
      action: 'incoming_customer',
      secret_key: 'fixture-v3-secret',
      organization_id: TENANT,
      payload: { customer: { id: 'c'.repeat(300), name: CANARY } },
    });
    expect(res.statusCode, res.body).toBe(200);
    const eventId = res.json<{ event_id: string }>().event_id;
    const record = await recordOf(eventId);
    expect(record.value.sealed?.key_scope).toBe(`raw:${eventId}`);
    expect(record.raw.includes(CANARY)).toBe(false);
    expect(await open(record)).toMatchObject({ body: expect.stringContaining(CANARY) });
  });

  it('an id Postgres text cannot hold (NUL, lone surrogate) is 422 INGEST_INVALID_ID, stored nowhere', async () => {
    const before = await topicRecordCount(topic);
    const nul = await postWebhook(ingest!, personalWebhook('CHAT\u0000NUL', 'E-NUL'));
    expect(nul.statusCode, nul.body).toBe(422);
    expect(nul.json()).toMatchObject({ code: 'INGEST_INVALID_ID' });
    const surrogate = await postWebhook(ingest!, {
      action: 'incoming_customer',
      secret_key: 'fixture-v3-secret',
      organization_id: TENANT,
      payload: { customer: { id: 'cust-\ud800', name: CANARY } },
    });
    expect(surrogate.statusCode, surrogate.body).toBe(422);
    expect(surrogate.json()).toMatchObject({ code: 'INGEST_INVALID_ID' });
    expect(await topicRecordCount(topic)).toBe(before);
  });

  it('a poison id or a corrupt key row fails only its own webhook of the turn, never its neighbours', async () => {
    // A vault of its own (nothing cached), the real key store.
    const sealer = new VaultRawBodySealer({ keys: new PrivacyVault(vaultPool, parsePrivacyConfig(keys)!) });
    await vault.keysFor(TENANT, ['CHAT-CORRUPT'], { create: true });
    await vaultPool.query(
      `update privacy.chat_keys set wrapped_key = '\\x00'::bytea where tenant_id = $1 and chat_id = $2`,
      [TENANT, 'CHAT-CORRUPT'],
    );
    const results = await Promise.allSettled(
      ['CHAT\u0000POISON', 'CHAT-CORRUPT', 'CHAT-NEIGHBOUR'].map((chat) =>
        sealer.seal(rawRecordOf(TENANT, chat), personalWebhook(chat, chat)),
      ),
    );
    expect(results[0]).toMatchObject({
      status: 'rejected',
      reason: { code: 'INGEST_INVALID_ID', status: 422 },
    });
    // A corrupt wrapped key is final (no retry mends it), and it is not its neighbour's failure.
    expect(results[1]).toMatchObject({
      status: 'rejected',
      reason: { code: 'INGEST_PRIVACY_KEY_INVALID', status: 500, retryable: false },
    });
    expect(results[2]).toMatchObject({ status: 'fulfilled', value: { value: { body: '' } } });
  });

  it('webhooks of one event-loop turn share one key look-up per tenant', async () => {
    const lookUps: { tenant: string; scopes: readonly string[] }[] = [];
    // The real vault, counted.
    const counted: DataKeyStore = {
      keysFor: (tenant, scopes, options) => {
        lookUps.push({ tenant, scopes });
        return vault.keysFor(tenant, scopes, options);
      },
    };
    const sealer = new VaultRawBodySealer({ keys: counted });
    const tenants = ['org-batch-a', 'org-batch-b'];
    const inputs = Array.from({ length: 20 }, (_, i) => {
      const tenant = tenants[i % 2] ?? '';
      const body = { ...personalWebhook(`BATCH-${i % 5}`, `B${i}`), organization_id: tenant };
      const record: KeyedRawRecord = {
        key: `${tenant}|BATCH-${i % 5}`,
        value: {
          event_id: `batch-${i}`.padEnd(64, '0'),
          received_at: 1_795_000_000_000_000,
          format: 'v3',
          api_version: '3.6+',
          action: 'incoming_event',
          tenant,
          tenant_source: 'body',
          chat_id: `BATCH-${i % 5}`,
          thread_id: 'T1',
          webhook_id: null,
          body: JSON.stringify(body),
          content_length: null,
          user_agent: null,
          remote_address: null,
        },
      };
      return { record, body };
    });
    const sealed = await Promise.all(inputs.map((x) => sealer.seal(x.record, x.body)));
    expect(lookUps.map((l) => l.tenant).sort()).toEqual(tenants);
    for (const l of lookUps) expect(new Set(l.scopes).size).toBe(5);
    for (const [i, s] of sealed.entries()) {
      expect(s.value.body).toBe('');
      const scope = s.value.sealed?.key_scope ?? '';
      const states = await vault.keysFor(s.value.tenant ?? '', [scope], { create: false });
      expect(openRawBody(s.value, states.get(scope))).toEqual({ body: inputs[i]?.record.value.body });
    }
  });

  it('a burst of concurrent webhooks is sealed in far fewer key look-ups than webhooks', async () => {
    const metricsNow = async () =>
      metricValue(
        await (await fetch(`${ingest!.operationsUrl}/metrics`)).text(),
        'ingest_privacy_seal_seconds_count',
      );
    const before = await metricsNow();
    const responses = await Promise.all(
      Array.from({ length: 30 }, (_, i) => postWebhook(ingest!, personalWebhook(`BURST-${i}`, `BURST-${i}`))),
    );
    for (const res of responses) expect(res.statusCode, res.body).toBe(200);
    const lookUps = (await metricsNow()) - before;
    expect(lookUps).toBeGreaterThanOrEqual(1);
    expect(lookUps).toBeLessThanOrEqual(10);
  });

  it('a chat erased before its webhook: 200, the record keeps its ids without a body, and no key is made', async () => {
    await vault.eraseChats(TENANT, ['CHAT-ERASED'], { actor: 'ingest-test' });
    const res = await postWebhook(ingest!, personalWebhook('CHAT-ERASED', 'E2'));
    expect(res.statusCode, res.body).toBe(200);
    const record = await recordOf(res.json<{ event_id: string }>().event_id);
    expect(record.value.body).toBe('');
    expect(record.value.chat_id).toBe('CHAT-ERASED');
    expect(record.value.sealed).toMatchObject({ key_scope: 'CHAT-ERASED', envelope: null });
    expect(record.raw.includes(CANARY)).toBe(false);
    expect(await open(record)).toEqual({ erased: true });
    const rows = await vaultPool.query<{ live: string; total: string }>(
      `select count(*) filter (where erased_at is null) as live, count(*) as total from privacy.chat_keys
        where tenant_id = $1 and chat_id = $2`,
      [TENANT, 'CHAT-ERASED'],
    );
    expect(rows.rows[0]).toEqual({ live: '0', total: '1' });
  });

  it('the size check counts the sealed record: a body whose plain record just fits is 413 once sealed', async () => {
    // The same settings without privacy, on a topic of its own: how large the plain record of a body is.
    const plainIngest = await startTestIngest();
    try {
      const max = ingest!.runtime.maxRecordBytes;
      expect(plainIngest.runtime.maxRecordBytes).toBe(max);
      // Numbers written 9e20 take 22 bytes each once re-serialised (900000000000000000000,), 5 in the request.
      const sized = (numbers: number, pad: number): string =>
        JSON.stringify({
          ...personalWebhook('CHAT-LARGE', 'E-LARGE'),
          pad: 'p'.repeat(pad),
          n: ['__N__'],
        }).replace('"__N__"', Array.from({ length: numbers }, () => '9e20').join(','));
      const post = (target: TestIngest, payload: string) =>
        target.app.inject({
          method: 'POST',
          url: '/webhooks/livechat',
          headers: { 'content-type': 'application/json' },
          payload,
        });
      const sizeOn = async (payload: string): Promise<number> => {
        const res = await post(plainIngest, payload);
        expect(res.statusCode, res.body).toBe(200);
        const id = res.json<{ event_id: string }>().event_id;
        const records = await readRawRecords(plainIngest.topic, await topicRecordCount(plainIngest.topic));
        const r = records.filter((x) => x.value.event_id === id).at(-1)!; // the same event id each time
        return Buffer.byteLength(r.key) + r.raw.length;
      };
      const numbers = Math.floor((max - 4096) / 22);
      const first = await sizeOn(sized(numbers, 0));
      // Padded so that the plain record is 8 bytes under the limit; sealed it grows by the envelope's overhead.
      const pad = max - 8 - first;
      expect(pad).toBeGreaterThan(0);
      const payload = sized(numbers, pad);
      expect(await sizeOn(payload)).toBe(max - 8);

      const before = await topicRecordCount(topic);
      const res = await post(ingest!, payload);
      expect(res.statusCode, res.body).toBe(413);
      expect(res.json()).toMatchObject({ code: 'INGEST_RECORD_TOO_LARGE' });
      const sealedBytes = Number(
        /\((\d+) bytes after redaction/.exec(res.json<{ message: string }>().message)?.[1],
      );
      expect(sealedBytes).toBeGreaterThan(max - 8 + ENVELOPE_OVERHEAD);
      expect(await topicRecordCount(topic)).toBe(before);
    } finally {
      await plainIngest.close();
    }
  });

  it('key store unreachable: 503 INGEST_PRIVACY_KEY_UNAVAILABLE with Retry-After, nothing written; other webhooks still served; back once it is', async () => {
    // This test's own cached chat (the key cache is the process's; no earlier test is relied on).
    const warm = await postWebhook(ingest!, personalWebhook('CHAT-CACHED', 'E-WARM'));
    expect(warm.statusCode, warm.body).toBe(200);
    const failuresBefore = await sealFailures();
    const lookUpsBefore = await sealLookUps();
    const before = await topicRecordCount(topic);
    await relay.close();
    const refused = await postWebhook(ingest!, personalWebhook('CHAT-NEW-DURING-OUTAGE', 'E3'));
    expect(refused.statusCode, refused.body).toBe(503);
    expect(refused.headers['retry-after']).toBeDefined();
    expect(refused.json()).toMatchObject({ code: 'INGEST_PRIVACY_KEY_UNAVAILABLE' });

    // The process keeps serving: a chat whose key is cached, and a webhook with nothing personal.
    const cached = await postWebhook(ingest!, personalWebhook('CHAT-CACHED', 'E4'));
    expect(cached.statusCode, cached.body).toBe(200);
    const routing = await postWebhook(ingest!, {
      ...fixture('v3.6-routing_status_set'),
      payload: { agent_id: 'jones@example.com', status: 'accepting_chats' },
    });
    expect(routing.statusCode, routing.body).toBe(200);
    // Exactly the two answered 200 (acks=-1: the high watermark moved before the answer).
    expect(await topicRecordCount(topic)).toBe(before + 2);
    expect(ingest!.runtime.spooling?.mode).toBe('direct');
    expect(bytesUnder(spoolDir).includes(CANARY)).toBe(false);
    expect((await sealFailures()) - failuresBefore).toBe(1);
    // The failed look-up is timed too (a store that is slow, then fails, shows in the histogram).
    expect(await sealLookUps()).toBeGreaterThan(lookUpsBefore);
    expect(ingest!.logs.join('').includes(CANARY)).toBe(false);

    await relay.open();
    const again = await waitFor(async () => {
      const res = await postWebhook(ingest!, personalWebhook('CHAT-NEW-DURING-OUTAGE', 'E3'));
      return res.statusCode === 200 ? res : undefined;
    });
    const record = await recordOf(again.json<{ event_id: string }>().event_id);
    expect(record.value.body).toBe('');
    expect(await open(record)).toMatchObject({ body: expect.stringContaining(CANARY) });
  });

  it('cached and new chats in one turn during an outage: the cached one is sealed, only the new one fails', async () => {
    const pool = new pg.Pool({ connectionString: relayedUrl(), max: 2, connectionTimeoutMillis: 30_000 });
    try {
      const sealer = new VaultRawBodySealer({ keys: new PrivacyVault(pool, parsePrivacyConfig(keys)!) });
      await sealer.seal(rawRecordOf(TENANT, 'CHAT-WARM-TURN'), personalWebhook('CHAT-WARM-TURN', 'W1'));
      await relay.close();
      // One turn: one look-up for both scopes, which fails (the new one misses the cache).
      const [cached, fresh] = await Promise.allSettled([
        sealer.seal(rawRecordOf(TENANT, 'CHAT-WARM-TURN', 'W2'), personalWebhook('CHAT-WARM-TURN', 'W2')),
        sealer.seal(rawRecordOf(TENANT, 'CHAT-COLD-TURN'), personalWebhook('CHAT-COLD-TURN', 'C1')),
      ]);
      expect(cached).toMatchObject({ status: 'fulfilled', value: { value: { body: '' } } });
      expect(fresh).toMatchObject({
        status: 'rejected',
        reason: { code: 'INGEST_PRIVACY_KEY_UNAVAILABLE', status: 503 },
      });
    } finally {
      await relay.open();
      await pool.end();
    }
  });

  it('key store hanging: 503 INGEST_PRIVACY_KEY_UNAVAILABLE at the request deadline, nothing written', async () => {
    // An ingest of its own: a short request deadline, and connect/query timeouts far beyond it, so the 503 can
    // only come from the deadline (no margin against a timeout on a loaded machine).
    const hung = await startTestIngest({
      RAW_WEBHOOK_TOPIC: topic,
      ...privacyEnv,
      INGEST_REQUEST_DEADLINE_MS: '2000',
      INGEST_PG_CONNECT_TIMEOUT_MS: '60000',
      INGEST_PRIVACY_QUERY_TIMEOUT_MS: '60000',
    });
    try {
      const before = await topicRecordCount(topic);
      relay.hang();
      const started = performance.now();
      const res = await postWebhook(hung, personalWebhook('CHAT-NEW-DURING-HANG', 'E7'));
      expect(res.statusCode, res.body).toBe(503);
      expect(res.headers['retry-after']).toBeDefined();
      expect(res.json()).toMatchObject({ code: 'INGEST_PRIVACY_KEY_UNAVAILABLE' });
      expect(performance.now() - started).toBeLessThan(30_000); // the timeouts are 60 s
      // Counted although the key store has not failed (yet): the alert signal sees a slow store too.
      const metrics = await (await fetch(`${hung.operationsUrl}/metrics`)).text();
      expect(metricValue(metrics, 'ingest_privacy_seal_failures_total{code="DEADLINE_EXCEEDED"}')).toBe(1);
      expect(await topicRecordCount(topic)).toBe(before);
    } finally {
      await relay.open(); // the hung connections fail, so the ingest closes at once
      await hung.close();
    }
  });

  it("the start-up migration is not bound by the look-ups' query timeout (it waits for another starter's lock)", async () => {
    const holder = await vaultPool.connect();
    let starting: Promise<TestIngest> | undefined;
    try {
      // Another starter migrating: it holds the schema's migration lock.
      await holder.query('select pg_advisory_lock(hashtext($1))', ['privacy:privacy']);
      starting = startTestIngest({
        RAW_WEBHOOK_TOPIC: topic,
        ...privacyEnv,
        INGEST_PRIVACY_QUERY_TIMEOUT_MS: '100',
      });
      starting.catch(() => undefined); // awaited below
      // The new ingest waits for the lock, for a whole second (ten times its query timeout)...
      await waitFor(async () => {
        const waiting = await vaultPool.query(
          `select 1 from pg_stat_activity
            where datname = current_database() and wait_event_type = 'Lock' and wait_event = 'advisory'
              and now() - query_start > interval '1 second'`,
        );
        return waiting.rowCount! > 0 ? true : undefined;
      });
      await holder.query('select pg_advisory_unlock(hashtext($1))', ['privacy:privacy']);
      // ...and starts once it is free.
      const started = await starting;
      try {
        const res = await postWebhook(started, personalWebhook('CHAT-AFTER-LOCK', 'L1'));
        expect(res.statusCode, res.body).toBe(200);
      } finally {
        await started.close();
      }
    } finally {
      await holder.query('select pg_advisory_unlock_all()');
      holder.release();
    }
  });

  it('Kafka down: the spool holds ciphertext only, a key-store outage is not spooled, and the drained record opens', async () => {
    // A spool directory and ingests of its own (one process per spool directory); the shared ingest stays.
    const dir = mkdtempSync(join(tmpdir(), 'ingest-privacy-spool-kafka-down-'));
    const spoolEnv = { RAW_WEBHOOK_TOPIC: topic, INGEST_SPOOL_DIR: dir, ...privacyEnv };
    let own: TestIngest | undefined;
    try {
      // Kafka up once, so that the directory knows its topic; then Kafka unreachable (a closed port): the
      // ingest starts spooling.
      own = await startTestIngest(spoolEnv);
      await own.close();
      own = undefined;
      own = await startTestIngest({ ...spoolEnv, KAFKA_BROKERS: `127.0.0.1:${await closedPort()}` });
      expect(own.runtime.spooling?.mode).toBe('spooling');
      const spooledBody = personalWebhook('CHAT-SPOOLED', 'E5');
      const spooled = await postWebhook(own, spooledBody);
      expect(spooled.statusCode, spooled.body).toBe(200);
      const bytes = bytesUnder(dir);
      expect(bytes.includes('CHAT-SPOOLED')).toBe(true); // the right files: the record's clear ids are there
      expect(bytes.includes(CANARY)).toBe(false);

      await relay.close();
      const refused = await postWebhook(own, personalWebhook('CHAT-NOT-SPOOLED', 'E6'));
      expect(refused.statusCode, refused.body).toBe(503);
      expect(refused.json()).toMatchObject({ code: 'INGEST_PRIVACY_KEY_UNAVAILABLE' });
      expect(bytesUnder(dir).includes('CHAT-NOT-SPOOLED')).toBe(false);
      await relay.open();

      // Kafka back: the spool drains the sealed record as it was spooled.
      await own.close();
      own = undefined;
      own = await startTestIngest(spoolEnv);
      const eventId = spooled.json<{ event_id: string }>().event_id;
      const all = await waitFor(async () => {
        const n = await topicRecordCount(topic);
        const records = n === 0 ? [] : await readRawRecords(topic, n);
        return records.some((r) => r.value.event_id === eventId) ? records : undefined;
      });
      const record = all.find((r) => r.value.event_id === eventId)!;
      expect(record.value.spooled_at).not.toBeNull();
      expect(record.value.body).toBe('');
      expect(await open(record)).toEqual({ body: JSON.stringify(redacted(spooledBody)) });
      expect(all.some((r) => r.value.chat_id === 'CHAT-NOT-SPOOLED')).toBe(false);
    } finally {
      await own?.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
