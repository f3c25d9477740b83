import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { partitionOfKey } from '../src/partitioner.js';
import { fixture } from './support/fixtures.js';
import { postWebhook, readRawRecords, startTestIngest } from './support/harness.js';
import type { TestIngest } from './support/harness.js';

// A pool of 3 producers on a 6-partition topic: every producer owns two partitions.
describe('producer pool (INGEST_PRODUCERS=3)', () => {
  let ingest: TestIngest;
  beforeAll(async () => {
    ingest = await startTestIngest({ INGEST_PRODUCERS: '3', RAW_WEBHOOK_TOPIC_PARTITIONS: '6' });
  });
  afterAll(async () => {
    await ingest.close();
  });

  it("writes each record to its key's default partition and keeps each chat's webhooks in order", async () => {
    const metrics = { body: await (await fetch(`${ingest.operationsUrl}/metrics`)).text() };
    expect(metrics.body).toMatch(/^ingest_producers 3$/m);

    const chats = Array.from({ length: 12 }, (_, c) => `POOLCHAT${c}`);
    const perChat = 5;
    const body = (chat: string, i: number) => {
      const f = fixture('v3.6-incoming_event-file') as {
        payload: Record<string, unknown> & { event: Record<string, unknown> };
      };
      return {
        ...f,
        payload: { ...f.payload, chat_id: chat, event: { ...f.payload.event, id: `${chat}-${i}` } },
      };
    };
    // Chats in parallel (all producers busy at once), each chat's webhooks one after the other.
    await Promise.all(
      chats.map(async (chat) => {
        for (let i = 0; i < perChat; i++)
          expect((await postWebhook(ingest, body(chat, i))).statusCode).toBe(200);
      }),
    );

    const records = await readRawRecords(ingest.topic, chats.length * perChat);
    expect(records).toHaveLength(chats.length * perChat);
    for (const r of records) expect(r.partition, r.key).toBe(partitionOfKey(r.key, 6));
    expect(new Set(records.map((r) => r.partition)).size).toBeGreaterThan(3); // spread over the producers' partitions
    for (const chat of chats) {
      // readTopic returns a partition's records in offset order.
      const inOffsetOrder = records
        .filter((r) => r.value.chat_id === chat)
        .map((r) => JSON.parse(r.value.body) as { payload: { event: { id: string } } });
      expect(inOffsetOrder.map((b) => b.payload.event.id)).toEqual(
        Array.from({ length: perChat }, (_, i) => `${chat}-${i}`),
      );
    }
  });
});
