import { z } from 'zod';
import { TOPICS } from '@livechat-pipeline/events';
import { isPrivacyError, parsePrivacyConfig, type PrivacyConfig } from '@livechat-pipeline/privacy';
import {
  ServiceConfigError,
  connectionEnv,
  kafkaClusterFromEnv,
  httpUrlVar,
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

export interface CrmSyncConfig {
  /** Brokers, client id, and the cluster's TLS, SASL and replication settings (service-host). */
  readonly kafka: { readonly brokers: readonly string[]; readonly clientId: string } & KafkaClusterSettings;
  readonly registry: { readonly url: string };
  readonly databaseUrl: string;
  readonly chatEventsTopic: { readonly name: string; readonly partitions: number };
  readonly consumerName: string;
  readonly schema: string;
  readonly consumer: {
    readonly partitionsConcurrently: number;
    readonly fetchMaxBytes: number;
    readonly poolSize: number;
    /** How often the lag and dead-letter gauges are read from Kafka and Postgres (the runtime's timer). */
    readonly metricsRefreshMs: number;
    readonly sessionTimeoutMs: number;
  };
  /** The outbox worker's pool and the tenant registry's (the consumer's is `consumer.poolSize`), and how long any of
   * them may take to open a connection. */
  readonly pools: {
    readonly outboxSize: number;
    readonly tenantRegistrySize: number;
    readonly connectTimeoutMs: number;
  };
  readonly hubspot: {
    readonly apiUrl: string;
    /** Null: no single-tenant token (the service then says CRM sync has nothing to send with). */
    readonly accessToken: string | null;
    readonly timeoutMs: number;
    readonly rateLimitWaitMs: number;
    /** After an ambiguous create, the look-up waits this long past the create's start. */
    readonly lookupDelayMs: number;
    /** Calls per account per window: the token bucket (below HubSpot's burst limit). */
    readonly burst: number;
    readonly burstWindowMs: number;
    /** Minutes east of UTC of the accounts' time zone (HubSpot's daily limit resets at its midnight). */
    readonly dailyResetOffsetMinutes: number;
  };
  /** Per-tenant tokens from the tenant registry (null: HUBSPOT_ACCESS_TOKEN only). */
  readonly tenantRegistry: {
    readonly databaseUrl: string;
    readonly schema: string;
    /** The app's APP_TOKEN_KEYS: key id -> 32-byte key. */
    readonly tokenKeys: ReadonlyMap<string, Buffer>;
    /** How long a tenant's token (or its absence) is kept before the registry is asked again. */
    readonly cacheMs: number;
  } | null;
  readonly worker: {
    readonly batchSize: number;
    readonly leaseMs: number;
    /** CRM_ERASURE_PASS_MS: erasure work per worker pass before the sync gets its turn. */
    readonly erasurePassMs: number;
    readonly pollMs: number;
    readonly concurrency: number;
    readonly settleMs: number;
    readonly probeMs: number;
    readonly backoff: { readonly initialMs: number; readonly maxMs: number };
    readonly noteMaxChars: number;
    readonly contactProperties: Readonly<Record<string, string>>;
  };
  readonly http: { readonly host: string; readonly port: number };
  readonly startupTimeoutMs: number;
  readonly logLevel: LogLevel;
  /** The key store that opens sealed chat events (issue 19); null when PRIVACY_KEYS is empty (privacy off). */
  readonly privacy: {
    readonly vault: PrivacyConfig;
    /** PRIVACY_DATABASE_URL, else DATABASE_URL. */
    readonly databaseUrl: string;
    /** CRM_SYNC_PRIVACY_POOL_SIZE */
    readonly poolSize: number;
    /** CRM_SYNC_PRIVACY_QUERY_TIMEOUT_MS: a key-store query that takes longer fails (retried), never hangs. */
    readonly queryTimeoutMs: number;
  } | null;
}

/** `session_field:hubspot_property` pairs, comma-separated. */
const propertyMapVar = z
  .string()
  .default('')
  .transform((s, ctx) => {
    const map: Record<string, string> = {};
    for (const pair of s
      .split(',')
      .map((p) => p.trim())
      .filter((p) => p !== '')) {
      const m = /^([^:]+):([a-z0-9_]+)$/.exec(pair);
      if (m === null) {
        ctx.addIssue({ code: 'custom', message: `"${pair}" is not session_field:hubspot_property` });
        continue;
      }
      map[m[1]!.trim()] = m[2]!;
    }
    return map;
  });

/** The app's APP_TOKEN_KEYS format: comma-separated `kid:base64key`, 32-byte keys. */
const tokenKeysVar = z.string().transform((s, ctx) => {
  const keys = new Map<string, Buffer>();
  for (const entry of s
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e !== '')) {
    const colon = entry.indexOf(':');
    const key = Buffer.from(entry.slice(colon + 1), 'base64');
    if (colon <= 0 || key.length !== 32) {
      ctx.addIssue({
        code: 'custom',
        message: "must be kid:base64key entries with 32-byte keys (the app's APP_TOKEN_KEYS)",
      });
      continue;
    }
    keys.set(entry.slice(0, colon), key);
  }
  return keys;
});

