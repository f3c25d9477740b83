import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { isPrivacyError, parsePrivacyConfig, type PrivacyConfig } from '@livechat-pipeline/privacy';
import {
  boolVar,
  brokersVar,
  deepFreeze,
  httpUrlVar,
  intVar,
  kafkaClusterEnv,
  listVar,
  logLevelVar,
  pgConnectTimeoutVar,
  poolSizeVar,
  postgresTlsEnv,
  postgresUrlVar,
  readEnv,
  readKafkaCluster,
  type KafkaClusterSettings,
  type LogLevel,
} from '@livechat-pipeline/service-host';
import { IngestConfigError } from './errors.js';
import {
  LOCAL_DEV_BASIC_PASSWORD,
  LOCAL_DEV_BASIC_USER,
  LOCAL_DEV_SECRET_KEY,
  isLoopbackHost,
} from './local-dev-secrets.js';

export interface BasicCredential {
  readonly user: string;
  readonly password: string;
}

export interface TenantSecrets {
  readonly secretKeys: readonly string[];
  readonly basicAuth: readonly BasicCredential[];
}

export interface IngestConfig {
  readonly http: {
    readonly host: string;
    readonly port: number;
    readonly bodyLimitBytes: number;
    /** Bounds checked on the body text before it is parsed (INGEST_JSON_MAX_DEPTH, INGEST_JSON_MAX_NODES). */
    readonly json: { readonly maxDepth: number; readonly maxNodes: number };
    readonly requestDeadlineMs: number;
    readonly shutdownTimeoutMs: number;
    /** INGEST_TRUST_TRACEPARENT: a sender's `traceparent` is the server span's parent (else only a link). */
    readonly trustTraceparent: boolean;
  };
  /** The operations server (/healthz, /readyz, /metrics), loopback by default. */
  readonly operations: { readonly host: string; readonly port: number; readonly readinessCacheMs: number };
  /** Brokers, client id, and the cluster's TLS, SASL and replication settings (service-host). */
  readonly kafka: { readonly brokers: readonly string[]; readonly clientId: string } & KafkaClusterSettings;
  readonly registry: { readonly url: string };
  /**
   * `partitions`: created with; `refreshMs`: how often the running ingest reads the topic's partition count (it
   * learns partitions added to the topic without a restart).
   */
  readonly rawTopic: { readonly name: string; readonly partitions: number; readonly refreshMs: number };
  readonly batch: { readonly lingerMs: number; readonly maxRecords: number; readonly maxBytes: number };
  /** Idempotent producers in the pool; partition p is written by producer p % producers. */
  readonly producers: number;
  /**
   * INGEST_WORKERS: processes serving the one public port (node:cluster, src/workers.ts); each is a full ingest
   * with its own producers and spool subdirectory. 1: this process serves it alone.
   */
  readonly workers: number;
  readonly auth: {
    /** Global v2 pairs (LIVECHAT_BASIC_AUTH, or the local ones): accepted for every tenant when allowed. */
    readonly basicAuth: readonly BasicCredential[];
    /** Global v3 keys (LIVECHAT_SECRET_KEYS, or the local one): accepted for every tenant when allowed. */
    readonly secretKeys: readonly string[];
    /** Per-tenant secrets by license_id / organization_id (or path label), from LIVECHAT_TENANT_SECRETS_FILE. */
    readonly tenants: Readonly<Record<string, TenantSecrets>>;
    /**
     * Whether the global lists count at all: always in a single-tenant deployment; with per-tenant secrets or the
     * tenant registry only with INGEST_ALLOW_GLOBAL_SECRETS=true (otherwise the config is refused).
     */
    readonly globalSecretsAllowed: boolean;
    /** INGEST_LOCAL_DEV_SECRETS=true: the global lists are the local development secrets. */
    readonly localDevSecrets: boolean;
  };
  readonly logLevel: LogLevel;
  readonly startupTimeoutMs: number;
  /**
   * The LiveChat app's tenant registry (services/app): when set, the v3 secrets of its active tenants
   * are accepted besides the static ones, refreshed every `refreshMs`.
   */
  readonly tenantRegistry: {
    readonly databaseUrl: string | undefined;
    readonly refreshMs: number;
    readonly poolSize: number;
    readonly connectTimeoutMs: number;
  };
  /** The on-disk spool (src/spool/): on when INGEST_SPOOL_DIR is set. */
  readonly spool: SpoolConfig | undefined;
  /** Sealing of raw bodies (issue 19, src/privacy/): on when PRIVACY_KEYS is set. */
  readonly privacy: IngestPrivacyConfig | undefined;
}

