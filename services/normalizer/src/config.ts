import { z } from 'zod';
import { TOPICS } from '@livechat-pipeline/events';
import type { ParseLimits } from '@livechat-pipeline/livechat';
import { isPrivacyError, parsePrivacyConfig, type PrivacyConfig } from '@livechat-pipeline/privacy';
import {
  ServiceConfigError,
  connectionEnv,
  kafkaClusterFromEnv,
  intVar,
  nameVar,
  parseEnv,
  poolSizeVar,
  postgresUrlVar,
  startupTimeoutVar,
  type KafkaClusterSettings,
  type LogLevel,
} from '@livechat-pipeline/service-host';

export interface NormalizerConfig {
  /** Brokers, client id, and the cluster's TLS, SASL and replication settings (service-host). */
  readonly kafka: { readonly brokers: readonly string[]; readonly clientId: string } & KafkaClusterSettings;
  readonly registry: { readonly url: string };
  readonly groupId: string;
  readonly partitionsConcurrently: number;
  readonly rawTopic: string;
  readonly chatEventsTopic: { readonly name: string; readonly partitions: number };
  readonly deadLetterTopic: string;
  /** How often the group's lag and the dead-letter topic's size are read from Kafka for /metrics. */
  readonly metricsRefreshMs: number;
  readonly http: { readonly host: string; readonly port: number };
  /** How long start-up steps (topics, schema, Postgres, migrations) are retried. */
  readonly startupTimeoutMs: number;
  readonly logLevel: LogLevel;
  /** Bounds on one raw record: over one, the record is dead-lettered (NORMALIZER_OVER_LIMIT). */
  readonly limits: { readonly parse: ParseLimits; readonly maxOutputBytes: number };
  /**
   * Crypto-shredding (issue 19), on when PRIVACY_KEYS is set: raw bodies are opened and chat events sealed with the
   * chats' keys from the key store at `databaseUrl`. Null: off, events are produced in clear as before, and a
   * sealed raw record waits (retryably) for a process that has the keys.
   */
  readonly privacy: NormalizerPrivacyConfig | null;
}

export interface NormalizerPrivacyConfig {
  /** Master keys, e-mail hash key, cache and schema (never logged). */
  readonly vault: PrivacyConfig;
  /** PRIVACY_DATABASE_URL: the key store's Postgres. */
  readonly databaseUrl: string;
  /** NORMALIZER_PRIVACY_POOL_SIZE. */
  readonly poolSize: number;
}

const schema = z.object({
  ...connectionEnv('livechat-normalizer'),
  NORMALIZER_GROUP_ID: nameVar.default('livechat-normalizer'),
  NORMALIZER_PARTITIONS_CONCURRENTLY: intVar(1, 100).default(3),
  RAW_WEBHOOK_TOPIC: nameVar.default(TOPICS.rawWebhook),
  CHAT_EVENTS_TOPIC: nameVar.default(TOPICS.chatEvents),
  CHAT_EVENTS_TOPIC_PARTITIONS: intVar(1, 1000).default(6),
  NORMALIZER_DLQ_TOPIC: nameVar.default(TOPICS.normalizerDeadLetters),
  NORMALIZER_METRICS_REFRESH_MS: intVar(100, 600_000).default(15_000),
  NORMALIZER_HOST: nameVar.default('127.0.0.1'),
  NORMALIZER_STARTUP_TIMEOUT_MS: startupTimeoutVar(),
  NORMALIZER_PORT: intVar(0, 65535).default(8090),
  NORMALIZER_MAX_EVENTS_PER_WEBHOOK: intVar(1, 1_000_000).default(10_000),
  NORMALIZER_MAX_THREADS_PER_WEBHOOK: intVar(1, 1_000_000).default(1_000),
  NORMALIZER_MAX_USERS_PER_WEBHOOK: intVar(1, 1_000_000).default(1_000),
  // Deeper bodies would overflow the stack of JSON.stringify (about 4,000 levels on Node 20's default stack).
  NORMALIZER_MAX_JSON_DEPTH: intVar(2, 1_000).default(100),
  NORMALIZER_MAX_OUTPUT_BYTES: intVar(1024, 64 * 1024 * 1024).default(4 * 1024 * 1024),
  PRIVACY_DATABASE_URL: postgresUrlVar().optional(),
  NORMALIZER_PRIVACY_POOL_SIZE: poolSizeVar(2),
});

/** Reads the normalizer's environment once; every problem is named in one error (ServiceConfigError). */
export function loadNormalizerConfig(env: NodeJS.ProcessEnv): NormalizerConfig {
  // The PRIVACY_* settings are parsed by packages/privacy; their problems join the others' in one error.
  const privacyProblems: string[] = [];
  let vault: PrivacyConfig | null = null;
  try {
    vault = parsePrivacyConfig(env);
  } catch (error) {
    if (!isPrivacyError(error)) throw error;
    privacyProblems.push(...error.message.split('; '));
  }
  if (vault !== null && (env['PRIVACY_DATABASE_URL']?.trim() ?? '') === '')
    privacyProblems.push(
      "PRIVACY_DATABASE_URL: required when PRIVACY_KEYS is set (the key store's Postgres, e.g. postgres://user:pass@host:5432/db)",
    );
  let e: z.output<typeof schema>;
  try {
    e = parseEnv(schema, env, 'normalizer');
  } catch (error) {
    if (!(error instanceof ServiceConfigError) || privacyProblems.length === 0) throw error;
    throw new ServiceConfigError(`${error.message}\n${privacyProblems.map((p) => `  ${p}`).join('\n')}`);
  }
  if (privacyProblems.length > 0)
    throw new ServiceConfigError(
      `invalid normalizer configuration:\n${privacyProblems.map((p) => `  ${p}`).join('\n')}`,
    );
  return Object.freeze({
    kafka: {
      brokers: e.KAFKA_BROKERS,
      clientId: e.KAFKA_CLIENT_ID,
      ...kafkaClusterFromEnv(env),
    },
    registry: { url: e.SCHEMA_REGISTRY_URL },
    groupId: e.NORMALIZER_GROUP_ID,
    partitionsConcurrently: e.NORMALIZER_PARTITIONS_CONCURRENTLY,
    rawTopic: e.RAW_WEBHOOK_TOPIC,
    chatEventsTopic: { name: e.CHAT_EVENTS_TOPIC, partitions: e.CHAT_EVENTS_TOPIC_PARTITIONS },
    deadLetterTopic: e.NORMALIZER_DLQ_TOPIC,
    metricsRefreshMs: e.NORMALIZER_METRICS_REFRESH_MS,
    http: { host: e.NORMALIZER_HOST, port: e.NORMALIZER_PORT },
    startupTimeoutMs: e.NORMALIZER_STARTUP_TIMEOUT_MS,
    logLevel: e.LOG_LEVEL,
    limits: {
      parse: {
        maxEvents: e.NORMALIZER_MAX_EVENTS_PER_WEBHOOK,
        maxThreads: e.NORMALIZER_MAX_THREADS_PER_WEBHOOK,
        maxUsers: e.NORMALIZER_MAX_USERS_PER_WEBHOOK,
        maxDepth: e.NORMALIZER_MAX_JSON_DEPTH,
      },
      maxOutputBytes: e.NORMALIZER_MAX_OUTPUT_BYTES,
    },
    privacy:
      vault === null || e.PRIVACY_DATABASE_URL === undefined
        ? null
        : { vault, databaseUrl: e.PRIVACY_DATABASE_URL, poolSize: e.NORMALIZER_PRIVACY_POOL_SIZE },
  });
}
