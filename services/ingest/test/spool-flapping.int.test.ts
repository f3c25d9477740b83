import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '@livechat-pipeline/testkit';
import { afterAll, describe, expect, it } from 'vitest';
import { fixture } from './support/fixtures.js';
import { postWebhook, readRawRecords, startTestIngest, topicRecordCount } from './support/harness.js';

const CHATS = 6;
const WAVES = 8;
const PER_WAVE = 3;
const PER_CHAT = WAVES * PER_WAVE;

/** A small seeded PRNG (mulberry32): the pauses are the same in every run. */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('spool mode flapping on a slow Kafka', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ingest-spool-flap-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  // Every direct write waits for the 60 ms linger, longer than INGEST_SPOOL_AFTER_MS (10 ms), so each webhook that
  // finds the ingest in direct mode is spooled (its direct write is dropped before it leaves: none reaches Kafka),
  // and every wave switches the ingest from direct to spooling and back, with webhooks arriving around both
  // switches. What this exercises is the switching on the real stack; the interleavings with direct writes on the
  // wire are spooling-publisher.test.ts's.
  it('keeps each chat in the order it was acknowledged across many switches between direct and spooling', async () => {
    const ingest = await startTestIngest({
      INGEST_SPOOL_DIR: dir,
      INGEST_SPOOL_AFTER_MS: '10',
      INGEST_BATCH_LINGER_MS: '60',
      INGEST_PRODUCERS: '2',
    });
    try {
      const acked = new Map<string, string[]>();
      const f = fixture('v3.6-incoming_event-file') as {
        organization_id: string;
        payload: { event: Record<string, unknown> };
      };
      const random = prng(12);
      // Waves: each chat sends a few webhooks one after another (the chats concurrently, with short seeded
      // pauses), then the ingest drains and goes back to direct writes before the next wave.
      for (let wave = 0; wave < WAVES; wave++) {
        const pauses = Array.from({ length: CHATS }, () =>
          Array.from({ length: PER_WAVE }, () => Math.floor(random() * 20)),
        );
        await Promise.all(
          Array.from({ length: CHATS }, async (_, chat) => {
            const key = `${f.organization_id}|FLAP-${chat}`;
            for (let i = 0; i < PER_WAVE; i++) {
              const n = wave * PER_WAVE + i;
              const res = await postWebhook(ingest, {
                ...f,
                payload: {
                  ...f.payload,
                  chat_id: `FLAP-${chat}`,
                  event: { ...f.payload.event, id: `flap-${chat}-${n}` },
                },
              });
              expect(res.statusCode, res.body).toBe(200);
              acked.set(key, [...(acked.get(key) ?? []), res.json<{ event_id: string }>().event_id]);
              await new Promise((r) => setTimeout(r, pauses[chat]?.[i] ?? 0));
            }
          }),
        );
        await waitFor(async () => (ingest.runtime.spooling?.mode === 'direct' ? true : undefined), {
          timeoutMs: 30_000,
          intervalMs: 10,
          message: `the spool drained after wave ${wave}`,
        });
      }
      const switches = ingest.logs.filter((l) => l.includes('spooling started')).length;
      expect(switches).toBeGreaterThanOrEqual(WAVES); // at least one per wave (more if a wave's spool empties early)

      // Duplicates are expected (a direct write that was on the wire when its webhook was spooled): first
      // occurrences per chat must be the acknowledged order.
      const records = await readRawRecords(ingest.topic, await topicRecordCount(ingest.topic));
      const seen = new Set<string>();
      const firstByKey = new Map<string, string[]>();
      for (const r of records) {
        if (seen.has(r.value.event_id)) continue;
        seen.add(r.value.event_id);
        firstByKey.set(r.key, [...(firstByKey.get(r.key) ?? []), r.value.event_id]);
      }
      expect(seen.size).toBe(CHATS * PER_CHAT);
      for (const [key, ids] of acked) expect(firstByKey.get(key), key).toEqual(ids);
      console.log(
        `spool flapping: ${switches} switches to spooling, ${records.length} records for ${CHATS * PER_CHAT} webhooks`,
      );
    } finally {
      await ingest.close();
    }
  });
});
