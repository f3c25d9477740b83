/**
 * Benchmark (not a test): sealing webhooks of distinct new chats of one tenant, arriving at a paced rate, against
 * the real key store (a fresh Postgres schema per run, so every chat is new: three round trips per look-up), with
 * the ingest's key-store pool size. Prints the seal time per webhook (from its arrival to its sealed record:
 * p50, p99, max) and the key look-ups made.
 *
 *   DATABASE_URL=postgres://… pnpm --filter @livechat-pipeline/ingest exec tsx bench/seal-burst.ts
 *
 * Env: SEAL_BURST_RATE (webhooks/s, 1000), SEAL_BURST_SECONDS (10), SEAL_BURST_POOL_SIZE (2, the default of
 * INGEST_PRIVACY_POOL_SIZE), SEAL_BURST_IN_FLIGHT: look-ups per tenant at once (1, the sealer's default), or
 * `unbounded` with no queue cap either: the sealer before coalescing (a look-up per tenant every event-loop turn).
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { PrivacyVault, migratePrivacy, parsePrivacyConfig } from '@livechat-pipeline/privacy';
import pg from 'pg';
import { VaultRawBodySealer } from '../src/privacy/raw-body-sealer.js';
import type { DataKeyStore } from '../src/privacy/raw-body-sealer.js';
import type { KeyedRawRecord } from '../src/raw-record.js';
import type { JsonObject } from '../src/webhook.js';

const rate = Number(process.env['SEAL_BURST_RATE'] ?? 1000);
const seconds = Number(process.env['SEAL_BURST_SECONDS'] ?? 10);
const poolSize = Number(process.env['SEAL_BURST_POOL_SIZE'] ?? 2);
const inFlightSetting = process.env['SEAL_BURST_IN_FLIGHT'] ?? '1';
const unbounded = inFlightSetting === 'unbounded';
const databaseUrl = process.env['DATABASE_URL'];
if (databaseUrl === undefined) throw new Error('DATABASE_URL must name the Postgres to use');

const schema = `seal_burst_${randomBytes(4).toString('hex')}`;
const config = parsePrivacyConfig({
  PRIVACY_KEYS: `k1:${randomBytes(32).toString('base64')}`,
  PRIVACY_EMAIL_HASH_KEY: randomBytes(32).toString('base64'),
  PRIVACY_SCHEMA: schema,
})!;
const pool = new pg.Pool({ connectionString: databaseUrl, max: poolSize });
await migratePrivacy(pool, { schema });
const vault = new PrivacyVault(pool, config);

let lookUps = 0;
let inFlight = 0;
let maxInFlight = 0;
const store: DataKeyStore = {
  async keysFor(tenant, scopes, options) {
    lookUps += 1;
    inFlight += 1;
    maxInFlight = Math.max(maxInFlight, inFlight);
    try {
      return await vault.keysFor(tenant, scopes, options);
    } finally {
      inFlight -= 1;
    }
  },
};
const sealer = new VaultRawBodySealer({
  keys: store,
  ...(unbounded
    ? { maxLookUpsInFlightPerTenant: Infinity, maxQueuedRecordsPerTenant: Infinity }
    : { maxLookUpsInFlightPerTenant: Number(inFlightSetting) }),
});

function webhook(chatId: string): { record: KeyedRawRecord; body: JsonObject } {
  const body: JsonObject = {
    action: 'incoming_event',
    organization_id: 'org-bench',
    payload: {
      chat_id: chatId,
      thread_id: 'T1',
      event: {
        id: `E-${chatId}`,
        type: 'message',
        text: 'a message of about sixty characters, as chats have',
        author_id: 'c@example.com',
      },
    },
  };
  return {
    body,
    record: {
      key: `org-bench|${chatId}`,
      value: {
        event_id: chatId.padEnd(64, '0'),
        received_at: Date.now() * 1000,
        format: 'v3',
        api_version: '3.6+',
        action: 'incoming_event',
        tenant: 'org-bench',
        tenant_source: 'body',
        chat_id: chatId,
        thread_id: 'T1',
        webhook_id: null,
        body: JSON.stringify(body),
        content_length: null,
        user_agent: null,
        remote_address: null,
      },
    },
  };
}

const total = Math.round(rate * seconds);
const latencies: number[] = [];
let refused = 0;
const sealing: Promise<void>[] = [];
const started = performance.now();
let sent = 0;
// Open loop on a 1 ms tick: every webhook due by now is sealed now, whatever the earlier ones are doing.
while (sent < total) {
  const due = Math.min(total, Math.floor(((performance.now() - started) / 1000) * rate));
  for (; sent < due; sent++) {
    const { record, body } = webhook(`CHAT-${sent}`);
    const at = performance.now();
    sealing.push(
      sealer.seal(record, body).then(
        () => void latencies.push(performance.now() - at),
        () => void (refused += 1),
      ),
    );
  }
  await sleep(1);
}
const sendingS = (performance.now() - started) / 1000;
await Promise.all(sealing);
const allS = (performance.now() - started) / 1000;

latencies.sort((a, b) => a - b);
const pct = (p: number) =>
  latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? NaN;
console.log(
  JSON.stringify({
    sealer: unbounded
      ? 'unbounded (before: a look-up per tenant per turn)'
      : `${inFlightSetting} look-up(s) in flight per tenant`,
    rate,
    seconds,
    poolSize,
    webhooks: total,
    sealed: latencies.length,
    refused,
    lookUps,
    webhooksPerLookUp: Number((total / lookUps).toFixed(1)),
    maxLookUpsInFlight: maxInFlight,
    sealMs: {
      p50: Number(pct(50).toFixed(1)),
      p99: Number(pct(99).toFixed(1)),
      max: Number(pct(100).toFixed(1)),
    },
    sendingS: Number(sendingS.toFixed(2)),
    untilAllSealedS: Number(allS.toFixed(2)),
  }),
);

await pool.query(`drop schema ${schema} cascade`);
await pool.end();
