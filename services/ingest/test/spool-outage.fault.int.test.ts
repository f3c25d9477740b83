import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startKafka, stopKafka, waitFor } from '@livechat-pipeline/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture } from './support/fixtures.js';
import { postWebhook, readRawRecords, startTestIngest, topicRecordCount } from './support/harness.js';
import type { DecodedRecord, TestIngest } from './support/harness.js';

// Stops the stack's broker (a fault test: its own file, run alone) and starts it again before it ends.
const DEADLINE_MS = 3000;
const SPOOL_AFTER_MS = 400;
const CHATS = 4;
const PER_CHAT = 12;
const SMALL_BODY_LIMIT = 8192;
/** The least INGEST_SPOOL_MAX_BYTES allows with that body limit: room for a few dozen of the fixture's records. */
const SMALL_SPOOL_BYTES = SMALL_BODY_LIMIT + 64 * 1024;

const body = (chat: number, i: number) => {
  const f = fixture('v3.6-incoming_event-file') as {
    organization_id: string;
    payload: { chat_id: string; event: Record<string, unknown> };
  };
  return {
    ...f,
    payload: {
      ...f.payload,
      chat_id: `SPOOL-CHAT-${chat}`,
      event: { ...f.payload.event, id: `spool-${chat}-${i}` },
    },
  };
};

/** Each key's event ids in topic order, first occurrences only (consumers dedup on event_id). */
function firstOccurrencesByKey(records: readonly DecodedRecord[]): Map<string, string[]> {
  const seen = new Set<string>();
  const byKey = new Map<string, string[]>();
  for (const r of records) {
    if (seen.has(r.value.event_id)) continue;
    seen.add(r.value.event_id);
    byKey.set(r.key, [...(byKey.get(r.key) ?? []), r.value.event_id]);
  }
  return byKey;
}

