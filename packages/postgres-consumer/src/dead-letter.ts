import type { IHeaders, Kafka, KafkaMessage, Message, Producer } from 'kafkajs';
import { ConsumerError } from './errors.js';
import type { RecordOrigin } from './types.js';

/** Headers a dead letter carries, next to the original key, value and headers. */
export const DEAD_LETTER_HEADERS = {
  originTopic: 'dlq.origin.topic',
  originPartition: 'dlq.origin.partition',
  originOffset: 'dlq.origin.offset',
  errorCode: 'dlq.error.code',
  errorMessage: 'dlq.error.message',
  attempts: 'dlq.attempts',
  consumer: 'dlq.consumer',
  failedAt: 'dlq.failed-at',
} as const;

/** Marks a record re-produced from a dead letter (`<dlq topic>/<partition>/<offset>`). */
export const REPLAY_HEADER = 'dlq.replay-of';

const MAX_ERROR_MESSAGE = 2_000;

export interface DeadLetterInput {
  readonly origin: RecordOrigin;
  readonly message: KafkaMessage;
  readonly error: ConsumerError;
  readonly attempts: number;
  readonly consumer: string;
  readonly failedAt: Date;
}

/** The record sent to the dead-letter topic: the original bytes untouched, provenance in headers. Pure. */
export function toDeadLetterMessage(input: DeadLetterInput): Message {
  const provenance: IHeaders = {
    [DEAD_LETTER_HEADERS.originTopic]: input.origin.topic,
    [DEAD_LETTER_HEADERS.originPartition]: String(input.origin.partition),
    [DEAD_LETTER_HEADERS.originOffset]: input.origin.offset,
    [DEAD_LETTER_HEADERS.errorCode]: input.error.code,
    [DEAD_LETTER_HEADERS.errorMessage]: input.error.message.slice(0, MAX_ERROR_MESSAGE),
    [DEAD_LETTER_HEADERS.attempts]: String(input.attempts),
    [DEAD_LETTER_HEADERS.consumer]: input.consumer,
    [DEAD_LETTER_HEADERS.failedAt]: input.failedAt.toISOString(),
  };
  return {
    key: input.message.key,
    value: input.message.value,
    headers: { ...(input.message.headers ?? {}), ...provenance },
    timestamp: input.message.timestamp,
  };
}

export interface DeadLetterRecord {
  /** Position in the dead-letter topic. */
  readonly partition: number;
  readonly offset: string;
  readonly origin: RecordOrigin;
  readonly errorCode: string;
  readonly errorMessage: string;
  readonly attempts: number;
  readonly consumer: string;
  readonly failedAt: string;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  /** The original headers, without the dead-letter ones. */
  readonly headers: IHeaders;
}

function headerText(headers: IHeaders, name: string): string | undefined {
  const value = headers[name];
  const first = Array.isArray(value) ? value[0] : value;
  if (first === undefined) return undefined;
  return typeof first === 'string' ? first : first.toString('utf8');
}

/** Reads a dead letter back; a record without provenance headers is not one of ours. Pure. */
export function parseDeadLetter(partition: number, message: KafkaMessage): DeadLetterRecord | undefined {
  const headers = message.headers ?? {};
  const topic = headerText(headers, DEAD_LETTER_HEADERS.originTopic);
  const originPartition = headerText(headers, DEAD_LETTER_HEADERS.originPartition);
  const originOffset = headerText(headers, DEAD_LETTER_HEADERS.originOffset);
  if (topic === undefined || originPartition === undefined || originOffset === undefined) return undefined;
  const dlqHeaderNames = new Set<string>(Object.values(DEAD_LETTER_HEADERS));
  const original: IHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (!dlqHeaderNames.has(name) && value !== undefined) original[name] = value;
  }
  return {
    partition,
    offset: message.offset,
    origin: { topic, partition: Number(originPartition), offset: originOffset },
    errorCode: headerText(headers, DEAD_LETTER_HEADERS.errorCode) ?? 'UNKNOWN',
    errorMessage: headerText(headers, DEAD_LETTER_HEADERS.errorMessage) ?? '',
    attempts: Number(headerText(headers, DEAD_LETTER_HEADERS.attempts) ?? '0'),
    consumer: headerText(headers, DEAD_LETTER_HEADERS.consumer) ?? '',
    failedAt: headerText(headers, DEAD_LETTER_HEADERS.failedAt) ?? '',
    key: message.key,
    value: message.value,
    headers: original,
  };
}

/** Produces dead letters and waits for all in-sync replicas: a dead letter must outlive the commit that skips it. */
export async function publishDeadLetters(producer: Producer, topic: string, messages: readonly Message[]): Promise<void> {
  if (messages.length === 0) return;
  try {
    await producer.send({ topic, acks: -1, messages: [...messages] });
  } catch (error) {
    throw new ConsumerError('CONSUMER_DEAD_LETTER_FAILED', `could not produce ${messages.length} dead letter(s) to ${topic}`, { cause: error, details: { topic } });
  }
}