const schema = z.object({
  ...connectionEnv('livechat-crm-sync'),
  DATABASE_URL: postgresUrlVar().default('postgres://postgres:postgres@127.0.0.1:55432/postgres'),
  CHAT_EVENTS_TOPIC: nameVar.default(TOPICS.chatEvents),
  CHAT_EVENTS_TOPIC_PARTITIONS: intVar(1, 1000).default(6),
  CRM_CONSUMER_NAME: nameVar.default('crm-sync'),
  CRM_SCHEMA: z
    .string()
    .regex(/^[a-z_][a-z0-9_]{0,62}$/, 'must be a lower-case Postgres identifier')
    .default('crm'),
  CRM_PARTITIONS_CONCURRENTLY: intVar(1, 100).default(3),
  CRM_FETCH_MAX_BYTES: intVar(65_536, 64 * 1024 * 1024).default(4 * 1024 * 1024),
  CRM_POOL_SIZE: poolSizeVar(6, 2),
  CRM_METRICS_REFRESH_MS: intVar(100, 600_000).default(15_000),
  CRM_OUTBOX_POOL_SIZE: poolSizeVar(4),
  CRM_TENANT_REGISTRY_POOL_SIZE: poolSizeVar(2),
  CRM_PG_CONNECT_TIMEOUT_MS: pgConnectTimeoutVar(),
  CRM_SESSION_TIMEOUT_MS: intVar(6_000, 300_000).default(30_000),
  HUBSPOT_API_URL: httpUrlVar().default('https://api.hubapi.com'),
  HUBSPOT_ACCESS_TOKEN: z.string().trim().optional(),
  HUBSPOT_TIMEOUT_MS: intVar(100, 120_000).default(10_000),
  HUBSPOT_RATE_LIMIT_WAIT_MS: intVar(100, 600_000).default(10_000),
  HUBSPOT_LOOKUP_DELAY_MS: intVar(0, 3_600_000).default(30_000),
  HUBSPOT_BURST: intVar(1, 10_000).default(80),
  HUBSPOT_BURST_WINDOW_MS: intVar(100, 600_000).default(10_000),
  HUBSPOT_DAILY_RESET_OFFSET_MINUTES: intVar(-720, 840).default(0),
  CRM_TENANT_REGISTRY_DATABASE_URL: postgresUrlVar().optional(),
  CRM_TENANT_REGISTRY_SCHEMA: z
    .string()
    .regex(/^[a-z_][a-z0-9_]{0,62}$/, 'must be a lower-case Postgres identifier')
    .default('app'),
  CRM_TOKEN_KEYS: tokenKeysVar.optional(),
  CRM_TOKEN_CACHE_MS: intVar(0, 3_600_000).default(10_000),
  CRM_WORKER_BATCH: intVar(1, 1000).default(100),
  CRM_WORKER_LEASE_MS: intVar(1_000, 3_600_000).default(120_000),
  CRM_ERASURE_PASS_MS: intVar(100, 3_600_000).default(10_000),
  CRM_WORKER_POLL_MS: intVar(10, 60_000).default(250),
  CRM_WORKER_CONCURRENCY: intVar(1, 64).default(4),
  CRM_SETTLE_MS: intVar(0, 600_000).default(1_000),
  CRM_PROBE_MS: intVar(100, 3_600_000).default(60_000),
  CRM_BACKOFF_INITIAL_MS: intVar(10, 600_000).default(1_000),
  CRM_BACKOFF_MAX_MS: intVar(10, 3_600_000).default(300_000),
  CRM_NOTE_MAX_CHARS: intVar(2_000, 65_536).default(65_536),
  CRM_CONTACT_PROPERTIES: propertyMapVar,
  CRM_HOST: nameVar.default('127.0.0.1'),
  CRM_PORT: intVar(0, 65535).default(8095),
  CRM_STARTUP_TIMEOUT_MS: startupTimeoutVar(),
  PRIVACY_DATABASE_URL: postgresUrlVar().optional(),
  CRM_SYNC_PRIVACY_POOL_SIZE: poolSizeVar(2),
  CRM_SYNC_PRIVACY_QUERY_TIMEOUT_MS: intVar(100, 300_000).default(10_000),
});