describe('Kafka outage with the spool on', () => {
  let ingest: TestIngest;
  /** A second ingest with a spool that fills after a few dozen webhooks. */
  let small: TestIngest;
  let brokerStopped = false;
  const dir = mkdtempSync(join(tmpdir(), 'ingest-spool-'));
  const smallDir = mkdtempSync(join(tmpdir(), 'ingest-spool-small-'));
  const common = {
    INGEST_REQUEST_DEADLINE_MS: String(DEADLINE_MS),
    INGEST_SPOOL_AFTER_MS: String(SPOOL_AFTER_MS),
    INGEST_READINESS_CACHE_MS: '0',
    INGEST_SPOOL_SEGMENT_BYTES: String(16 * 1024), // several segments, so deletion as they drain is exercised
  };
  beforeAll(async () => {
    ingest = await startTestIngest({
      ...common,
      INGEST_SPOOL_DIR: dir,
    });
    small = await startTestIngest({
      ...common,
      INGEST_SPOOL_DIR: smallDir,
      INGEST_BODY_LIMIT_BYTES: String(SMALL_BODY_LIMIT),
      INGEST_SPOOL_MAX_BYTES: String(SMALL_SPOOL_BYTES),
    });
  });
  afterAll(async () => {
    if (brokerStopped) await startKafka();
    await ingest?.close();
    await small?.close();
    rmSync(dir, { recursive: true, force: true });
    rmSync(smallDir, { recursive: true, force: true });
  });

  it('answers 200 within the deadline while the broker is down, then every acknowledged webhook reaches the topic in order per chat', async () => {
    const acked = new Map<string, string[]>(); // key -> event ids in the order they were answered 200
    const keyOf = (chat: number) => `${body(chat, 0).organization_id}|SPOOL-CHAT-${chat}`;
    const send = async (chat: number, i: number) => {
      const res = await postWebhook(ingest, body(chat, i));
      expect(res.statusCode, res.body).toBe(200);
      acked.set(keyOf(chat), [...(acked.get(keyOf(chat)) ?? []), res.json<{ event_id: string }>().event_id]);
      return res;
    };

    for (let chat = 0; chat < CHATS; chat++) await send(chat, 0); // direct
    expect(ingest.runtime.spooling?.mode).toBe('direct');

    await stopKafka();
    brokerStopped = true;

    // Each chat's webhooks one after another (as LiveChat sends a chat's events), the chats concurrently.
    let slowest = 0;
    await Promise.all(
      Array.from({ length: CHATS }, async (_, chat) => {
        for (let i = 1; i <= PER_CHAT; i++) {
          const started = performance.now();
          await send(chat, i);
          slowest = Math.max(slowest, performance.now() - started);
        }
      }),
    );
    expect(slowest).toBeLessThan(DEADLINE_MS);
    expect(ingest.runtime.spooling?.mode).toBe('spooling');

    const ready = await fetch(`${ingest.operationsUrl}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ ok: true, status: 'degraded: spooling' });
    const metrics = await (await fetch(`${ingest.operationsUrl}/metrics`)).text();
    expect(metrics).toMatch(/^ingest_spool_active 1$/m);
    expect(Number(/^ingest_spool_records (\d+)$/m.exec(metrics)?.[1])).toBe(CHATS * PER_CHAT);
    expect(Number(/^ingest_spool_high_water_records (\d+)$/m.exec(metrics)?.[1])).toBe(CHATS * PER_CHAT);
    expect(Number(/^ingest_spool_oldest_record_age_seconds (\S+)$/m.exec(metrics)?.[1])).toBeGreaterThan(0);
    expect(ingest.logs.some((l) => l.includes('spooling started'))).toBe(true);

    // The full spool: 503 INGEST_SPOOL_FULL with Retry-After, and nothing of the refused webhooks kept.
    const smallAcked: string[] = [];
    let refused;
    for (let i = 0; i < 200 && refused === undefined; i++) {
      const res = await postWebhook(small, body(9, i));
      if (res.statusCode === 200) smallAcked.push(res.json<{ event_id: string }>().event_id);
      else refused = res;
    }
    expect(refused?.statusCode).toBe(503);
    expect(refused?.headers['retry-after']).toBe('5');
    expect(refused?.json()).toMatchObject({ code: 'INGEST_SPOOL_FULL' });
    expect(smallAcked.length).toBeGreaterThan(10);
    const again = await postWebhook(small, body(9, 1000));
    expect(again.statusCode).toBe(503);
    const smallReady = await fetch(`${small.operationsUrl}/readyz`);
    expect(smallReady.status).toBe(503);
    expect(await smallReady.json()).toMatchObject({
      ok: false,
      checks: expect.arrayContaining([{ name: 'spool', ok: false }]),
    });

    // A graceful stop while spooling (SIGTERM's path) is quick and leaves the spool on disk, unlocked; a new
    // ingest on the same directory starts although Kafka is still down (the topic was seen before) and keeps
    // taking webhooks behind the ones spooled before it.
    const stopStarted = performance.now();
    await ingest.close();
    expect(performance.now() - stopStarted).toBeLessThan(DEADLINE_MS + 1000);
    expect(existsSync(join(dir, 'LOCK'))).toBe(false);
    const startStarted = performance.now();
    ingest = await startTestIngest({ ...common, INGEST_SPOOL_DIR: dir, RAW_WEBHOOK_TOPIC: ingest.topic });
    const restartMs = performance.now() - startStarted;
    expect(ingest.runtime.spooling?.mode).toBe('spooling');
    expect(
      ingest.logs.some(
        (l) => l.includes('"msg":"spool recovered"') && l.includes(`"records":${CHATS * PER_CHAT}`),
      ),
    ).toBe(true);
    for (let chat = 0; chat < CHATS; chat++) await send(chat, PER_CHAT + 1);

    await startKafka();
    brokerStopped = false;

    // Still spooling while the drainer catches up; then direct again, and the spool is empty on disk.
    await waitFor(async () => (ingest.runtime.spooling?.mode === 'direct' ? true : undefined), {
      timeoutMs: 45_000,
      intervalMs: 100,
      message: 'the spool drained after the broker came back',
    });
    expect(ingest.logs.some((l) => l.includes('spool drained'))).toBe(true);
    for (let chat = 0; chat < CHATS; chat++) await send(chat, PER_CHAT + 2); // direct again

    const total = CHATS * (PER_CHAT + 3);
    const records = await readRawRecords(ingest.topic, total);
    const stored = firstOccurrencesByKey(records);
    for (const [key, ids] of acked) expect(stored.get(key), key).toEqual(ids);
    // The spooled ones say so; the direct ones do not.
    const spooled = records.filter((r) => r.value.spooled_at !== null);
    expect(new Set(spooled.map((r) => r.value.event_id)).size).toBe(CHATS * (PER_CHAT + 1));
    for (const r of spooled) expect(r.value.spooled_at).toBeGreaterThanOrEqual(r.value.received_at);

    // The small ingest's topic: exactly what it answered 200, in order.
    await waitFor(async () => (small.runtime.spooling?.mode === 'direct' ? true : undefined), {
      timeoutMs: 30_000,
      intervalMs: 100,
      message: 'the small spool drained',
    });
    expect(await topicRecordCount(small.topic)).toBe(smallAcked.length);
    console.log(`spool outage: restart with Kafka down took ${Math.round(restartMs)} ms`);
    const smallRecords = await readRawRecords(small.topic, smallAcked.length);
    expect(smallRecords.map((r) => r.value.event_id)).toEqual(smallAcked);
  });
});
