import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { ConfluentAvroSerde, SchemaRegistryClient, readRawWebhook } from '@livechat-pipeline/events';
import type { ArchiveRow } from '@livechat-pipeline/livechat-agent-api';
import { createTopic, readTopic, stackEndpoints, uniqueName } from '@livechat-pipeline/testkit';
import { KafkaArchiveSink } from '../src/archives/kafka-sink.js';

const micros = (ms: number) => new Date(ms).toISOString().replace('Z', '000Z');

/** A thread of `events` messages of `bytes` characters each, in chat `chatId`. */
function thread(chatId: string, threadId: string, events: number, bytes: number): ArchiveRow {
  const start = Date.parse('2026-11-20T10:00:00Z');
  return {
    id: chatId,
    users: [{ id: 'cust', type: 'customer' }],
    thread: {
      id: threadId,
      active: false,
      created_at: micros(start),
      events: Array.from({ length: events }, (_, i) => ({
        id: `${threadId}_${i}`,
        type: 'message',
        text: 'x'.repeat(bytes),
        author_id: 'cust',
        created_at: micros(start + i * 1000),
        visibility: 'all',
      })),
    },
  };
}

const source = { method: 'list_archives' as const, pageId: null, pageNumber: 1, readAt: new Date() };

describe('the archive sink writes within the raw topic limits', () => {
  it('splits a page into sends within the topic batch limit: a thread in parts and large threads of one chat all land', async () => {
    const topic = uniqueName('sink-batches');
    // The ingest's raw topic limit: 1 MiB bodies + 256 KiB.
    await createTopic(topic, 1, [{ name: 'max.message.bytes', value: String(1024 * 1024 + 256 * 1024) }]);
    const stack = stackEndpoints();
    const sink = new KafkaArchiveSink(
      { brokers: stack.kafkaBrokers, clientId: 'sink-test', registryUrl: stack.schemaRegistryUrl, topic },
      pino({ level: 'silent' }),
    );
    try {
      const rows = [
        thread('C-big', 'T-parts', 1400, 1000), // ~1.4 MB: two parts, same key
        ...Array.from({ length: 8 }, (_, i) => thread('C-same', `T-large-${i}`, 1, 150_000)), // 8 × 150 KB, one chat
      ];
      const { rejected } = await sink.write('org-sink', rows, source);
      expect(rejected).toEqual([]);
      const records = await readTopic(topic, { count: 10, timeoutMs: 30_000 });
      expect(records).toHaveLength(10);
      const serde = new ConfluentAvroSerde(new SchemaRegistryClient({ baseUrl: stack.schemaRegistryUrl }));
      const threads = new Set<string>();
      for (const r of records) threads.add((await readRawWebhook(serde, r.value!)).thread_id!);
      expect(threads.size).toBe(9);
    } finally {
      await sink.close();
    }
  });

  it('a thread Kafka refuses for good is rejected and named; the rest of the page is written', async () => {
    const topic = uniqueName('sink-refused');
    await createTopic(topic, 1, [{ name: 'max.message.bytes', value: String(200_000) }]);
    const stack = stackEndpoints();
    const sink = new KafkaArchiveSink(
      { brokers: stack.kafkaBrokers, clientId: 'sink-test', registryUrl: stack.schemaRegistryUrl, topic },
      pino({ level: 'silent' }),
    );
    try {
      const rows = [
        thread('C1', 'T-small-1', 2, 100),
        thread('C2', 'T-huge', 1, 300_000),
        thread('C3', 'T-small-2', 2, 100),
      ];
      const { rejected } = await sink.write('org-sink', rows, source);
      expect(rejected).toEqual([{ threadId: 'T-huge', code: 'KAFKA_MESSAGE_TOO_LARGE' }]);
      expect(await readTopic(topic, { count: 2, timeoutMs: 30_000 })).toHaveLength(2);
    } finally {
      await sink.close();
    }
  });
});
