import { setTimeout as sleep } from 'node:timers/promises';
import { Kafka, logLevel, type KafkaMessage } from 'kafkajs';
import { stackEndpoints } from './endpoints.js';
import { uniqueName } from './names.js';

export function testKafka(clientId = 'test'): Kafka {
  return new Kafka({
    clientId,
    brokers: stackEndpoints().kafkaBrokers,
    logLevel: logLevel.NOTHING,
    retry: { retries: 5, initialRetryTime: 100 },
  });
}

export async function createTopic(
  topic: string,
  partitions = 1,
  configEntries: { name: string; value: string }[] = [],
): Promise<void> {
  const admin = testKafka('test-admin').admin();
  await admin.connect();
  try {
    // Not kafkajs' waitForLeaders: right after a create the broker may answer UNKNOWN_TOPIC_OR_PARTITION ("does
    // not host this topic-partition") while the metadata spreads, which kafkajs does not retry there.
    await admin.createTopics({
      waitForLeaders: false,
      topics: [{ topic, numPartitions: partitions, configEntries }],
    });
    // Metadata naming a leader is not enough: that broker may still answer NOT_LEADER_OR_FOLLOWER to
    // ListOffsets for a moment, so the topic is ready once its offsets can be listed too.
    const deadline = Date.now() + 30_000;
    for (;;) {
      const ready = await admin
        .fetchTopicMetadata({ topics: [topic] })
        .then(
          (m) =>
            m.topics[0]?.partitions.length === partitions &&
            m.topics[0].partitions.every((p) => p.leader >= 0),
        )
        .then(async (led) => led && (await admin.fetchTopicOffsets(topic)).length === partitions)
        .catch(() => false);
      if (ready) return;
      if (Date.now() > deadline)
        throw new Error(`createTopic(${topic}): no leader for every partition within 30 s`);
      await sleep(100);
    }
  } finally {
    await admin.disconnect();
  }
}

export type ReadMessage = KafkaMessage & {
  readonly topic: string;
  readonly partition: number;
};

interface PartitionRange {
  readonly partition: number;
  readonly low: bigint;
  readonly high: bigint;
}

function describeRanges(ranges: readonly PartitionRange[]): string {
  return ranges.map((r) => `partition ${r.partition}: offsets ${r.low}..${r.high}`).join(', ');
}

/**
 * Reads a topic from the beginning, with a fresh consumer group, up to its end offsets:
 * 1. waits until the topic's high watermarks (fetched with the admin client) hold at least `count`
 *    records (records present then but beyond `count` are read too, so "exactly N" can be asserted);
 * 2. consumes until every partition reached the end offset taken in step 1.
 * Both waits are bounded by `timeoutMs` (one deadline) and fail naming what is missing. Returns the
 * records below those end offsets, by partition then offset. `settleMs` is accepted for
 * compatibility and ignored: no fixed sleep decides how many records there are.
 */
export async function readTopic(
  topic: string,
  opts: { count?: number; timeoutMs?: number; settleMs?: number } = {},
): Promise<ReadMessage[]> {
  const count = opts.count ?? 0;
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const deadline = Date.now() + timeoutMs;
  const kafka = testKafka('test-reader');

  // 1. The end offsets, once the topic holds at least `count` records.
  const admin = kafka.admin();
  await admin.connect();
  let ranges: PartitionRange[] = [];
  try {
    for (;;) {
      // A topic just created (by the test or by the service under test) may answer NOT_LEADER for a
      // moment; retriable errors are retried until the deadline, the last one named if it passes.
      let offsets: Awaited<ReturnType<typeof admin.fetchTopicOffsets>>;
      try {
        offsets = await admin.fetchTopicOffsets(topic);
      } catch (error) {
        const retriable = (error as { retriable?: boolean }).retriable === true;
        if (!retriable || Date.now() >= deadline) throw error;
        await sleep(100);
        continue;
      }
      ranges = offsets
        .map((o) => ({ partition: o.partition, low: BigInt(o.low), high: BigInt(o.high) }))
        .sort((a, b) => a.partition - b.partition);
      const held = ranges.reduce((sum, r) => sum + (r.high - r.low), 0n);
      if (held >= BigInt(count)) break;
      if (Date.now() >= deadline) {
        throw new Error(
          `readTopic(${topic}): expected at least ${count} records, the topic holds ${held} after ${timeoutMs} ms (${describeRanges(ranges)})`,
        );
      }
      await sleep(Math.min(100, Math.max(0, deadline - Date.now())));
    }
  } finally {
    await admin.disconnect();
  }

  // 2. Every record below those end offsets.
  const pending = new Map(ranges.filter((r) => r.high > r.low).map((r) => [r.partition, r]));
  const reached = new Map<number, bigint>();
  // Keyed by partition:offset: a batch delivered again after a rebalance is not counted twice.
  const received = new Map<string, ReadMessage>();
  if (pending.size > 0) {
    const consumer = kafka.consumer({ groupId: uniqueName('reader'), maxWaitTimeInMs: 100 });
    await consumer.connect();
    try {
      await consumer.subscribe({ topic, fromBeginning: true });
      let allReached: () => void = () => undefined;
      const done = new Promise<void>((resolve) => (allReached = resolve));
      await consumer.run({
        eachBatch: async ({ batch }) => {
          const range = pending.get(batch.partition);
          if (range === undefined) return;
          for (const message of batch.messages) {
            if (BigInt(message.offset) < range.high)
              received.set(`${batch.partition}:${message.offset}`, {
                ...message,
                topic: batch.topic,
                partition: batch.partition,
              });
          }
          // lastOffset() counts records the batch filtered out (control records) too.
          const next = BigInt(batch.lastOffset()) + 1n;
          reached.set(batch.partition, next);
          if (next >= range.high) pending.delete(batch.partition);
          if (pending.size === 0) allReached();
        },
      });
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<'timeout'>(
        (resolve) => (timer = setTimeout(() => resolve('timeout'), Math.max(0, deadline - Date.now()))),
      );
      const outcome = await Promise.race([done, timedOut]);
      clearTimeout(timer);
      if (outcome === 'timeout') {
        const missing = [...pending.values()].map(
          (r) =>
            `partition ${r.partition} read up to offset ${reached.get(r.partition) ?? r.low} of end offset ${r.high}`,
        );
        throw new Error(
          `readTopic(${topic}): ${received.size} records read, not at the end offsets after ${timeoutMs} ms: ${missing.join('; ')}`,
        );
      }
    } finally {
      await consumer.disconnect();
    }
  }
  return [...received.values()].sort(
    (a, b) => a.partition - b.partition || Number(BigInt(a.offset) - BigInt(b.offset)),
  );
}
