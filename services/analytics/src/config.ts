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

export interface AnalyticsConfig {
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
  /** Each tenant's IANA time zone for days and hours (UTC unless named here). */
  readonly tenantTimeZones: ReadonlyMap<string, string>;
  /** The key store that opens sealed chat events (issue 19); null when PRIVACY_KEYS is empty. */
  readonly privacy: ProjectionPrivacyConfig | null;
}

/** `tenant=Area/City,…`: each zone must be one the runtime (and so Postgres, both use IANA names) knows. */
const timeZonesVar = z
  .string()
  .default('')
  .transform((text, ctx) => {
    const zones = new Map<string, string>();
    for (const part of text
      .split(',')
      .map((p) => p.trim())
      .filter((p) => p !== '')) {
      const at = part.lastIndexOf('=');
      const tenant = part.slice(0, at).trim();
      const zone = part.slice(at + 1).trim();
      if (at <= 0 || zone === '' || !isTimeZone(zone)) {
        ctx.addIssue({ code: 'custom', message: `"${part}" is not tenant=<IANA time zone>` });
        return z.NEVER;
      }
      zones.set(tenant, zone);
    }
    return zones;
  });

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

const schema = z.object({
  ...connectionEnv('livechat-analytics'),
  DATABASE_URL: postgresUrlVar().default('postgres://postgres:postgres@127.0.0.1:55432/postgres'),
  CHAT_EVENTS_TOPIC: nameVar.default(TOPICS.chatEvents),
  CHAT_EVENTS_TOPIC_PARTITIONS: intVar(1, 1000).default(6),
  ANALYTICS_CONSUMER_NAME: nameVar.default('analytics'),
  ANALYTICS_SCHEMA: z
    .string()
    .regex(/^[a-z_][a-z0-9_]{0,62}$/, 'must be a lower-case Postgres identifier')
    .default('analytics'),
  ANALYTICS_PARTITIONS_CONCURRENTLY: intVar(1, 100).default(3),
  ANALYTICS_FETCH_MAX_BYTES: intVar(65_536, 64 * 1024 * 1024).default(4 * 1024 * 1024),
  ANALYTICS_POOL_SIZE: poolSizeVar(6),
  ANALYTICS_METRICS_REFRESH_MS: intVar(100, 600_000).default(15_000),
  ANALYTICS_PG_CONNECT_TIMEOUT_MS: pgConnectTimeoutVar(),
  ANALYTICS_HOST: nameVar.default('127.0.0.1'),
  ANALYTICS_STARTUP_TIMEOUT_MS: startupTimeoutVar(),
  ANALYTICS_PORT: intVar(0, 65535).default(8094),
  ANALYTICS_TENANT_TIME_ZONES: timeZonesVar,
  PRIVACY_DATABASE_URL: postgresUrlVar().optional(),
  ANALYTICS_PRIVACY_POOL_SIZE: poolSizeVar(2),
  ANALYTICS_PRIVACY_TIMEOUT_MS: intVar(100, 120_000).default(10_000),
});

/** Reads the service's environment once; every problem is named in one error (ServiceConfigError). */
export function loadAnalyticsConfig(env: NodeJS.ProcessEnv): AnalyticsConfig {
  const e = parseEnv(schema, env, 'analytics');
  let vault;
  try {
    vault = parsePrivacyConfig(env);
  } catch (error) {
    if (isPrivacyError(error))
      throw new ServiceConfigError(`invalid analytics configuration:\n  ${error.message}`);
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
    consumerName: e.ANALYTICS_CONSUMER_NAME,
    schema: e.ANALYTICS_SCHEMA,
    consumer: {
      partitionsConcurrently: e.ANALYTICS_PARTITIONS_CONCURRENTLY,
      fetchMaxBytes: e.ANALYTICS_FETCH_MAX_BYTES,
      poolSize: e.ANALYTICS_POOL_SIZE,
      connectTimeoutMs: e.ANALYTICS_PG_CONNECT_TIMEOUT_MS,
      metricsRefreshMs: e.ANALYTICS_METRICS_REFRESH_MS,
    },
    http: { host: e.ANALYTICS_HOST, port: e.ANALYTICS_PORT },
    startupTimeoutMs: e.ANALYTICS_STARTUP_TIMEOUT_MS,
    logLevel: e.LOG_LEVEL,
    tenantTimeZones: e.ANALYTICS_TENANT_TIME_ZONES,
    privacy:
      vault === null
        ? null
        : {
            vault,
            databaseUrl: e.PRIVACY_DATABASE_URL ?? e.DATABASE_URL,
            poolSize: e.ANALYTICS_PRIVACY_POOL_SIZE,
            connectTimeoutMs: e.ANALYTICS_PG_CONNECT_TIMEOUT_MS,
            statementTimeoutMs: e.ANALYTICS_PRIVACY_TIMEOUT_MS,
          },
  });
}
