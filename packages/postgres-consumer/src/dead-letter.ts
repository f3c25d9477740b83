import type { Kafka, KafkaMessage, Message, Producer } from 'kafkajs';
import {
  deadLetterMessage,
  parseDeadLetter,
  replayMessage,
  topicSpecs,
  type DeadLetterRecord,
} from '@livechat-pipeline/events';
import { ConsumerError } from './errors.js';
import type { RecordOrigin } from './types.js';

// The envelope (header names, shape, truncation, parsing) lives in @livechat-pipeline/events; re-exported here so
// this package's API stays as it was.
export { DEAD_LETTER_HEADERS, REPLAY_HEADER, parseDeadLetter } from '@livechat-pipeline/events';
export type { DeadLetterRecord } from '@livechat-pipeline/events';

export interface DeadLetterInput {
  readonly origin: RecordOrigin;
  readonly message: KafkaMessage;
  readonly error: ConsumerError;
  readonly attempts: number;
  readonly consumer: string;
  readonly failedAt: Date;
}

/**
 * The record sent to the dead-letter topic, in the envelope of @livechat-pipeline/events (`deadLetterMessage`): the
 * original bytes untouched, provenance in `dlq.*` headers. Pure.
 */
export function toDeadLetterMessage(input: DeadLetterInput): Message {
  return deadLetterMessage(input);
}

/** Produces dead letters and waits for all in-sync replicas: a dead letter must outlive the commit that skips it. */
export async function publishDeadLetters(
  producer: Producer,
  topic: string,
  messages: readonly Message[],
): Promise<void> {
  if (messages.length === 0) return;
  try {
    await producer.send({ topic, acks: -1, messages: [...messages] });
  } catch (error) {
    throw new ConsumerError(
      'CONSUMER_DEAD_LETTER_FAILED',
      `could not produce ${messages.length} dead letter(s) to ${topic}`,
      { cause: error, details: { topic } },
    );
  }
}

/**
 * Settings a dead-letter topic is created with: those of `topicSpecs.consumerDeadLetters` of
 * @livechat-pipeline/events (kept forever; room for origin records of up to 8 MiB). Services ensure the topic
 * with that spec (and check an existing one) before the consumer starts.
 */
export const DEAD_LETTER_TOPIC_CONFIGS: Readonly<Record<string, string>> =
  topicSpecs.consumerDeadLetters({ topic: 'any.dlq', replicationFactor: 1 }).configs ?? {};

/**
 * Creates the dead-letter topic when it does not exist yet (one partition, the broker's default
 * replication), and waits until its partition has a leader. Safe when another member creates it at the
 * same moment: TOPIC_ALREADY_EXISTS counts as created, and "This server does not host this
 * topic-partition" while the new topic's metadata spreads is waited out (up to `timeoutMs`).
 */
export async function ensureDeadLetterTopic(
  kafka: Kafka,
  topic: string,
  opts: { timeoutMs?: number } = {},
): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = await admin.listTopics();
    if (!existing.includes(topic)) {
      try {
        await admin.createTopics({
          waitForLeaders: false,
          topics: [
            {
              topic,
              numPartitions: 1,
              configEntries: Object.entries(DEAD_LETTER_TOPIC_CONFIGS).map(([name, value]) => ({
                name,
                value,
              })),
            },
          ],
        });
      } catch (error) {
        if (!hasKafkaErrorType(error, 'TOPIC_ALREADY_EXISTS')) throw error;
      }
    }
    const deadline = Date.now() + (opts.timeoutMs ?? 15_000);
    for (let delay = 50; ; delay = Math.min(delay * 2, 1_000)) {
      try {
        const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
        const partitions = topics.find((t) => t.name === topic)?.partitions ?? [];
        if (partitions.length > 0 && partitions.every((p) => p.partitionErrorCode === 0 && p.leader >= 0))
          return;
      } catch (error) {
        if (
          !hasKafkaErrorType(error, 'UNKNOWN_TOPIC_OR_PARTITION') &&
          !hasKafkaErrorType(error, 'LEADER_NOT_AVAILABLE')
        )
          throw error;
      }
      if (Date.now() + delay > deadline) {
        throw new ConsumerError(
          'CONSUMER_KAFKA_UNAVAILABLE',
          `dead-letter topic ${topic} has no leader after ${opts.timeoutMs ?? 15_000} ms`,
          { details: { topic } },
        );
      }
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  } finally {
    await admin.disconnect();
  }
}