export interface IngestPrivacyConfig {
  /** The master keys, the e-mail hash key, the key cache and the key store's schema (packages/privacy). */
  readonly keys: PrivacyConfig;
  /** The key store's Postgres: PRIVACY_DATABASE_URL, else INGEST_TENANT_REGISTRY_DATABASE_URL, else DATABASE_URL. */
  readonly databaseUrl: string;
  /** INGEST_PRIVACY_POOL_SIZE. */
  readonly poolSize: number;
  /** INGEST_PG_CONNECT_TIMEOUT_MS: opening a key-store connection fails (503) rather than hang a request. */
  readonly connectTimeoutMs: number;
  /** INGEST_PRIVACY_QUERY_TIMEOUT_MS: a key look-up not answered by then fails (503); not applied to migrations. */
  readonly queryTimeoutMs: number;
}

export interface SpoolConfig {
  readonly dir: string;
  readonly maxBytes: number;
  /** How long a webhook waits for Kafka's acknowledgement before it is spooled instead. */
  readonly afterMs: number;
  readonly segmentBytes: number;
  /** INGEST_SPOOL_TRACE_HEADERS: spool records' headers (frame version 2, not readable by older ingests). */
  readonly traceHeaders: boolean;
}

const MiB = 1024 * 1024;
/** Chosen by `pnpm bench:ingest` (see the README's Benchmark section). */
const DEFAULT_PRODUCERS = 1;

const NO_SECRETS =
  'LIVECHAT_BASIC_AUTH / LIVECHAT_SECRET_KEYS / LIVECHAT_TENANT_SECRETS_FILE / INGEST_TENANT_REGISTRY_DATABASE_URL: none is set, so every webhook would be refused; set at least one (or, on a laptop only, INGEST_LOCAL_DEV_SECRETS=true)';

const basicPair = z.string().regex(/^[^:]+:.+$/, 'must be user:password');

