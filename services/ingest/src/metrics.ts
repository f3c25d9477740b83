import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The ingest's Prometheus metrics, on their own registry (never prom-client's global one). */
export interface IngestMetrics {
  readonly registry: Registry;
  readonly httpRequests: Counter<'route' | 'method' | 'status'>;
  readonly authFailures: Counter<'format' | 'reason'>;
  readonly webhooksAccepted: Counter<'format'>;
  /** Accepted webhooks per registered tenant; see tenant-metric.ts for the bounded label. */
  readonly tenantWebhooks: Counter<'tenant'>;
  readonly produceLatency: Histogram<'outcome'>;
  readonly batchRecords: Histogram;
  readonly batchBytes: Histogram;
  readonly inFlightRequests: Gauge;
  readonly producers: Gauge;
  readonly rawTopicPartitions: Gauge;
  readonly spool: SpoolMetrics;
  readonly privacy: PrivacyMetrics;
}

/** Sealing of raw bodies (src/privacy/); no samples while privacy is off. */
export interface PrivacyMetrics {
  /** One key look-up and the sealing of its records, per seal batch and tenant. */
  readonly sealSeconds: Histogram;
  /** Webhooks not sealed, by privacy error code, DEADLINE_EXCEEDED (a key store slower than the request deadline) or SEAL_QUEUE_FULL. */
  readonly sealFailures: Counter<'code'>;
}

/** The on-disk spool's metrics (src/spool/); all zero while the spool is off or empty. */
export interface SpoolMetrics {
  /** 1 while new webhooks go to the spool (Kafka down or slow, or the spool not yet drained). */
  readonly spooling: Gauge;
  readonly bytes: Gauge;
  readonly records: Gauge;
  /** The most records / bytes the spool held at once since the process started. */
  readonly highWaterRecords: Gauge;
  readonly highWaterBytes: Gauge;
  readonly oldestRecordAge: Gauge;
  readonly appendedRecords: Counter;
  readonly drainedRecords: Counter;
  readonly groupRecords: Histogram;
  readonly commitLatency: Histogram;
  /** By reason, one of SPOOL_REFUSAL_REASONS. */
  readonly refused: Counter<'reason'>;
  readonly rejected: Counter;
  readonly recoveryLostRecords: Counter;
  readonly recoveryTornBytes: Counter;
}

