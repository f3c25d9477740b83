import { z } from 'zod';
import { TOPICS } from '@livechat-pipeline/events';
import { isPrivacyError, parsePrivacyConfig } from '@livechat-pipeline/privacy';
import {
  ServiceConfigError,
  connectionEnv,
  kafkaClusterFromEnv,
  intVar,
  nameVar,
  parseEnv,
  pgConnectTimeoutVar,
  poolSizeVar,
  postgresUrlVar,
  startupTimeoutVar,
  type KafkaClusterSettings,
  type LogLevel,
} from '@livechat-pipeline/service-host';
import type { ProjectionPrivacyConfig } from './privacy.js';

export interface TranscriptsConfig {
  /** Brokers, client id, and the cluster's TLS, SASL and replication settings (service-host). */
  readonly kafka: { readonly brokers: readonly string[]; readonly clientId: string } & KafkaClusterSettings;
  readonly registry: { readonly url: string };
  readonly databaseUrl: string;
  readonly chatEventsTopic: { readonly name: string; readonly partitions: number };
  readonly consumerName: string;
  readonly schema: string;
  /** Throughput knobs of the consumer runtime (see the README). */
  readonly consumer: {
    readonly partitionsConcurrently: number;
    readonly fetchMaxBytes: number;
    readonly poolSize: number;
    readonly connectTimeoutMs: number;
    /** How often the lag and dead-letter gauges are read from Kafka and Postgres (the runtime's timer). */
    readonly metricsRefreshMs: number;
  };
  readonly http: { readonly host: string; readonly port: number };
  /** How long start-up steps (topics, schema, Postgres, migrations) are retried. */
  readonly startupTimeoutMs: number;
  readonly logLevel: LogLevel;
  /** The key store that opens sealed chat events (issue 19); null when PRIVACY_KEYS is empty. */
  readonly privacy: ProjectionPrivacyConfig | null;
}

const schema = z.object({
  ...connectionEnv('livechat-transcripts'),
  DATABASE_URL: postgresUrlVar().default('postgres://postgres:postgres@127.0.0.1:55432/postgres'),
  CHAT_EVENTS_TOPIC: nameVar.default(TOPICS.chatEvents),
  CHAT_EVENTS_TOPIC_PARTITIONS: intVar(1, 1000).default(6),
  TRANSCRIPTS_CONSUMER_NAME: nameVar.default('transcripts'),
  TRANSCRIPTS_SCHEMA: z
    .string()
    .regex(/^[a-z_][a-z0-9_]{0,62}$/, 'must be a lower-case Postgres identifier')
    .default('transcripts'),
  TRANSCRIPTS_PARTITIONS_CONCURRENTLY: intVar(1, 100).default(3),
  TRANSCRIPTS_FETCH_MAX_BYTES: intVar(65_536, 64 * 1024 * 1024).default(4 * 1024 * 1024),
  TRANSCRIPTS_POOL_SIZE: poolSizeVar(6),
  TRANSCRIPTS_METRICS_REFRESH_MS: intVar(100, 600_000).default(15_000),
  TRANSCRIPTS_PG_CONNECT_TIMEOUT_MS: pgConnectTimeoutVar(),
  TRANSCRIPTS_HOST: nameVar.default('127.0.0.1'),
  TRANSCRIPTS_STARTUP_TIMEOUT_MS: startupTimeoutVar(),
  TRANSCRIPTS_PORT: intVar(0, 65535).default(8091),
  PRIVACY_DATABASE_URL: postgresUrlVar().optional(),
  TRANSCRIPTS_PRIVACY_POOL_SIZE: poolSizeVar(2),
  TRANSCRIPTS_PRIVACY_TIMEOUT_MS: intVar(100, 120_000).default(10_000),
});

/** Reads the service's environment once; every problem is named in one error (ServiceConfigError). */
export function loadTranscriptsConfig(env: NodeJS.ProcessEnv): TranscriptsConfig {
  const e = parseEnv(schema, env, 'transcripts');
  let vault;
  try {
    vault = parsePrivacyConfig(env);
  } catch (error) {
    if (isPrivacyError(error))
      throw new ServiceConfigError(`invalid transcripts configuration:\n  ${error.message}`);
    throw error;
  }
  return Object.freeze({
    kafka: {
      brokers: e.KAFKA_BROKERS,
      clientId: e.KAFKA_CLIENT_ID,
      ...kafkaClusterFromEnv(env),
    },
    registry: { url: e.SCHEMA_REGISTRY_URL },
    databaseUrl: e.DATABASE_URL,
    chatEventsTopic: { name: e.CHAT_EVENTS_TOPIC, partitions: e.CHAT_EVENTS_TOPIC_PARTITIONS },
    consumerName: e.TRANSCRIPTS_CONSUMER_NAME,
    schema: e.TRANSCRIPTS_SCHEMA,
    consumer: {
      partitionsConcurrently: e.TRANSCRIPTS_PARTITIONS_CONCURRENTLY,
      fetchMaxBytes: e.TRANSCRIPTS_FETCH_MAX_BYTES,
      poolSize: e.TRANSCRIPTS_POOL_SIZE,
      connectTimeoutMs: e.TRANSCRIPTS_PG_CONNECT_TIMEOUT_MS,
      metricsRefreshMs: e.TRANSCRIPTS_METRICS_REFRESH_MS,
    },
    http: { host: e.TRANSCRIPTS_HOST, port: e.TRANSCRIPTS_PORT },
    startupTimeoutMs: e.TRANSCRIPTS_STARTUP_TIMEOUT_MS,
    logLevel: e.LOG_LEVEL,
    privacy:
      vault === null
        ? null
        : {
            vault,
            databaseUrl: e.PRIVACY_DATABASE_URL ?? e.DATABASE_URL,
            poolSize: e.TRANSCRIPTS_PRIVACY_POOL_SIZE,
            connectTimeoutMs: e.TRANSCRIPTS_PG_CONNECT_TIMEOUT_MS,
            statementTimeoutMs: e.TRANSCRIPTS_PRIVACY_TIMEOUT_MS,
          },
  });
}
