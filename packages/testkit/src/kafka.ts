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
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: partitions, configEntries }] });
  } finally {
    await admin.disconnect();
  }
}

export type ReadMessage = KafkaMessage & {
  readonly topic: string;
  readonly partition: number;
};

/**
 * Reads a topic from the beginning with a fresh consumer group until `count` messages have
 * arrived, then a short quiet period to catch any extra ones (so "exactly N" can be asserted).
 */
export async function readTopic(
  topic: string,
  opts: { count: number; timeoutMs?: number; settleMs?: number },
): Promise<ReadMessage[]> {
  const consumer = testKafka('test-reader').consumer({ groupId: uniqueName('reader'), maxWaitTimeInMs: 100 });
  const received: ReadMessage[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    let enough: () => void = () => undefined;
    const done = new Promise<void>((resolve) => (enough = resolve));
    await consumer.run({
      eachMessage: async ({ topic: t, partition, message }) => {
        received.push({ ...message, topic: t, partition });
        if (received.length >= opts.count) enough();
      },
    });
    const timeoutMs = opts.timeoutMs ?? 30_000;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([done, new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
    clearTimeout(timer);
    if (received.length >= opts.count && (opts.settleMs ?? 500) > 0) {
      await new Promise((r) => setTimeout(r, opts.settleMs ?? 500));
    }
  } finally {
    await consumer.disconnect();
  }
  return received.sort((a, b) => a.partition - b.partition || Number(BigInt(a.offset) - BigInt(b.offset)));
}
