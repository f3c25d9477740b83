import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The ingest's Prometheus metrics, on their own registry (never prom-client's global one). */
export interface IngestMetrics {
  readonly registry: Registry;
  readonly httpRequests: Counter<'route' | 'method' | 'status'>;
  readonly authFailures: Counter<'format' | 'reason'>;
  readonly webhooksAccepted: Counter<'format'>;
  readonly produceLatency: Histogram<'outcome'>;
  readonly batchRecords: Histogram;
  readonly batchBytes: Histogram;
  readonly inFlightRequests: Gauge;
  readonly producers: Gauge;
}

export function createIngestMetrics(options: { defaultMetrics?: boolean } = {}): IngestMetrics {
  const registry = new Registry();
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: 'ingest_' });
  return {
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
  };
}
