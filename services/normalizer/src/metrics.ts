import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface NormalizerMetrics {
  readonly registry: Registry;
  readonly rawRecords: Counter<'outcome'>;
  readonly chatEvents: Counter<'type'>;
  readonly batchSeconds: Histogram;
  readonly lag: Gauge<'group' | 'topic' | 'partition'>;
  readonly deadLetterTopicRecords: Gauge<'topic'>;
  readonly recordsErased: Counter;
  readonly privacyRetries: Counter<'code'>;
}

export function createNormalizerMetrics(): NormalizerMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    rawRecords: new Counter({
      name: 'normalizer_raw_records_total',
      help: 'Raw records consumed, by outcome (normalized, dead_lettered, erased)',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    chatEvents: new Counter({
      name: 'normalizer_chat_events_total',
      help: 'Chat events produced, by type',
      labelNames: ['type'],
      registers: [registry],
    }),
    batchSeconds: new Histogram({
      name: 'normalizer_batch_seconds',
      help: 'Time to turn one fetched batch into acknowledged events',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    lag: new Gauge({
      name: 'normalizer_partition_lag',
      help: "High watermark minus the group's next offset, per raw partition (after each batch, and every NORMALIZER_METRICS_REFRESH_MS from the committed offsets, also while no batch flows)",
      labelNames: ['group', 'topic', 'partition'],
      registers: [registry],
    }),
    deadLetterTopicRecords: new Gauge({
      name: 'normalizer_dead_letter_topic_records',
      help: 'Records on the dead-letter topic the normalizer writes (high minus low watermark), every NORMALIZER_METRICS_REFRESH_MS',
      labelNames: ['topic'],
      registers: [registry],
    }),
    recordsErased: new Counter({
      name: 'normalizer_records_erased_total',
      help: 'Raw records of an erased key scope (body dropped at the ingest, or key erased since): no events emitted',
      registers: [registry],
    }),
    privacyRetries: new Counter({
      name: 'normalizer_privacy_retries_total',
      help: 'Batches failed retryably for want of a key (key store unreachable, PRIVACY_KEK_UNKNOWN, a sealed record without PRIVACY_KEYS): the partition waits',
      labelNames: ['code'],
      registers: [registry],
    }),
  };
}
