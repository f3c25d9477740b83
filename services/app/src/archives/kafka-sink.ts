import {
  ConfluentAvroSerde,
  SchemaRegistryClient,
  buildArchiveRawWebhooks,
  isEventsError,
  kafkaKeyOfArchive,
  rawWebhookSchema,
  valueSubject,
  waitForTopic,
} from '@livechat-pipeline/events';
import type { RawWebhook, RegisteredSchema } from '@livechat-pipeline/events';
import { createServiceKafka } from '@livechat-pipeline/service-host';
import { Partitioners } from 'kafkajs';
import type { Kafka, Producer } from 'kafkajs';
import type { Logger } from 'pino';
import type { ArchiveRow } from '@livechat-pipeline/livechat-agent-api';
import type { ArchiveSink, ArchiveSource } from './walk-runner.js';

export interface KafkaArchiveSinkOptions {
  readonly brokers: readonly string[];
  readonly clientId: string;
  readonly registryUrl: string;
  readonly topic: string;
}

/**
 * Writes archive threads to the raw topic as the ingest writes webhooks: Avro in the Confluent wire format through
 * the registry, keyed `<tenant>|<chat id>` (one chat, one partition), an idempotent producer, acks from all replicas.
 * It connects on first use: the app starts and serves installs without Kafka; the raw topic is the ingest's (waited
 * for, never created here).
 */
export class KafkaArchiveSink implements ArchiveSink {
  private readonly kafka: Kafka;
  private connected: Promise<{ producer: Producer; schema: RegisteredSchema }> | undefined;
  private readonly serde: ConfluentAvroSerde;

  constructor(
    private readonly options: KafkaArchiveSinkOptions,
    logger: Logger,
  ) {
    this.kafka = createServiceKafka({ clientId: options.clientId, brokers: options.brokers, logger });
    this.serde = new ConfluentAvroSerde(new SchemaRegistryClient({ baseUrl: options.registryUrl }));
  }

  private connect() {
    this.connected ??= (async () => {
      await waitForTopic(this.kafka, this.options.topic, { timeoutMs: 30_000 });
      const schema = await this.serde.register(valueSubject(this.options.topic), rawWebhookSchema(), {
        compatibility: 'BACKWARD_TRANSITIVE',
      });
      // The ingest's partitioner (Kafka's murmur2): an archive record lands on its chat's webhooks' partition.
      const producer = this.kafka.producer({
        idempotent: true,
        maxInFlightRequests: 1,
        allowAutoTopicCreation: false,
        createPartitioner: Partitioners.DefaultPartitioner,
      });
      await producer.connect();
      return { producer, schema };
    })().catch((err: unknown) => {
      this.connected = undefined;
      throw err;
    });
    return this.connected;
  }

  async write(
    organizationId: string,
    rows: readonly ArchiveRow[],
    source: ArchiveSource,
  ): Promise<{ rejected: { threadId: string; code: string }[] }> {
    const rejected: { threadId: string; code: string }[] = [];
    if (rows.length === 0) return { rejected };
    const { producer, schema } = await this.connect();
    const readAtMicros = source.readAt.getTime() * 1000;
    const records: RawWebhook[] = [];
    for (const chat of rows) {
      try {
        records.push(
          ...buildArchiveRawWebhooks({
            tenant: organizationId,
            chat,
            source: {
              method: source.method,
              pageId: source.pageId,
              pageNumber: source.pageNumber,
              readAtMicros,
            },
          }),
        );
      } catch (err) {
        // A thread that cannot be a record (too large even alone, malformed) must not stall the walk: counted, named.
        if (!isEventsError(err)) throw err;
        rejected.push({ threadId: chat.thread.id, code: err.code });
      }
    }
    await producer.send({
      topic: this.options.topic,
      acks: -1,
      messages: records.map((value) => ({
        key: kafkaKeyOfArchive(value),
        value: this.serde.encode(schema, value),
      })),
    });
    return { rejected };
  }

  async close(): Promise<void> {
    const c = this.connected;
    this.connected = undefined;
    if (c !== undefined) await (await c.catch(() => undefined))?.producer.disconnect();
  }
}
