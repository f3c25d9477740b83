/**
 * The per-stage timestamps of the measured webhooks, read from the topics by a consumer of the benchmark's own:
 * the raw record's Kafka timestamp (CreateTime: set by the ingest's producer when its batch is sent) and the
 * earliest chat event parsed from it (CreateTime set by the normalizer's producer; matched by `raw_event_id`).
 * With the 200 and the visibility time they split 200 -> visible into the normalizer's part and the projection's.
 * One machine, one clock: the timestamps are comparable (Kafka's are whole milliseconds).
 */
import type { Consumer, Kafka } from 'kafkajs';
import {
  ConfluentAvroSerde,
  SchemaRegistryClient,
  readChatEvent,
  readRawWebhook,
} from '@livechat-pipeline/events';

export class StageTimestamps {
  /** raw event id -> the raw record's Kafka timestamp (ms). */
  readonly raw = new Map<string, number>();
  /** raw event id -> the earliest chat event's Kafka timestamp (ms). */
  readonly chatEvent = new Map<string, number>();
  private consumer: Consumer | undefined;
  decodeErrors = 0;

  constructor(private readonly wanted: ReadonlySet<string>) {}

  async start(
    kafka: Kafka,
    schemaRegistryUrl: string,
    rawTopic: string,
    chatEventsTopic: string,
  ): Promise<void> {
    const serde = new ConfluentAvroSerde(new SchemaRegistryClient({ baseUrl: schemaRegistryUrl }));
    const consumer = kafka.consumer({
      groupId: `${rawTopic}.bench-stages`,
      // not on the measured path: fewer, larger fetches keep its cost to the broker low
      minBytes: 64 * 1024,
      maxWaitTimeInMs: 500,
    });
    this.consumer = consumer;
    await consumer.connect();
    await consumer.subscribe({ topics: [rawTopic, chatEventsTopic], fromBeginning: true });
    await consumer.run({
      partitionsConsumedConcurrently: 4,
      eachBatch: async ({ batch }) => {
        const isRaw = batch.topic === rawTopic;
        for (const message of batch.messages) {
          if (message.value === null) continue;
          const at = Number(message.timestamp);
          try {
            if (isRaw) {
              const record = await readRawWebhook(serde, message.value);
              if (this.wanted.has(record.event_id) && !this.raw.has(record.event_id))
                this.raw.set(record.event_id, at);
            } else {
              const event = await readChatEvent(serde, message.value);
              if (!this.wanted.has(event.raw_event_id)) continue;
              const seen = this.chatEvent.get(event.raw_event_id);
              if (seen === undefined || at < seen) this.chatEvent.set(event.raw_event_id, at);
            }
          } catch {
            this.decodeErrors++;
          }
        }
      },
    });
  }

  async stop(): Promise<void> {
    await this.consumer?.disconnect();
  }
}
