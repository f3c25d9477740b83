import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTopic, testKafka, uniqueName, waitFor } from '@livechat-pipeline/testkit';
import { DurableProducer } from '../src/kafka.js';
import { partitionOfKey } from '../src/partitioner.js';
import { fixture } from './support/fixtures.js';
import { postWebhook, readRawRecords, startTestIngest } from './support/harness.js';
import type { TestIngest } from './support/harness.js';

// Partitions added to the raw topic while the ingest runs: it learns the new count from the cluster metadata
// (INGEST_PARTITION_REFRESH_MS) and spreads new webhooks over every partition, without a restart.
describe('partitions added to the raw topic while the ingest runs', () => {
  let ingest: TestIngest;
  beforeAll(async () => {
    ingest = await startTestIngest({
      INGEST_PRODUCERS: '2',
      RAW_WEBHOOK_TOPIC_PARTITIONS: '2',
      INGEST_PARTITION_REFRESH_MS: '200',
    });
  });
  afterAll(async () => {
    await ingest.close();
  });

  const chats = Array.from({ length: 16 }, (_, c) => `GROWCHAT${c}`);
  const body = (chat: string, id: string) => {
    const f = fixture('v3.6-incoming_event-file') as {
      payload: Record<string, unknown> & { event: Record<string, unknown> };
    };
    return { ...f, payload: { ...f.payload, chat_id: chat, event: { ...f.payload.event, id } } };
  };
  const partitionsGauge = async () =>
    /^ingest_raw_topic_partitions (\d+)$/m.exec(
      await (await fetch(`${ingest.operationsUrl}/metrics`)).text(),
    )?.[1];

  it('spreads the webhooks after the change over the new partitions, each by its key as Kafka would', async () => {
    expect(await partitionsGauge()).toBe('2');
    for (const chat of chats)
      expect((await postWebhook(ingest, body(chat, `${chat}-before`))).statusCode).toBe(200);

    const admin = testKafka('partition-growth').admin();
    await admin.connect();
    try {
      await admin.createPartitions({ topicPartitions: [{ topic: ingest.topic, count: 6 }] });
    } finally {
      await admin.disconnect();
    }
    await waitFor(async () => (await partitionsGauge()) === '6', {
      timeoutMs: 15_000,
      message: 'the ingest to learn the 6 partitions',
    });
    expect(ingest.logs.join('')).toContain('raw topic partitions added');
    for (const chat of chats)
      expect((await postWebhook(ingest, body(chat, `${chat}-after`))).statusCode).toBe(200);

    const records = await readRawRecords(ingest.topic, chats.length * 2);
    expect(records).toHaveLength(chats.length * 2);
    const eventId = (r: (typeof records)[number]) =>
      (JSON.parse(r.value.body) as { payload: { event: { id: string } } }).payload.event.id;
    const before = records.filter((r) => eventId(r).endsWith('-before'));
    const after = records.filter((r) => eventId(r).endsWith('-after'));
    for (const r of before) expect(r.partition, r.key).toBe(partitionOfKey(r.key, 2));
    for (const r of after) expect(r.partition, r.key).toBe(partitionOfKey(r.key, 6));
    // The keys of these 16 chats fall on partitions 2-5 too: the new partitions are used.
    expect(after.filter((r) => r.partition >= 2).length).toBeGreaterThan(0);
    // And some chats moved: their two webhooks are now on different partitions (the README's caveat).
    const moved = chats.filter(
      (chat) =>
        before.find((r) => r.value.chat_id === chat)?.partition !==
        after.find((r) => r.value.chat_id === chat)?.partition,
    );
    expect(moved.length).toBeGreaterThan(0);
  });
});

describe('a producer whose metadata lacks a partition', () => {
  it('fails the send instead of acknowledging records kafkajs silently dropped', async () => {
    const topic = uniqueName('stale-metadata');
    await createTopic(topic, 1);
    const producer = new DurableProducer(testKafka('stale-metadata'));
    try {
      await producer.send(topic, [{ key: 'a', value: 'first', partition: 0 }]); // reads the metadata: 1 partition
      const admin = testKafka('stale-metadata-admin').admin();
      await admin.connect();
      await admin.createPartitions({ topicPartitions: [{ topic, count: 2 }] });
      await admin.disconnect();
      // kafkajs resolves this send without writing partition 1 (it is not in the producer's metadata yet).
      await expect(
        producer.send(topic, [
          { key: 'b', value: 'second', partition: 0 },
          { key: 'c', value: 'third', partition: 1 },
        ]),
      ).rejects.toThrow(
        `Kafka client had no metadata for partition(s) 1 of ${topic}: those records were not written`,
      );
      // The failed producer was replaced: a retry reads fresh metadata and writes the new partition (once the
      // broker's metadata has it: KRaft applies it asynchronously).
      await waitFor(
        () => producer.send(topic, [{ key: 'c', value: 'third', partition: 1 }]).then(() => true),
        { timeoutMs: 15_000, message: 'a send to the new partition through a fresh producer' },
      );
      const admin2 = testKafka('stale-metadata-admin').admin();
      await admin2.connect();
      const offsets = await admin2.fetchTopicOffsets(topic);
      await admin2.disconnect();
      expect(offsets.map((o) => [o.partition, o.high]).sort()).toEqual([
        [0, '2'],
        [1, '1'],
      ]);
    } finally {
      await producer.disconnect();
    }
  });
});
