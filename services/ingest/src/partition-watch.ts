import type { Kafka } from 'kafkajs';
import type { Logger } from 'pino';
import { fetchPartitionCount } from './kafka.js';

export interface PartitionWatchOptions {
  readonly kafka: Kafka;
  readonly topic: string;
  /** INGEST_PARTITION_REFRESH_MS: how often the topic's partition count is read from the cluster metadata. */
  readonly intervalMs: number;
  /** The publisher that partitions records (KafkaRawWebhookPublisher). */
  readonly target: { readonly partitionCount: number; growPartitions(partitions: number): boolean };
  /**
   * Its producers: renewed before the new count is used, so that each reads the topic's metadata afresh (a
   * producer's metadata can be 5 minutes old, and kafkajs drops records for partitions it does not know).
   */
  readonly producers: readonly { renew(): void }[];
  readonly logger: Logger;
  /** After the count grew (the spool keeps it for a start while Kafka is down). Its failure is logged only. */
  readonly onGrown?: (partitions: number) => Promise<void>;
  /** Set to the count in use after every change (the ingest_raw_topic_partitions gauge). */
  readonly report?: (partitions: number) => void;
}

/**
 * Learns that partitions were added to the raw topic while the ingest runs. The ingest picks each record's
 * partition itself (partitioner.ts) from the count it knows, and sends to that partition explicitly, so kafkajs's
 * own metadata refresh (metadataMaxAge) would never make it use a new partition: this reads the count from the
 * cluster metadata every `intervalMs` and hands a larger one to the publisher. Reads that fail (Kafka down) are
 * skipped; the next one tries again.
 */
export class PartitionCountWatch {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private failing = false;

  constructor(private readonly options: PartitionWatchOptions) {
    options.report?.(options.target.partitionCount);
  }

  start(): void {
    this.schedule();
  }

  /** One read of the metadata; returns the count in use afterwards. */
  async refresh(): Promise<number> {
    const { kafka, topic, target, logger } = this.options;
    const before = target.partitionCount;
    let count: number;
    try {
      count = await fetchPartitionCount(kafka, topic);
    } catch (error) {
      // Once per failing streak at warn (a topic deleted, a user without Describe: new partitions would go unseen).
      const fields = { topic, err: error instanceof Error ? error.message : String(error) };
      if (this.failing) logger.debug(fields, 'cannot read the raw topic partition count; trying again later');
      else logger.warn(fields, 'cannot read the raw topic partition count; trying again later');
      this.failing = true;
      return before;
    }
    if (this.failing) logger.info({ topic, partitions: count }, 'raw topic partition count read again');
    this.failing = false;
    if (this.stopped) return before;
    if (count > before) for (const producer of this.options.producers) producer.renew();
    if (target.growPartitions(count)) {
      logger.info(
        { topic, from: before, to: count },
        'raw topic partitions added: new webhooks are spread over all of them (a chat may move to another partition)',
      );
      this.options.report?.(count);
      await this.options.onGrown?.(count).catch((error: unknown) => {
        logger.warn(
          { topic, err: error instanceof Error ? error.message : String(error) },
          'cannot keep the new partition count in the spool directory',
        );
      });
    }
    return target.partitionCount;
  }

  /**
   * No further reads; one in flight is not waited for (Kafka may hang: the shutdown, the spool's first, must not
   * wait on it), and what it finds is dropped.
   */
  stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    return Promise.resolve();
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      void this.refresh().finally(() => this.schedule());
    }, this.options.intervalMs);
    this.timer.unref();
  }
}
