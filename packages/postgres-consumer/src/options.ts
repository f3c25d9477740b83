import type { Kafka } from 'kafkajs';
import type { Registry } from 'prom-client';
import { DEFAULT_BACKOFF, type BackoffPolicy } from './backoff.js';
import { ConsumerError } from './errors.js';
import type { ConsumerDefinition, RuntimeEvent } from './types.js';

/** Test-only seams; production code leaves them unset. */
export interface RuntimeHooks {
  /** Runs right after the Postgres COMMIT of a batch and before anything is committed to Kafka. */
  readonly afterPostgresCommit?: (batch: {
    topic: string;
    partition: number;
    nextOffset: string;
  }) => void | Promise<void>;
}

export interface PostgresConsumerOptions {
  /** The kafkajs client (brokers, TLS, SASL are the service's business). */
  readonly kafka: Kafka;
  readonly databaseUrl: string;
  /** Kafka consumer group; default: the consumer's name. */
  readonly groupId?: string;
  /** Default: `<consumer name>.dlq`. Created (1 partition per origin partition count unknown -> 1) if missing. */
  readonly deadLetterTopic?: string;
  /** How long dedup records are kept; LiveChat redelivers within hours, so default 24 h. */
  readonly dedupRetentionMs?: number;
  readonly dedupPurgeIntervalMs?: number;
  /**
   * How often the lag of every partition (high watermark minus the offset stored in Postgres) and the size of the
   * dead-letter topic are read from Kafka for the metrics, whether or not batches flow (a stuck consumer's lag must
   * still show). Default 15 s.
   */
  readonly metricsRefreshIntervalMs?: number;
  readonly backoff?: Partial<BackoffPolicy>;
  readonly poolSize?: number;
  /** Bounds every statement (a hung Postgres must become a retryable timeout, not a stuck batch). */
  readonly statementTimeoutMs?: number;
  readonly connectionTimeoutMs?: number;
  readonly sessionTimeoutMs?: number;
  readonly heartbeatIntervalMs?: number;
  /** Bytes fetched per partition per request: the main batch-size knob (1 MiB ~ thousands of events). */
  readonly maxBytesPerPartition?: number;
  readonly maxWaitTimeMs?: number;
  readonly partitionsConsumedConcurrently?: number;
  /** Metrics are registered here when given (else in a private registry, see `metrics()`). */
  readonly metricsRegistry?: Registry;
  readonly onEvent?: (event: RuntimeEvent) => void;
  readonly hooks?: RuntimeHooks;
}

export interface ResolvedOptions {
  readonly consumerName: string;
  readonly schema: string;
  readonly topics: readonly string[];
  readonly groupId: string;
  readonly deadLetterTopic: string;
  readonly databaseUrl: string;
  readonly dedupRetentionMs: number;
  readonly dedupPurgeIntervalMs: number;
  readonly metricsRefreshIntervalMs: number;
  readonly backoff: BackoffPolicy;
  readonly poolSize: number;
  readonly statementTimeoutMs: number;
  readonly connectionTimeoutMs: number;
  readonly sessionTimeoutMs: number;
  readonly heartbeatIntervalMs: number;
  readonly maxBytesPerPartition: number;
  readonly maxWaitTimeMs: number;
  readonly partitionsConsumedConcurrently: number;
}

const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

/** Postgres schema derived from a consumer name: lower-case, `[^a-z0-9_]` -> `_`. */
export function defaultSchemaName(consumerName: string): string {
  const schema = consumerName.toLowerCase().replace(/[^a-z0-9_]/g, '_');
  return /^[a-z_]/.test(schema) ? schema.slice(0, 63) : `c_${schema}`.slice(0, 63);
}

function positive(name: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback;
  if (!Number.isFinite(v) || v <= 0) {
    throw new ConsumerError(
      'CONSUMER_CONFIG_INVALID',
      `${name} must be a positive number (got ${String(value)})`,
      { details: { option: name } },
    );
  }
  return v;
}

/** Validates a definition and its options once, when the consumer is built; the result is frozen. */
export function resolveOptions<E>(
  definition: ConsumerDefinition<E>,
  options: PostgresConsumerOptions,
): ResolvedOptions {
  if (!definition.name || definition.name.trim() !== definition.name) {
    throw new ConsumerError(
      'CONSUMER_CONFIG_INVALID',
      'a consumer needs a non-empty name without surrounding spaces',
    );
  }
  if (definition.topics.length === 0) {
    throw new ConsumerError('CONSUMER_CONFIG_INVALID', `consumer ${definition.name} declares no topics`);
  }
  const schema = definition.schema ?? defaultSchemaName(definition.name);
  if (!IDENTIFIER.test(schema)) {
    throw new ConsumerError('CONSUMER_CONFIG_INVALID', `schema "${schema}" must match ${IDENTIFIER.source}`, {
      details: { schema },
    });
  }
  for (const table of definition.tables ?? []) {
    if (!IDENTIFIER.test(table)) {
      throw new ConsumerError('CONSUMER_CONFIG_INVALID', `table "${table}" must match ${IDENTIFIER.source}`, {
        details: { table },
      });
    }
  }
  const backoff: BackoffPolicy = Object.freeze({ ...DEFAULT_BACKOFF, ...options.backoff });
  positive('backoff.initialMs', backoff.initialMs, 1);
  positive('backoff.maxMs', backoff.maxMs, 1);
  if (backoff.multiplier < 1 || backoff.jitter < 0 || backoff.jitter > 1) {
    throw new ConsumerError(
      'CONSUMER_CONFIG_INVALID',
      'backoff.multiplier must be >= 1 and backoff.jitter within 0..1',
    );
  }
  return Object.freeze({
    consumerName: definition.name,
    schema,
    topics: Object.freeze([...definition.topics]),
    groupId: options.groupId ?? definition.name,
    deadLetterTopic: options.deadLetterTopic ?? `${definition.name}.dlq`,
    databaseUrl: options.databaseUrl,
    dedupRetentionMs: positive('dedupRetentionMs', options.dedupRetentionMs, 24 * 60 * 60 * 1000),
    dedupPurgeIntervalMs: positive('dedupPurgeIntervalMs', options.dedupPurgeIntervalMs, 10 * 60 * 1000),
    metricsRefreshIntervalMs: positive('metricsRefreshIntervalMs', options.metricsRefreshIntervalMs, 15_000),
    backoff,
    poolSize: positive('poolSize', options.poolSize, 4),
    statementTimeoutMs: positive('statementTimeoutMs', options.statementTimeoutMs, 30_000),
    connectionTimeoutMs: positive('connectionTimeoutMs', options.connectionTimeoutMs, 5_000),
    sessionTimeoutMs: positive('sessionTimeoutMs', options.sessionTimeoutMs, 30_000),
    heartbeatIntervalMs: positive('heartbeatIntervalMs', options.heartbeatIntervalMs, 3_000),
    maxBytesPerPartition: positive('maxBytesPerPartition', options.maxBytesPerPartition, 1024 * 1024),
    maxWaitTimeMs: positive('maxWaitTimeMs', options.maxWaitTimeMs, 500),
    partitionsConsumedConcurrently: positive(
      'partitionsConsumedConcurrently',
      options.partitionsConsumedConcurrently,
      1,
    ),
  });
}

/** Double-quotes an identifier already validated against IDENTIFIER. */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
