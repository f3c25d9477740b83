import { describe, expect, it } from 'vitest';
import { createTopic, readTopic, testKafka, uniqueName } from '../src/index.js';

async function produce(
  topic: string,
  messages: { partition: number; value: string | Buffer }[],
  oneSendEach = false,
): Promise<void> {
  // Idempotent: a send that kafkajs retries (e.g. right after the topic's creation) must not write twice.
  const producer = testKafka('read-topic-test').producer({ idempotent: true });
  await producer.connect();
  try {
    if (oneSendEach) for (const m of messages) await producer.send({ topic, acks: -1, messages: [m] });
    else await producer.send({ topic, acks: -1, messages });
  } finally {
    await producer.disconnect();
  }
}

describe('readTopic reads up to the end offsets', () => {
  it('returns every record below the end offsets, also those beyond count and beyond the first fetch', async () => {
    // given: three record batches of 600 KB each: a fetch (1 MiB per partition) returns only one,
    // and one small record on the other partition
    const topic = uniqueName('read-topic-big');
    await createTopic(topic, 2, [{ name: 'max.message.bytes', value: String(2 * 1024 * 1024) }]);
    const big = (i: number): Buffer => Buffer.alloc(600 * 1024, i);
    await produce(
      topic,
      [0, 1, 2].map((i) => ({ partition: 0, value: big(i) })),
      true,
    );
    await produce(topic, [{ partition: 1, value: 'small' }]);

    // when: the caller expects at least 1
    const records = await readTopic(topic, { count: 1 });

    // then: all four come back, by partition then offset
    expect(records.map((r) => `${r.partition}:${r.offset}:${r.value?.length}`)).toEqual([
      '0:0:614400',
      '0:1:614400',
      '0:2:614400',
      '1:0:5',
    ]);
  });

  it('waits for records that are produced after it was called', async () => {
    const topic = uniqueName('read-topic-late');
    await createTopic(topic, 2);
    const reading = readTopic(topic, { count: 4, timeoutMs: 30_000 });
    await produce(
      topic,
      [0, 1, 0, 1].map((partition, i) => ({ partition, value: `late-${i}` })),
    );
    const records = await reading;
    expect(records.map((r) => `${r.partition}:${r.value?.toString()}`)).toEqual([
      '0:late-0',
      '0:late-2',
      '1:late-1',
      '1:late-3',
    ]);
  });

  it('fails within its timeout naming the topic, what it expected and what each partition holds', async () => {
    const topic = uniqueName('read-topic-short');
    await createTopic(topic, 2);
    await produce(topic, [{ partition: 1, value: 'only one' }]);
    await expect(readTopic(topic, { count: 2, timeoutMs: 1_500 })).rejects.toThrow(
      `readTopic(${topic}): expected at least 2 records, the topic holds 1 after 1500 ms (partition 0: offsets 0..0, partition 1: offsets 0..1)`,
    );
  });

  it('reads an empty topic as empty when no count is asked for', async () => {
    const topic = uniqueName('read-topic-empty');
    await createTopic(topic, 1);
    expect(await readTopic(topic)).toEqual([]);
  });
});
