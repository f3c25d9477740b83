import { ROOT_CONTEXT, SpanKind, trace } from '@opentelemetry/api';
import {
  ARCHIVE_BODY_MAX_BYTES,
  ConfluentAvroSerde,
  SchemaRegistryClient,
  buildArchiveRawWebhooks,
  headerBytes,
  isEventsError,
  kafkaKeyOfArchive,
  rawWebhookSchema,
  traceHeaders,
  valueSubject,
  waitForTopic,
  withSpan,
} from '@livechat-pipeline/events';
import type { RawWebhook, RegisteredSchema } from '@livechat-pipeline/events';
import { createServiceKafka, type KafkaClientSecurity } from '@livechat-pipeline/service-host';
import { Partitioners } from 'kafkajs';
import type { Kafka, Message, Producer } from 'kafkajs';
import type { Logger } from 'pino';
import type { ArchiveRow } from '@livechat-pipeline/livechat-agent-api';
import type { ArchiveSink, ArchiveSource } from './walk-runner.js';

export interface KafkaArchiveSinkOptions {
  /** Bytes of keys and values per send (default 1 MiB: the raw topic allows 1 MiB + 256 KiB per record batch). */
  readonly maxSendBytes?: number;
  readonly brokers: readonly string[];
  readonly clientId: string;
  /** TLS and SASL (the app's `KAFKA_SSL*` / `KAFKA_SASL_*`); unset: read from the process environment. */
  readonly security?: KafkaClientSecurity;
  readonly registryUrl: string;
  readonly topic: string;
}

const tracer = trace.getTracer('@livechat-pipeline/app');

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
  private readonly maxSendBytes: number;

  constructor(
    private readonly options: KafkaArchiveSinkOptions,
    logger: Logger,
  ) {
    this.kafka = createServiceKafka({
      clientId: options.clientId,
      brokers: options.brokers,
      logger,
      ...(options.security === undefined ? {} : { security: options.security }),
    });
    this.serde = new ConfluentAvroSerde(new SchemaRegistryClient({ baseUrl: options.registryUrl }));
    this.maxSendBytes = options.maxSendBytes ?? ARCHIVE_BODY_MAX_BYTES;
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

  /**
   * A page written to the raw topic is one trace of its own (a root span, no request behind it): its records carry
   * that span's `traceparent`, so the normalizer and the projections continue it. A no-op while tracing is off.
   */
  write(
    organizationId: string,
    rows: readonly ArchiveRow[],
    source: ArchiveSource,
  ): Promise<{ rejected: { threadId: string; code: string }[] }> {
    if (rows.length === 0) return Promise.resolve({ rejected: [] });
    return withSpan(
      tracer,
      `${this.options.topic} publish archive`,
      {
        kind: SpanKind.PRODUCER,
        attributes: {
          'messaging.destination.name': this.options.topic,
          'livechat.archive.method': source.method,
          'livechat.archive.threads': rows.length,
        },
      },
      () => this.writeTraced(organizationId, rows, source),
      ROOT_CONTEXT,
    );
  }

  private async writeTraced(
    organizationId: string,
    rows: readonly ArchiveRow[],
    source: ArchiveSource,
  ): Promise<{ rejected: { threadId: string; code: string }[] }> {
    const rejected: { threadId: string; code: string }[] = [];
    const headers = traceHeaders();
    const { producer, schema } = await this.connect();
    const readAtMicros = source.readAt.getTime() * 1000;
    // Encoded messages per thread, in page order.
    const threads: { threadId: string; messages: { key: string; value: Buffer }[] }[] = [];
    for (const chat of rows) {
      let records: RawWebhook[];
      try {
        records = buildArchiveRawWebhooks({
          tenant: organizationId,
          chat,
          source: {
            method: source.method,
            pageId: source.pageId,
            pageNumber: source.pageNumber,
            readAtMicros,
          },
        });
      } catch (err) {
        // A thread that cannot be a record (too large even alone, malformed) must not stall the walk: counted, named.
        if (!isEventsError(err)) throw err;
        rejected.push({ threadId: chat.thread.id, code: err.code });
        continue;
      }
      const messages = records.map((value) => ({
        key: kafkaKeyOfArchive(value),
        value: this.serde.encode(schema, value),
        ...(headers === undefined ? {} : { headers }),
      }));
      threads.push({ threadId: chat.thread.id, messages });
    }
    // kafkajs puts all of a send's messages for one partition into one record batch, which the topic's
    // max.message.bytes bounds: sends stay within `maxSendBytes` (a thread's parts may go in separate sends), one
    // after the other (a chat's order is kept).
    const units = threads.flatMap((t) =>
      t.messages.map((m) => ({
        threadId: t.threadId,
        messages: [m],
        // The trace headers travel in the record batch too (~70 bytes each with tracing on).
        bytes: m.value.length + Buffer.byteLength(m.key) + headerBytes(headers),
      })),
    );
    let batch: typeof units = [];
    let batchBytes = 0;
    const flush = async () => {
      if (batch.length === 0) return;
      const sending = batch;
      batch = [];
      batchBytes = 0;
      await this.send(producer, sending, rejected);
    };
    for (const u of units) {
      if (batch.length > 0 && batchBytes + u.bytes > this.maxSendBytes) await flush();
      batch.push(u);
      batchBytes += u.bytes;
    }
    await flush();
    return { rejected };
  }

  /**
   * One send; when Kafka refuses it for good (e.g. MESSAGE_TOO_LARGE), its threads go one by one, and a thread Kafka
   * refuses alone is rejected (named, counted) instead of wedging the walk on this page forever. Retriable failures
   * (Kafka down: kafkajs retried already) are thrown: the walk pauses and this page is read again later.
   */
  private async send(
    producer: Producer,
    threads: readonly { threadId: string; messages: Message[] }[],
    rejected: { threadId: string; code: string }[],
  ): Promise<void> {
    try {
      await producer.send({
        topic: this.options.topic,
        acks: -1,
        messages: threads.flatMap((t) => t.messages),
      });
    } catch (err) {
      if (!refusedForGood(err)) throw err;
      if (threads.length === 1) {
        const threadId = threads[0]!.threadId;
        if (!rejected.some((r) => r.threadId === threadId))
          rejected.push({ threadId, code: `KAFKA_${kafkaErrorType(err)}` });
        return;
      }
      for (const t of threads) await this.send(producer, [t], rejected);
    }
  }

  async close(): Promise<void> {
    const c = this.connected;
    this.connected = undefined;
    if (c !== undefined) await (await c.catch(() => undefined))?.producer.disconnect();
  }
}

/** kafkajs marks protocol errors it cannot retry (MESSAGE_TOO_LARGE, INVALID_RECORD, …) `retriable: false`. */
function refusedForGood(err: unknown): boolean {
  const e = err as { name?: string; retriable?: boolean; cause?: unknown; type?: string } | null;
  if (e === null || typeof e !== 'object') return false;
  if (e.name === 'KafkaJSProtocolError' && e.retriable === false) return true;
  return e.cause !== undefined && e.cause !== err && refusedForGood(e.cause);
}

function kafkaErrorType(err: unknown): string {
  const e = err as { type?: string; cause?: unknown } | null;
  if (typeof e?.type === 'string') return e.type;
  return e?.cause === undefined ? 'REFUSED' : kafkaErrorType(e.cause);
}