/**
 * Settings a dead-letter topic is created with; the same as `topicSpecs.consumerDeadLetters` of
 * @livechat-pipeline/events (kept forever; room for origin records of up to 8 MiB). Services that
 * depend on that package ensure the topic with it (and check an existing one) before the consumer starts.
 */
export const DEAD_LETTER_TOPIC_CONFIGS: Readonly<Record<string, string>> = {
  'retention.ms': '-1',
  'retention.bytes': '-1',
  'max.message.bytes': String(8 * 1024 * 1024),
};

/**
 * Creates the dead-letter topic when it does not exist yet (one partition, the broker's default
 * replication), and waits until its partition has a leader. Safe when another member creates it at the
 * same moment: TOPIC_ALREADY_EXISTS counts as created, and "This server does not host this
 * topic-partition" while the new topic's metadata spreads is waited out (up to `timeoutMs`).
 */
export async function ensureDeadLetterTopic(kafka: Kafka, topic: string, opts: { timeoutMs?: number } = {}): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = await admin.listTopics();
    if (!existing.includes(topic)) {
      try {
        await admin.createTopics({
          waitForLeaders: false,
          topics: [{ topic, numPartitions: 1, configEntries: Object.entries(DEAD_LETTER_TOPIC_CONFIGS).map(([name, value]) => ({ name, value })) }],
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
        if (partitions.length > 0 && partitions.every((p) => p.partitionErrorCode === 0 && p.leader >= 0)) return;
      } catch (error) {
        if (!hasKafkaErrorType(error, 'UNKNOWN_TOPIC_OR_PARTITION') && !hasKafkaErrorType(error, 'LEADER_NOT_AVAILABLE')) throw error;
      }
      if (Date.now() + delay > deadline) {
        throw new ConsumerError('CONSUMER_KAFKA_UNAVAILABLE', `dead-letter topic ${topic} has no leader after ${opts.timeoutMs ?? 15_000} ms`, { details: { topic } });
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
  if (Array.isArray(e.errors) && e.errors.length > 0 && e.errors.every((x: unknown) => hasKafkaErrorType(x, type))) return true;
  return e.cause !== undefined && hasKafkaErrorType(e.cause, type);
}

/**
 * Reads every dead letter present now: from the low to the high watermark of each partition, with
 * no consumer group (nothing is committed, so listing never changes anything).
 */
export async function readDeadLetters(kafka: Kafka, topic: string, opts: { timeoutMs?: number } = {}): Promise<DeadLetterRecord[]> {
  const admin = kafka.admin();
  await admin.connect();
  let watermarks: { partition: number; low: string; high: string }[];
  try {
    watermarks = await admin.fetchTopicOffsets(topic);
  } finally {
    await admin.disconnect();
  }
  const pending = new Map(watermarks.filter((w) => BigInt(w.high) > BigInt(w.low)).map((w) => [w.partition, BigInt(w.high)]));
  const records: DeadLetterRecord[] = [];
  if (pending.size === 0) return records;
  const consumer = kafka.consumer({ groupId: `${topic}.reader.${process.pid}.${Date.now()}`, maxWaitTimeInMs: 200 });
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
    const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)));
    const outcome = await Promise.race([done.then(() => 'done' as const), timedOut]);
    clearTimeout(timer);
    if (outcome === 'timeout') {
      throw new ConsumerError('CONSUMER_KAFKA_UNAVAILABLE', `reading ${topic} did not reach its high watermark within ${timeoutMs} ms`, { details: { topic } });
    }
  } finally {
    await consumer.disconnect();
  }
  return records.sort((a, b) => a.partition - b.partition || Number(BigInt(a.offset) - BigInt(b.offset)));
}

/**
 * Replays dead letters by re-producing their original key, value and headers to the origin topic
 * and partition. The record then takes the normal path (decode, dedup, handler, offsets), so a
 * replay that runs twice is harmless (dedup drops the second) and needs no second code path.
 */
export async function replayDeadLetters(kafka: Kafka, deadLetterTopic: string, records: readonly DeadLetterRecord[]): Promise<number> {
  if (records.length === 0) return 0;
  const producer = kafka.producer({ allowAutoTopicCreation: false, idempotent: true });
  await producer.connect();
  try {
    await producer.sendBatch({
      acks: -1,
      topicMessages: records.map((r) => ({
        topic: r.origin.topic,
        messages: [
          {
            partition: r.origin.partition,
            key: r.key,
            value: r.value,
            headers: { ...r.headers, [REPLAY_HEADER]: `${deadLetterTopic}/${r.partition}/${r.offset}` },
          },
        ],
      })),
    });
  } finally {
    await producer.disconnect();
  }
  return records.length;
}