const envSchema = z.object({
  INGEST_HOST: z.string().trim().min(1).default('127.0.0.1'),
  INGEST_PORT: intVar(0, 65535).default(8080),
  INGEST_OPERATIONS_HOST: z.string().trim().min(1).default('127.0.0.1'),
  INGEST_OPERATIONS_PORT: intVar(0, 65535).default(8092),
  INGEST_READINESS_CACHE_MS: intVar(0, 60_000).default(1000),
  INGEST_LOG_LEVEL: logLevelVar(),
  INGEST_BODY_LIMIT_BYTES: intVar(1024, 100 * MiB).default(MiB),
  INGEST_JSON_MAX_DEPTH: intVar(4, 1000).default(64),
  INGEST_JSON_MAX_NODES: intVar(100, 10_000_000).default(100_000),
  INGEST_REQUEST_DEADLINE_MS: intVar(100, 60_000).default(5000),
  INGEST_SHUTDOWN_TIMEOUT_MS: intVar(100, 300_000).default(10_000),
  INGEST_STARTUP_TIMEOUT_MS: intVar(1000, 600_000).default(60_000),
  INGEST_BATCH_LINGER_MS: intVar(0, 1000).default(2),
  INGEST_BATCH_MAX_RECORDS: intVar(1, 100_000).default(500),
  INGEST_BATCH_MAX_BYTES: intVar(1024, 64 * MiB).default(MiB),
  INGEST_PRODUCERS: intVar(1, 64).default(DEFAULT_PRODUCERS),
  INGEST_WORKERS: intVar(1, 64).default(1),
  INGEST_PARTITION_REFRESH_MS: intVar(100, 3_600_000).default(30_000),
  KAFKA_BROKERS: brokersVar().default(['127.0.0.1:59092']),
  KAFKA_CLIENT_ID: z.string().trim().min(1).default('livechat-ingest'),
  ...kafkaClusterEnv,
  ...postgresTlsEnv,
  SCHEMA_REGISTRY_URL: httpUrlVar().default('http://127.0.0.1:58081/apis/ccompat/v7'),
  RAW_WEBHOOK_TOPIC: z
    .string()
    .trim()
    .regex(/^[A-Za-z0-9._-]{1,249}$/, 'must be a Kafka topic name ([A-Za-z0-9._-], up to 249)')
    .default('livechat.webhooks.raw'),
  RAW_WEBHOOK_TOPIC_PARTITIONS: intVar(1, 10_000).default(6),
  LIVECHAT_BASIC_AUTH: listVar().pipe(z.array(basicPair)).default([]),
  LIVECHAT_SECRET_KEYS: listVar().default([]),
  LIVECHAT_TENANT_SECRETS_FILE: z.string().trim().min(1).optional(),
  INGEST_TENANT_REGISTRY_DATABASE_URL: postgresUrlVar().optional(),
  INGEST_TENANT_REGISTRY_REFRESH_MS: intVar(100, 60_000).default(1000),
  INGEST_TENANT_REGISTRY_POOL_SIZE: poolSizeVar(2),
  INGEST_PG_CONNECT_TIMEOUT_MS: pgConnectTimeoutVar(2_000),
  INGEST_ALLOW_GLOBAL_SECRETS: boolVar().default(false),
  INGEST_LOCAL_DEV_SECRETS: boolVar().default(false),
  INGEST_SPOOL_DIR: z.string().trim().min(1).optional(),
  INGEST_SPOOL_MAX_BYTES: intVar(64 * 1024, Number.MAX_SAFE_INTEGER).default(1024 * MiB),
  INGEST_SPOOL_AFTER_MS: intVar(10, 60_000).default(2000),
  INGEST_SPOOL_SEGMENT_BYTES: intVar(4096, 1024 * MiB).default(16 * MiB),
  INGEST_TRUST_TRACEPARENT: boolVar().default(false),
  INGEST_SPOOL_TRACE_HEADERS: boolVar().default(false),
  PRIVACY_DATABASE_URL: postgresUrlVar().optional(),
  INGEST_PRIVACY_POOL_SIZE: poolSizeVar(2),
  INGEST_PRIVACY_QUERY_TIMEOUT_MS: intVar(100, 600_000).default(2000),
  NODE_ENV: z.string().trim().optional(),
});

const tenantFileSchema = z.object({
  tenants: z.record(
    z.string().min(1),
    z
      .object({
        secretKeys: z.array(z.string().min(1)).default([]),
        basicAuth: z.array(basicPair).default([]),
      })
      .strict(),
  ),
});

/**
 * Reads and validates the ingest's configuration from environment variables, once, at start-up. Empty values
 * count as unset (defaults apply). Throws IngestConfigError naming every missing or bad variable; never echoes
 * secret values.
 */