export function createIngestMetrics(options: { defaultMetrics?: boolean } = {}): IngestMetrics {
  const registry = new Registry();
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: 'ingest_' });
  const metrics: IngestMetrics = {
    registry,
    httpRequests: new Counter({
      name: 'ingest_http_requests_total',
      help: 'HTTP requests answered, by route pattern, method and status',
      labelNames: ['route', 'method', 'status'] as const,
      registers: [registry],
    }),
    authFailures: new Counter({
      name: 'ingest_auth_failures_total',
      help: 'Webhooks refused with 401, by format and reason',
      labelNames: ['format', 'reason'] as const,
      registers: [registry],
    }),
    webhooksAccepted: new Counter({
      name: 'ingest_webhooks_accepted_total',
      help: 'Webhooks acknowledged by Kafka and answered 200',
      labelNames: ['format'] as const,
      registers: [registry],
    }),
    tenantWebhooks: new Counter({
      name: 'ingest_tenant_webhooks_total',
      help: 'Webhooks answered 200, per tenant: a registered tenant (LIVECHAT_TENANT_SECRETS_FILE or the app\'s registry) by its id, every other delivery under tenant="_unregistered"',
      labelNames: ['tenant'] as const,
      registers: [registry],
    }),
    produceLatency: new Histogram({
      name: 'ingest_produce_latency_seconds',
      help: 'Time from a batch leaving for Kafka to its acknowledgement (or failure)',
      labelNames: ['outcome'] as const,
      buckets: [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    batchRecords: new Histogram({
      name: 'ingest_batch_records',
      help: 'Records per produce batch',
      buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000],
      registers: [registry],
    }),
    batchBytes: new Histogram({
      name: 'ingest_batch_bytes',
      help: 'Bytes (encoded values and keys) per produce batch',
      buckets: [1e3, 1e4, 1e5, 2.5e5, 5e5, 1e6, 4e6, 16e6],
      registers: [registry],
    }),
    inFlightRequests: new Gauge({
      name: 'ingest_in_flight_requests',
      help: 'Webhook requests being processed right now',
      registers: [registry],
    }),
    producers: new Gauge({
      name: 'ingest_producers',
      help: 'Idempotent Kafka producers in the pool (INGEST_PRODUCERS, at most the partition count)',
      registers: [registry],
    }),
    rawTopicPartitions: new Gauge({
      name: 'ingest_raw_topic_partitions',
      help: 'Partitions of the raw topic webhooks are spread over (read at start, then every INGEST_PARTITION_REFRESH_MS)',
      registers: [registry],
    }),
    privacy: {
      sealSeconds: new Histogram({
        name: 'ingest_privacy_seal_seconds',
        help: 'Time to seal one batch of one tenant: the data keys look-up (usually the cache) and the encryption of its bodies',
        buckets: [0.0001, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
        registers: [registry],
      }),
      sealFailures: new Counter({
        name: 'ingest_privacy_seal_failures_total',
        help: 'Webhooks answered 503 or 500 because their body could not be sealed, by code: a privacy error code (PRIVACY_KEY_UNAVAILABLE: the key store is unreachable or refusing) DEADLINE_EXCEEDED (the key store slower than the request deadline) or SEAL_QUEUE_FULL (too many webhooks or body bytes already waiting for their keys)',
        labelNames: ['code'] as const,
        registers: [registry],
      }),
    },
    spool: {
      spooling: new Gauge({
        name: 'ingest_spool_active',
        help: '1 while new webhooks are written to the on-disk spool instead of Kafka (Kafka down or slow, or the spool not drained yet)',
        registers: [registry],
      }),
      bytes: new Gauge({
        name: 'ingest_spool_bytes',
        help: 'Bytes of spool segment files on disk (bounded by INGEST_SPOOL_MAX_BYTES)',
        registers: [registry],
      }),
      records: new Gauge({
        name: 'ingest_spool_records',
        help: 'Spooled records not yet acknowledged by Kafka',
        registers: [registry],
      }),
      highWaterRecords: new Gauge({
        name: 'ingest_spool_high_water_records',
        help: 'The most records the spool held at once since the ingest started',
        registers: [registry],
      }),
      highWaterBytes: new Gauge({
        name: 'ingest_spool_high_water_bytes',
        help: 'The most bytes of spool segment files at once since the ingest started',
        registers: [registry],
      }),
      oldestRecordAge: new Gauge({
        name: 'ingest_spool_oldest_record_age_seconds',
        help: 'Age of the oldest spooled record not yet on Kafka (0 when the spool is empty)',
        registers: [registry],
      }),
      appendedRecords: new Counter({
        name: 'ingest_spool_appended_records_total',
        help: 'Records written to the spool (fsynced) and answered 200',
        registers: [registry],
      }),
      drainedRecords: new Counter({
        name: 'ingest_spool_drained_records_total',
        help: 'Spooled records acknowledged by Kafka (its rate is the drain rate)',
        registers: [registry],
      }),
      groupRecords: new Histogram({
        name: 'ingest_spool_commit_records',
        help: 'Records per spool group commit (one write and one fdatasync)',
        buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000],
        registers: [registry],
      }),
      commitLatency: new Histogram({
        name: 'ingest_spool_commit_seconds',
        help: 'Time of one spool group commit (write + fdatasync)',
        buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1],
        registers: [registry],
      }),
      refused: new Counter({
        name: 'ingest_spool_refused_total',
        help: 'Webhooks the spool refused (answered 503), by reason: full, unavailable',
        labelNames: ['reason'] as const,
        registers: [registry],
      }),
      rejected: new Counter({
        name: 'ingest_spool_rejected_records_total',
        help: "Spooled records Kafka refused for good while draining, set aside in the spool directory's rejected/ (alert on any)",
        registers: [registry],
      }),
      recoveryLostRecords: new Counter({
        name: 'ingest_spool_recovery_corrupt_records_total',
        help: 'Corrupt stretches found in the middle of spool segments at start-up (acknowledged records lost: alert on any)',
        registers: [registry],
      }),
      recoveryTornBytes: new Counter({
        name: 'ingest_spool_recovery_torn_bytes_total',
        help: 'Bytes of torn last appends cut off at start-up (never acknowledged)',
        registers: [registry],
      }),
    },
  };
  // Every reason starts at 0: prom-client creates a label set's series at its first inc(), which Prometheus then
  // sees already at 1, and increase() ignores a series' first sample (SpoolRefusingWebhooks would miss a burst).
  for (const reason of SPOOL_REFUSAL_REASONS) metrics.spool.refused.inc({ reason }, 0);
  return metrics;
}

/** The `reason` values of ingest_spool_refused_total. */
const SPOOL_REFUSAL_REASONS = ['full', 'unavailable'] as const;
