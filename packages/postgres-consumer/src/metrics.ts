import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * The runtime's Prometheus metrics, labelled by consumer so several consumers can share one
 * registry. Events/s is `rate(postgres_consumer_events_total[1m])`.
 */
export class ConsumerMetrics {
  readonly registry: Registry;
  private readonly lag: Gauge<'consumer' | 'group' | 'topic' | 'partition'>;
  private readonly deadLetterTopicRecords: Gauge<'consumer' | 'topic'>;
  private readonly events: Counter<'consumer' | 'outcome'>;
  private readonly batchDuration: Histogram<'consumer'>;
  private readonly deadLetters: Counter<'consumer' | 'code'>;
  private readonly transientFailures: Counter<'consumer' | 'code'>;
  private readonly offsetConflicts: Counter<'consumer' | 'topic' | 'partition'>;

  private readonly group: string;

  constructor(
    private readonly consumer: string,
    registry?: Registry,
    /** The Kafka consumer group (default: the consumer's name, as the runtime's `groupId`). */
    group?: string,
  ) {
    this.group = group ?? consumer;
    this.registry = registry ?? new Registry();
    const registers = [this.registry];
    this.lag =
      existing(this.registry, 'postgres_consumer_lag') ??
      new Gauge({
        name: 'postgres_consumer_lag',
        help: 'Records between the offset stored in Postgres and the high watermark, per group and partition (set after each batch and every metricsRefreshIntervalMs, also while no batch flows)',
        labelNames: ['consumer', 'group', 'topic', 'partition'],
        registers,
      });
    this.deadLetterTopicRecords =
      existing(this.registry, 'postgres_consumer_dead_letter_topic_records') ??
      new Gauge({
        name: 'postgres_consumer_dead_letter_topic_records',
        help: "Records on the consumer's dead-letter topic (high minus low watermark over its partitions), read every metricsRefreshIntervalMs",
        labelNames: ['consumer', 'topic'],
        registers,
      });
    this.events =
      existing(this.registry, 'postgres_consumer_events_total') ??
      new Counter({
        name: 'postgres_consumer_events_total',
        help: 'Records handled, by outcome (applied, duplicate, skipped, dead_lettered)',
        labelNames: ['consumer', 'outcome'],
        registers,
      });
    this.batchDuration =
      existing(this.registry, 'postgres_consumer_batch_duration_seconds') ??
      new Histogram({
        name: 'postgres_consumer_batch_duration_seconds',
        help: 'Time from batch start to Postgres commit',
        labelNames: ['consumer'],
        buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
        registers,
      });
    this.deadLetters =
      existing(this.registry, 'postgres_consumer_dead_letters_total') ??
      new Counter({
        name: 'postgres_consumer_dead_letters_total',
        help: 'Records sent to the dead-letter topic',
        labelNames: ['consumer', 'code'],
        registers,
      });
    this.transientFailures =
      existing(this.registry, 'postgres_consumer_transient_failures_total') ??
      new Counter({
        name: 'postgres_consumer_transient_failures_total',
        help: 'Batch attempts that failed transiently and were retried',
        labelNames: ['consumer', 'code'],
        registers,
      });
    this.offsetConflicts =
      existing(this.registry, 'postgres_consumer_offset_conflicts_total') ??
      new Counter({
        name: 'postgres_consumer_offset_conflicts_total',
        help: 'Batches rolled back because another member had moved the stored offset (compare-and-set failed)',
        labelNames: ['consumer', 'topic', 'partition'],
        registers,
      });
  }

  recordBatch(b: {
    topic: string;
    partition: number;
    applied: number;
    duplicates: number;
    skipped: number;
    deadLettered: number;
    durationMs: number;
    lag: number;
  }): void {
    const consumer = this.consumer;
    if (b.applied > 0) this.events.inc({ consumer, outcome: 'applied' }, b.applied);
    if (b.duplicates > 0) this.events.inc({ consumer, outcome: 'duplicate' }, b.duplicates);
    if (b.skipped > 0) this.events.inc({ consumer, outcome: 'skipped' }, b.skipped);
    if (b.deadLettered > 0) this.events.inc({ consumer, outcome: 'dead_lettered' }, b.deadLettered);
    this.batchDuration.observe({ consumer }, b.durationMs / 1000);
    this.setLag(b.topic, b.partition, b.lag);
  }

  setLag(topic: string, partition: number, lag: number): void {
    this.lag.set(
      { consumer: this.consumer, group: this.group, topic, partition: String(partition) },
      Math.max(0, lag),
    );
  }

  setDeadLetterTopicRecords(topic: string, records: number): void {
    this.deadLetterTopicRecords.set({ consumer: this.consumer, topic }, Math.max(0, records));
  }

  recordDeadLetter(code: string): void {
    this.deadLetters.inc({ consumer: this.consumer, code });
  }

  recordSkipped(count: number): void {
    this.events.inc({ consumer: this.consumer, outcome: 'skipped' }, count);
  }

  recordOffsetConflict(topic: string, partition: number): void {
    this.offsetConflicts.inc({ consumer: this.consumer, topic, partition: String(partition) });
  }

  recordTransientFailure(code: string): void {
    this.transientFailures.inc({ consumer: this.consumer, code });
  }
}

/** A second consumer on the same registry reuses the metric objects instead of failing on the duplicate name. */
function existing<T>(registry: Registry, name: string): T | undefined {
  return registry.getSingleMetric(name) as T | undefined;
}