export function loadIngestConfig(env: NodeJS.ProcessEnv): IngestConfig {
  const parsed = readEnv(envSchema, env);
  const cleaned = parsed.present;
  const problems: string[] = [];
  if (!parsed.ok) {
    problems.push(...parsed.problems);
    if (!(
      'LIVECHAT_BASIC_AUTH' in cleaned ||
      'LIVECHAT_SECRET_KEYS' in cleaned ||
      'LIVECHAT_TENANT_SECRETS_FILE' in cleaned ||
      'INGEST_TENANT_REGISTRY_DATABASE_URL' in cleaned ||
      'INGEST_LOCAL_DEV_SECRETS' in cleaned
    )) {
      problems.push(NO_SECRETS);
    }
    throw new IngestConfigError(problems);
  }
  const e = parsed.data;

  let tenants: Record<string, TenantSecrets> = {};
  if (e.LIVECHAT_TENANT_SECRETS_FILE !== undefined) {
    try {
      tenants = readTenantSecrets(e.LIVECHAT_TENANT_SECRETS_FILE);
    } catch (err) {
      problems.push(`LIVECHAT_TENANT_SECRETS_FILE: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  const hasTenantSecrets = Object.values(tenants).some(
    (t) => t.secretKeys.length > 0 || t.basicAuth.length > 0,
  );
  const hasRegistry = e.INGEST_TENANT_REGISTRY_DATABASE_URL !== undefined;
  const multiTenant = e.LIVECHAT_TENANT_SECRETS_FILE !== undefined || hasRegistry;
  const hasGlobal = e.LIVECHAT_BASIC_AUTH.length > 0 || e.LIVECHAT_SECRET_KEYS.length > 0;
  const production = e.NODE_ENV === 'production';
  const loopback = isLoopbackHost(e.INGEST_HOST);

  if (e.INGEST_LOCAL_DEV_SECRETS) {
    // The local secrets are public: only a laptop with nothing else configured may accept them.
    const conflicts = [
      production ? 'NODE_ENV=production' : undefined,
      loopback ? undefined : `INGEST_HOST=${e.INGEST_HOST} (not loopback)`,
      hasRegistry ? 'INGEST_TENANT_REGISTRY_DATABASE_URL' : undefined,
      e.LIVECHAT_TENANT_SECRETS_FILE !== undefined ? 'LIVECHAT_TENANT_SECRETS_FILE' : undefined,
      hasGlobal ? 'LIVECHAT_SECRET_KEYS / LIVECHAT_BASIC_AUTH' : undefined,
    ].filter((c): c is string => c !== undefined);
    if (conflicts.length > 0) {
      problems.push(
        `INGEST_LOCAL_DEV_SECRETS=true is refused with ${conflicts.join(', ')}: the local secrets are only for a loopback ingest outside production with no other secrets; unset INGEST_LOCAL_DEV_SECRETS and set LIVECHAT_SECRET_KEYS / LIVECHAT_BASIC_AUTH, LIVECHAT_TENANT_SECRETS_FILE or INGEST_TENANT_REGISTRY_DATABASE_URL`,
      );
    }
  } else if (
    (production || !loopback) &&
    (e.LIVECHAT_SECRET_KEYS.includes(LOCAL_DEV_SECRET_KEY) ||
      e.LIVECHAT_BASIC_AUTH.includes(`${LOCAL_DEV_BASIC_USER}:${LOCAL_DEV_BASIC_PASSWORD}`) ||
      Object.values(tenants).some(
        (t) =>
          t.secretKeys.includes(LOCAL_DEV_SECRET_KEY) ||
          t.basicAuth.some((c) => c.password === LOCAL_DEV_BASIC_PASSWORD),
      ))
  ) {
    problems.push(
      `the local development secrets (${LOCAL_DEV_SECRET_KEY} / ${LOCAL_DEV_BASIC_USER}:${LOCAL_DEV_BASIC_PASSWORD}) are public and refused ${production ? 'with NODE_ENV=production' : `on INGEST_HOST=${e.INGEST_HOST}`}: set secrets of your own`,
    );
  }

  if (e.INGEST_OPERATIONS_PORT !== 0 && e.INGEST_OPERATIONS_PORT === e.INGEST_PORT) {
    problems.push(
      `INGEST_OPERATIONS_PORT: must differ from INGEST_PORT (${e.INGEST_PORT}); the operations endpoints are not served on the webhook port`,
    );
  }
  if (e.INGEST_SPOOL_DIR !== undefined && e.INGEST_SPOOL_AFTER_MS >= e.INGEST_REQUEST_DEADLINE_MS) {
    problems.push(
      `INGEST_SPOOL_AFTER_MS (${e.INGEST_SPOOL_AFTER_MS}) must be less than INGEST_REQUEST_DEADLINE_MS (${e.INGEST_REQUEST_DEADLINE_MS}): a webhook must be spooled while its request can still be answered`,
    );
  }
  if (e.INGEST_SPOOL_DIR !== undefined && e.INGEST_SPOOL_SEGMENT_BYTES * 4 > e.INGEST_SPOOL_MAX_BYTES) {
    problems.push(
      `INGEST_SPOOL_SEGMENT_BYTES (${e.INGEST_SPOOL_SEGMENT_BYTES}) must be at most a quarter of INGEST_SPOOL_MAX_BYTES (${e.INGEST_SPOOL_MAX_BYTES}): a segment's drained part counts until the segment is deleted`,
    );
  }
  if (e.INGEST_SPOOL_DIR !== undefined && e.INGEST_SPOOL_MAX_BYTES < e.INGEST_BODY_LIMIT_BYTES + 64 * 1024) {
    problems.push(
      `INGEST_SPOOL_MAX_BYTES (${e.INGEST_SPOOL_MAX_BYTES}) must hold at least one largest webhook (INGEST_BODY_LIMIT_BYTES ${e.INGEST_BODY_LIMIT_BYTES} + 64 KiB)`,
    );
  }
  if (multiTenant && hasGlobal && !e.INGEST_ALLOW_GLOBAL_SECRETS) {
    problems.push(
      'LIVECHAT_SECRET_KEYS / LIVECHAT_BASIC_AUTH are accepted for every tenant, so they are refused next to LIVECHAT_TENANT_SECRETS_FILE / INGEST_TENANT_REGISTRY_DATABASE_URL: unset them, or set INGEST_ALLOW_GLOBAL_SECRETS=true to accept them for every tenant',
    );
  }
  if (
    !hasGlobal &&
    !hasTenantSecrets &&
    !hasRegistry &&
    !e.INGEST_LOCAL_DEV_SECRETS &&
    problems.length === 0
  ) {
    problems.push(NO_SECRETS);
  }
  const privacy = readPrivacy(env, e, problems);
  const cluster = readKafkaCluster(env);
  if (!cluster.ok) problems.push(...cluster.problems);
  if (problems.length > 0 || !cluster.ok) throw new IngestConfigError(problems);
  const kafkaCluster = cluster.settings;

  return deepFreeze<IngestConfig>({
    http: {
      host: e.INGEST_HOST,
      port: e.INGEST_PORT,
      bodyLimitBytes: e.INGEST_BODY_LIMIT_BYTES,
      json: { maxDepth: e.INGEST_JSON_MAX_DEPTH, maxNodes: e.INGEST_JSON_MAX_NODES },
      requestDeadlineMs: e.INGEST_REQUEST_DEADLINE_MS,
      shutdownTimeoutMs: e.INGEST_SHUTDOWN_TIMEOUT_MS,
      trustTraceparent: e.INGEST_TRUST_TRACEPARENT,
    },
    operations: {
      host: e.INGEST_OPERATIONS_HOST,
      port: e.INGEST_OPERATIONS_PORT,
      readinessCacheMs: e.INGEST_READINESS_CACHE_MS,
    },
    kafka: { brokers: e.KAFKA_BROKERS, clientId: e.KAFKA_CLIENT_ID, ...kafkaCluster },
    registry: { url: e.SCHEMA_REGISTRY_URL },
    rawTopic: {
      name: e.RAW_WEBHOOK_TOPIC,
      partitions: e.RAW_WEBHOOK_TOPIC_PARTITIONS,
      refreshMs: e.INGEST_PARTITION_REFRESH_MS,
    },
    batch: {
      lingerMs: e.INGEST_BATCH_LINGER_MS,
      maxRecords: e.INGEST_BATCH_MAX_RECORDS,
      maxBytes: e.INGEST_BATCH_MAX_BYTES,
    },
    producers: e.INGEST_PRODUCERS,
    workers: e.INGEST_WORKERS,
    auth: e.INGEST_LOCAL_DEV_SECRETS
      ? {
          basicAuth: [{ user: LOCAL_DEV_BASIC_USER, password: LOCAL_DEV_BASIC_PASSWORD }],
          secretKeys: [LOCAL_DEV_SECRET_KEY],
          tenants,
          globalSecretsAllowed: true,
          localDevSecrets: true,
        }
      : {
          basicAuth: e.LIVECHAT_BASIC_AUTH.map(toCredential),
          secretKeys: e.LIVECHAT_SECRET_KEYS,
          tenants,
          globalSecretsAllowed: !multiTenant || e.INGEST_ALLOW_GLOBAL_SECRETS,
          localDevSecrets: false,
        },
    logLevel: e.INGEST_LOG_LEVEL,
    startupTimeoutMs: e.INGEST_STARTUP_TIMEOUT_MS,
    tenantRegistry: {
      databaseUrl: e.INGEST_TENANT_REGISTRY_DATABASE_URL,
      refreshMs: e.INGEST_TENANT_REGISTRY_REFRESH_MS,
      poolSize: e.INGEST_TENANT_REGISTRY_POOL_SIZE,
      connectTimeoutMs: e.INGEST_PG_CONNECT_TIMEOUT_MS,
    },
    spool:
      e.INGEST_SPOOL_DIR === undefined
        ? undefined
        : {
            dir: e.INGEST_SPOOL_DIR,
            maxBytes: e.INGEST_SPOOL_MAX_BYTES,
            afterMs: e.INGEST_SPOOL_AFTER_MS,
            segmentBytes: e.INGEST_SPOOL_SEGMENT_BYTES,
            traceHeaders: e.INGEST_SPOOL_TRACE_HEADERS,
          },
    privacy,
  });
}

const NO_PRIVACY_DATABASE =
  'PRIVACY_DATABASE_URL: required when PRIVACY_KEYS is set (the key store of the data keys): set PRIVACY_DATABASE_URL, or INGEST_TENANT_REGISTRY_DATABASE_URL or DATABASE_URL, which it defaults to';

/**
 * The privacy settings: undefined when PRIVACY_KEYS is empty (nothing is sealed, no key store is needed). With keys,
 * the key store's URL is PRIVACY_DATABASE_URL, else the tenant registry's, else DATABASE_URL (read only then, so an
 * unrelated DATABASE_URL never stops an ingest without privacy). Problems are added to `problems`.
 */
function readPrivacy(
  env: NodeJS.ProcessEnv,
  e: z.infer<typeof envSchema>,
  problems: string[],
): IngestPrivacyConfig | undefined {
  let keys: PrivacyConfig | null;
  try {
    keys = parsePrivacyConfig(env);
  } catch (err) {
    if (!isPrivacyError(err)) throw err;
    problems.push(err.message);
    return undefined;
  }
  if (keys === null) return undefined;
  let databaseUrl = e.PRIVACY_DATABASE_URL ?? e.INGEST_TENANT_REGISTRY_DATABASE_URL;
  if (databaseUrl === undefined) {
    const fallback = postgresUrlVar().safeParse(env['DATABASE_URL']?.trim() || undefined);
    if (env['DATABASE_URL']?.trim() && !fallback.success)
      problems.push(
        `DATABASE_URL (the key store's database, PRIVACY_DATABASE_URL being unset): ${fallback.error.issues.map((i) => i.message).join('; ')}`,
      );
    else if (fallback.success) databaseUrl = fallback.data;
    else problems.push(NO_PRIVACY_DATABASE);
  }
  if (databaseUrl === undefined) return undefined;
  return {
    keys,
    databaseUrl,
    poolSize: e.INGEST_PRIVACY_POOL_SIZE,
    connectTimeoutMs: e.INGEST_PG_CONNECT_TIMEOUT_MS,
    queryTimeoutMs: e.INGEST_PRIVACY_QUERY_TIMEOUT_MS,
  };
}

function readTenantSecrets(file: string): Record<string, TenantSecrets> {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    const reason = err instanceof SyntaxError ? 'is not valid JSON' : 'cannot be read';
    throw new Error(`${file} ${reason}`, { cause: err });
  }
  const parsed = tenantFileSchema.safeParse(json);
  if (!parsed.success) {
    const where = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new Error(
      `${file} does not match { "tenants": { "<id>": { "secretKeys": [...], "basicAuth": ["user:pw"] } } } (${where})`,
    );
  }
  const out: Record<string, TenantSecrets> = {};
  for (const [tenant, secrets] of Object.entries(parsed.data.tenants)) {
    out[tenant] = { secretKeys: secrets.secretKeys, basicAuth: secrets.basicAuth.map(toCredential) };
  }
  return out;
}

function toCredential(pair: string): BasicCredential {
  const colon = pair.indexOf(':');
  return { user: pair.slice(0, colon), password: pair.slice(colon + 1) };
}