/** Reads the service's environment once; every problem is named in one error (ServiceConfigError). */
export function loadCrmSyncConfig(env: NodeJS.ProcessEnv): CrmSyncConfig {
  const e = parseEnv(
    schema.refine(
      (v) => v.CRM_TENANT_REGISTRY_DATABASE_URL === undefined || (v.CRM_TOKEN_KEYS?.size ?? 0) > 0,
      {
        message: "CRM_TOKEN_KEYS (the app's APP_TOKEN_KEYS) is needed with CRM_TENANT_REGISTRY_DATABASE_URL",
        path: ['CRM_TOKEN_KEYS'],
      },
    ),
    env,
    'crm-sync',
  );
  let vault: PrivacyConfig | null;
  try {
    vault = parsePrivacyConfig(env);
  } catch (error) {
    // PRIVACY_CONFIG_INVALID names every problem and never echoes key material.
    if (isPrivacyError(error))
      throw new ServiceConfigError(`invalid crm-sync configuration:\n  ${error.message}`);
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
    consumerName: e.CRM_CONSUMER_NAME,
    schema: e.CRM_SCHEMA,
    consumer: {
      partitionsConcurrently: e.CRM_PARTITIONS_CONCURRENTLY,
      fetchMaxBytes: e.CRM_FETCH_MAX_BYTES,
      poolSize: e.CRM_POOL_SIZE,
      metricsRefreshMs: e.CRM_METRICS_REFRESH_MS,
      sessionTimeoutMs: e.CRM_SESSION_TIMEOUT_MS,
    },
    pools: {
      outboxSize: e.CRM_OUTBOX_POOL_SIZE,
      tenantRegistrySize: e.CRM_TENANT_REGISTRY_POOL_SIZE,
      connectTimeoutMs: e.CRM_PG_CONNECT_TIMEOUT_MS,
    },
    hubspot: {
      apiUrl: e.HUBSPOT_API_URL,
      accessToken:
        e.HUBSPOT_ACCESS_TOKEN === undefined || e.HUBSPOT_ACCESS_TOKEN === '' ? null : e.HUBSPOT_ACCESS_TOKEN,
      timeoutMs: e.HUBSPOT_TIMEOUT_MS,
      rateLimitWaitMs: e.HUBSPOT_RATE_LIMIT_WAIT_MS,
      lookupDelayMs: e.HUBSPOT_LOOKUP_DELAY_MS,
      burst: e.HUBSPOT_BURST,
      burstWindowMs: e.HUBSPOT_BURST_WINDOW_MS,
      dailyResetOffsetMinutes: e.HUBSPOT_DAILY_RESET_OFFSET_MINUTES,
    },
    tenantRegistry:
      e.CRM_TENANT_REGISTRY_DATABASE_URL === undefined
        ? null
        : {
            databaseUrl: e.CRM_TENANT_REGISTRY_DATABASE_URL,
            schema: e.CRM_TENANT_REGISTRY_SCHEMA,
            tokenKeys: e.CRM_TOKEN_KEYS ?? new Map(),
            cacheMs: e.CRM_TOKEN_CACHE_MS,
          },
    worker: {
      batchSize: e.CRM_WORKER_BATCH,
      leaseMs: e.CRM_WORKER_LEASE_MS,
      erasurePassMs: e.CRM_ERASURE_PASS_MS,
      pollMs: e.CRM_WORKER_POLL_MS,
      concurrency: e.CRM_WORKER_CONCURRENCY,
      settleMs: e.CRM_SETTLE_MS,
      probeMs: e.CRM_PROBE_MS,
      backoff: { initialMs: e.CRM_BACKOFF_INITIAL_MS, maxMs: e.CRM_BACKOFF_MAX_MS },
      noteMaxChars: e.CRM_NOTE_MAX_CHARS,
      contactProperties: e.CRM_CONTACT_PROPERTIES,
    },
    http: { host: e.CRM_HOST, port: e.CRM_PORT },
    startupTimeoutMs: e.CRM_STARTUP_TIMEOUT_MS,
    logLevel: e.LOG_LEVEL,
    privacy:
      vault === null
        ? null
        : {
            vault,
            databaseUrl: e.PRIVACY_DATABASE_URL ?? e.DATABASE_URL,
            poolSize: e.CRM_SYNC_PRIVACY_POOL_SIZE,
            queryTimeoutMs: e.CRM_SYNC_PRIVACY_QUERY_TIMEOUT_MS,
          },
  });
}
