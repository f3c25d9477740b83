import { Partitioners } from 'kafkajs';
import type { Kafka, Message, Producer, RecordMetadata } from 'kafkajs';
import type { Logger } from 'pino';
import { createServiceKafka } from '@livechat-pipeline/service-host';
import { IngestError } from './errors.js';
import type { IngestConfig } from './config.js';

/** The service-host client with the ingest's timeouts: a webhook waits on the broker, so it fails fast. */
export function createKafka(config: IngestConfig, logger: Logger): Kafka {
  return createServiceKafka({
    clientId: config.kafka.clientId,
    brokers: config.kafka.brokers,
    logger,
    security: config.kafka,
    connectionTimeoutMs: 1000,
    requestTimeoutMs: Math.max(config.http.requestDeadlineMs, 5000),
    retry: { initialRetryTime: 100, maxRetryTime: 1000, retries: 5 },
  });
}

/**
 * One idempotent producer (acks=-1, one request in flight: KafkaJS's limit for idempotence). The ingest runs a
 * small pool of them (INGEST_PRODUCERS), each with its own producer id, connection and batcher, each owning a
 * fixed set of partitions (see partitioner.ts). After a failed send the producer is replaced
 * before the next one: a fresh producer id means a batch that was written although its acknowledgement was lost
 * can never make the broker drop a later batch as a "duplicate sequence".
 */
export class DurableProducer {
  private producer: Producer | undefined;
  private connecting: Promise<Producer> | undefined;
  private renewBeforeNextSend = false;

  constructor(private readonly kafka: Kafka) {}

  async connect(): Promise<void> {
    await this.current();
  }

  async send(topic: string, messages: readonly Message[]): Promise<void> {
    if (this.renewBeforeNextSend) {
      // No send is in flight here (one batch at a time per producer): the old producer can go.
      this.renewBeforeNextSend = false;
      if (this.producer !== undefined) this.discard(this.producer);
    }
    const producer = await this.current();
    try {
      // KafkaJS only reads the array.
      const written = await producer.send({ topic, messages: messages as Message[], acks: -1 });
      assertEveryPartitionWritten(topic, messages, written);
    } catch (err) {
      this.discard(producer);
      throw err;
    }
  }

  /**
   * The next send goes through a new producer, which reads the topic's metadata afresh: called before records go
   * to partitions added to the topic, which the current producer's metadata (refreshed every 5 minutes) may lack.
   */
  renew(): void {
    this.renewBeforeNextSend = true;
  }

  async disconnect(): Promise<void> {
    const producer = this.producer;
    this.producer = undefined;
    if (producer !== undefined) await producer.disconnect();
  }

  private current(): Promise<Producer> {
    if (this.producer !== undefined) return Promise.resolve(this.producer);
    this.connecting ??= (async () => {
      const producer = this.kafka.producer({
        idempotent: true,
        maxInFlightRequests: 1,
        allowAutoTopicCreation: false,
        createPartitioner: Partitioners.DefaultPartitioner,
        retry: { initialRetryTime: 100, maxRetryTime: 1000, retries: 3 },
      });
      try {
        await producer.connect();
      } catch (err) {
        await producer.disconnect().catch(() => undefined);
        throw err;
      }
      this.producer = producer;
      return producer;
    })().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  private discard(producer: Producer): void {
    if (this.producer === producer) this.producer = undefined;
    void producer.disconnect().catch(() => undefined);
  }
}

/**
 * KafkaJS drops the messages of a partition missing from its metadata without an error (its send resolves with
 * no result for that partition): a partition added to the topic after the producer read the metadata. A send
 * that did not write every partition it was given fails here instead, so the webhook is answered 503 (or
 * spooled) and the producer replaced, never acknowledged and lost.
 */
export function assertEveryPartitionWritten(
  topic: string,
  messages: readonly Message[],
  written: readonly RecordMetadata[],
): void {
  const done = new Set(written.filter((w) => w.topicName === topic).map((w) => w.partition));
  const missing = [...new Set(messages.map((m) => m.partition ?? -1))].filter((p) => !done.has(p));
  if (missing.length > 0) {
    throw new IngestError(
      'INGEST_KAFKA_UNAVAILABLE',
      `Kafka client had no metadata for partition(s) ${missing.sort((a, b) => a - b).join(', ')} of ${topic}: those records were not written`,
    );
  }
}

/** The number of partitions of `topic` (from the cluster's metadata). */
export async function fetchPartitionCount(kafka: Kafka, topic: string): Promise<number> {
  const admin = kafka.admin();
  try {
    await admin.connect();
    const metadata = await admin.fetchTopicMetadata({ topics: [topic] });
    const count = metadata.topics.find((t) => t.name === topic)?.partitions.length ?? 0;
    if (count < 1) throw new Error(`topic ${topic} has no partitions in the cluster metadata`);
    return count;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}
