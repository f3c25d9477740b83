import { headerBytes, type ConfluentAvroSerde, type RegisteredSchema } from '@livechat-pipeline/events';
import type { IngestConfig } from './config.js';
import type { DurableProducer } from './kafka.js';
import type { IngestMetrics } from './metrics.js';
import { partitionOfKey, producerOfPartition } from './partitioner.js';
import { IngestError } from './errors.js';
import { ProduceBatcher } from './produce-batcher.js';
import type { BatchReport, CancellableSend } from './produce-batcher.js';
import type { KeyedRawRecord } from './raw-record.js';

/** Writes raw records durably: resolves only once Kafka acknowledged the write (acks=-1). */
export interface RawWebhookPublisher {
  /** `deadlineAt` is a performance.now() time after which the write must not be sent any more. */
  publish(record: KeyedRawRecord, deadlineAt: number): Promise<void>;
  close(): Promise<void>;
}

export interface KafkaRawWebhookPublisherOptions {
  /**
   * The producer pool (at least one). Partition `p` of the topic is always written by producer
   * `p % producers.length`, each through its own batcher, so up to `producers.length` batches are in flight at
   * once while the records of one partition stay in order.
   */
  readonly producers: readonly DurableProducer[];
  readonly topic: string;
  /**
   * The topic's partition count read at start-up: records are partitioned here, as Kafka's default would. It only
   * grows afterwards (`growPartitions`, from partition-watch.ts) when partitions are added to the topic.
   */
  readonly partitions: number;
  readonly serde: ConfluentAvroSerde;
  readonly schema: RegisteredSchema;
  readonly batch: IngestConfig['batch'];
  /**
   * The largest key + value the raw topic takes (its max.message.bytes less a record batch's overhead): a bigger
   * record is refused (413 INGEST_RECORD_TOO_LARGE) before it is sent or spooled, never retried for ever.
   */
  readonly maxRecordBytes: number;
  readonly metrics?: IngestMetrics;
}

/**
 * Refuses a record the raw topic would refuse for good (a body that grew past the limit when re-serialised); its
 * headers (the trace context, when tracing is on) count too.
 */
export function assertRecordFits(
  key: Buffer,
  value: Buffer,
  maxRecordBytes: number,
  headers?: Readonly<Record<string, string>>,
): void {
  const bytes = key.length + value.length + headerBytes(headers);
  if (bytes > maxRecordBytes) {
    throw new IngestError(
      'INGEST_RECORD_TOO_LARGE',
      `the stored record (${bytes} bytes after redaction and re-serialisation, headers included) is larger than the raw topic accepts (${maxRecordBytes} bytes)`,
    );
  }
}

/** An already-encoded raw record (the spool's), with the headers it was produced with, if any. */
export interface EncodedRecord {
  readonly key: Buffer;
  readonly value: Buffer;
  readonly headers?: Readonly<Record<string, string>> | undefined;
}

interface KeyedMessage {
  readonly key: Buffer;
  readonly value: Buffer;
  readonly partition: number;
  readonly headers?: Readonly<Record<string, string>>;
}

export class KafkaRawWebhookPublisher implements RawWebhookPublisher {
  private readonly batchers: ProduceBatcher<KeyedMessage>[];
  private partitions: number;

  constructor(private readonly options: KafkaRawWebhookPublisherOptions) {
    this.partitions = options.partitions;
    if (options.producers.length === 0)
      throw new RangeError('KafkaRawWebhookPublisher needs at least one producer');
    const metrics = options.metrics;
    const onBatch =
      metrics === undefined
        ? undefined
        : (r: BatchReport) => {
            metrics.produceLatency.observe({ outcome: r.ok ? 'ok' : 'error' }, r.durationMs / 1000);
            metrics.batchRecords.observe(r.records);
            metrics.batchBytes.observe(r.bytes);
          };
    this.batchers = options.producers.map(
      (producer) =>
        new ProduceBatcher<KeyedMessage>({
          send: (messages) => producer.send(options.topic, messages),
          lingerMs: options.batch.lingerMs,
          maxRecords: options.batch.maxRecords,
          maxBytes: options.batch.maxBytes,
          sizeOf: (m) => m.value.length + m.key.length + headerBytes(m.headers),
          ...(onBatch === undefined ? {} : { onBatch }),
        }),
    );
  }

  /** The partition count records are spread over now. */
  get partitionCount(): number {
    return this.partitions;
  }

  /**
   * Spreads the records written from now on over `partitions` when that is more than now (partitions were added to
   * the topic); a smaller count (a broker's stale metadata; Kafka never removes partitions) is ignored. The
   * producer pool stays as it is: partition p keeps going through producer p % producers, so no partition's
   * records ever change producer (and order) mid-stream. Returns whether the count changed.
   */
  growPartitions(partitions: number): boolean {
    if (!Number.isInteger(partitions) || partitions <= this.partitions) return false;
    this.partitions = partitions;
    return true;
  }

  publish(record: KeyedRawRecord, deadlineAt: number): Promise<void> {
    try {
      return this.publishCancellable(record, deadlineAt).done;
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** As publish, but the write can be taken back while it waits for its batch (the spool's switch). */
  publishCancellable(record: KeyedRawRecord, deadlineAt: number): CancellableSend {
    const value = this.options.serde.encode(this.options.schema, record.value);
    const key = Buffer.from(record.key, 'utf8');
    assertRecordFits(key, value, this.options.maxRecordBytes, record.headers);
    const partition = partitionOfKey(key, this.partitions);
    const batcher = this.batchers[producerOfPartition(partition, this.batchers.length)];
    if (batcher === undefined) throw new Error('no batcher for the partition'); // unreachable
    return batcher.enqueueCancellable(
      record.headers === undefined
        ? { key, value, partition }
        : { key, value, partition, headers: record.headers },
      deadlineAt,
    );
  }

  /**
   * Writes already-encoded records (the spool's drainer) in their order: each producer's share goes as one group
   * (one send), so a failed attempt followed by a retry never puts a record of a partition behind a later one.
   * Resolves once every record is acknowledged.
   */
  async publishEncoded(records: readonly EncodedRecord[], deadlineAt: number): Promise<void> {
    const groups = this.batchers.map((): KeyedMessage[] => []);
    for (const { key, value, headers } of records) {
      const partition = partitionOfKey(key, this.partitions);
      groups[producerOfPartition(partition, this.batchers.length)]?.push(
        headers === undefined ? { key, value, partition } : { key, value, partition, headers },
      );
    }
    // Every group settles before the caller may retry: a retry never overtakes its own first attempt.
    const outcomes = await Promise.allSettled(
      groups.flatMap((messages, i) =>
        messages.length === 0 ? [] : [this.batchers[i]?.enqueueGroup(messages, deadlineAt)],
      ),
    );
    const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
  }

  async close(): Promise<void> {
    await Promise.all(this.batchers.map((b) => b.close()));
  }
}