function hasKafkaErrorType(error: unknown, type: string): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const e = error as { type?: unknown; errors?: unknown; cause?: unknown };
  if (e.type === type) return true;
  if (
    Array.isArray(e.errors) &&
    e.errors.length > 0 &&
    e.errors.every((x: unknown) => hasKafkaErrorType(x, type))
  )
    return true;
  return e.cause !== undefined && hasKafkaErrorType(e.cause, type);
}

/**
 * Reads every dead letter present now: from the low to the high watermark of each partition, with
 * no consumer group (nothing is committed, so listing never changes anything).
 */
export async function readDeadLetters(
  kafka: Kafka,
  topic: string,
  opts: { timeoutMs?: number } = {},
): Promise<DeadLetterRecord[]> {
  const admin = kafka.admin();
  await admin.connect();
  let watermarks: { partition: number; low: string; high: string }[];
  try {
    watermarks = await admin.fetchTopicOffsets(topic);
  } finally {
    await admin.disconnect();
  }
  const pending = new Map(
    watermarks.filter((w) => BigInt(w.high) > BigInt(w.low)).map((w) => [w.partition, BigInt(w.high)]),
  );
  const records: DeadLetterRecord[] = [];
  if (pending.size === 0) return records;
  const consumer = kafka.consumer({
    groupId: `${topic}.reader.${process.pid}.${Date.now()}`,
    maxWaitTimeInMs: 200,
  });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    let finish: () => void = () => undefined;
    const done = new Promise<void>((resolve) => (finish = resolve));
    await consumer.run({
      autoCommit: false,
      eachMessage: async ({ partition, message }) => {
        const record = parseDeadLetter(partition, message);
        if (record !== undefined) records.push(record);
        const high = pending.get(partition);
        if (high !== undefined && BigInt(message.offset) + 1n >= high) pending.delete(partition);
        if (pending.size === 0) finish();
      },
    });
    let timer: NodeJS.Timeout | undefined;
    const timeoutMs = opts.timeoutMs ?? 30_000;
    const timedOut = new Promise<'timeout'>(
      (resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)),
    );
    const outcome = await Promise.race([done.then(() => 'done' as const), timedOut]);
    clearTimeout(timer);
    if (outcome === 'timeout') {
      throw new ConsumerError(
        'CONSUMER_KAFKA_UNAVAILABLE',
        `reading ${topic} did not reach its high watermark within ${timeoutMs} ms`,
        { details: { topic } },
      );
    }
  } finally {
    await consumer.disconnect();
  }
  return records.sort((a, b) => a.partition - b.partition || Number(BigInt(a.offset) - BigInt(b.offset)));
}

/**
 * Replays dead letters by re-producing their original key, value and non-`dlq.*` headers (plus `dlq.replay-of`) to
 * the origin topic and partition (`replayMessage` of @livechat-pipeline/events). The record then takes the normal
 * path (decode, dedup, handler, offsets), so a replay that runs twice is harmless (dedup drops the second) and needs
 * no second code path. A dead letter without its value (`dlq.value.omitted`) is never replayed: that would write an
 * empty record; the original is still at its origin. Returns how many were replayed.
 */
export async function replayDeadLetters(
  kafka: Kafka,
  deadLetterTopic: string,
  all: readonly DeadLetterRecord[],
): Promise<number> {
  const records = all.filter((r) => r.valueOmitted === undefined);
  if (records.length === 0) return 0;
  const producer = kafka.producer({ allowAutoTopicCreation: false, idempotent: true });
  await producer.connect();
  try {
    await producer.sendBatch({
      acks: -1,
      topicMessages: records.map((r) => ({
        topic: r.origin.topic,
        messages: [replayMessage(deadLetterTopic, r)],
      })),
    });
  } finally {
    await producer.disconnect();
  }
  return records.length;
}
