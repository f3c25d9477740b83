import type { ConfluentAvroSerde, RegisteredSchema } from '@livechat-pipeline/events';
import type { Message } from 'kafkajs';
import type { IngestConfig } from './config.js';
import type { DurableProducer } from './kafka.js';
import type { IngestMetrics } from './metrics.js';
import { ProduceBatcher } from './produce-batcher.js';
import type { KeyedRawRecord } from './raw-record.js';

/** Writes raw records durably: resolves only once Kafka acknowledged the write (acks=-1). */
export interface RawWebhookPublisher {
  /** `deadlineAt` is a performance.now() time after which the write must not be sent any more. */
  publish(record: KeyedRawRecord, deadlineAt: number): Promise<void>;
  close(): Promise<void>;
}

export interface KafkaRawWebhookPublisherOptions {
  readonly producer: DurableProducer;
  readonly topic: string;
  readonly serde: ConfluentAvroSerde;
  readonly schema: RegisteredSchema;
  readonly batch: IngestConfig['batch'];
  readonly metrics?: IngestMetrics;
}

export class KafkaRawWebhookPublisher implements RawWebhookPublisher {
  private readonly batcher: ProduceBatcher<Message>;

  constructor(private readonly options: KafkaRawWebhookPublisherOptions) {
    const metrics = options.metrics;
    this.batcher = new ProduceBatcher<Message>({
      send: (messages) => options.producer.send(options.topic, [...messages]),
      lingerMs: options.batch.lingerMs,
      maxRecords: options.batch.maxRecords,
      maxBytes: options.batch.maxBytes,
      sizeOf: (m) => (m.value as Buffer).length + (typeof m.key === 'string' ? Buffer.byteLength(m.key) : 0),
      ...(metrics === undefined
        ? {}
        : {
            onBatch: (r) => {
              metrics.produceLatency.observe({ outcome: r.ok ? 'ok' : 'error' }, r.durationMs / 1000);
              metrics.batchRecords.observe(r.records);
              metrics.batchBytes.observe(r.bytes);
            },
          }),
    });
  }

  publish(record: KeyedRawRecord, deadlineAt: number): Promise<void> {
    const value = this.options.serde.encode(this.options.schema, record.value);
    return this.batcher.enqueue({ key: record.key, value }, deadlineAt);
  }

  close(): Promise<void> {
    return this.batcher.close();
  }
}
