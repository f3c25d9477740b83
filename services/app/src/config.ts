import { fileURLToPath } from 'node:url';
import { z } from 'zod';
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
  postgresUrlVar,
  readEnv,
  readKafkaCluster,
  type KafkaClientSecurity,
  startupTimeoutVar,
  type LogLevel,
} from '@livechat-pipeline/service-host';
import { parseTokenKeys } from './crypto/token-cipher.js';
import type { TokenKey } from './crypto/token-cipher.js';
import { AppConfigError, isAppError } from './errors.js';
import { loadDesiredWebhooks } from './webhooks/desired.js';
import type { DesiredWebhook } from './webhooks/desired.js';

export interface AppConfig {
  readonly http: { readonly host: string; readonly port: number };
  /** /healthz, /readyz, /metrics: off the public port, loopback by default. */
  readonly operations: { readonly host: string; readonly port: number };
  /** How long start-up steps (Postgres, the registry migrations) are retried. */
  readonly startupTimeoutMs: number;
  readonly publicUrl: string;
  /** Where LiveChat delivers webhooks (the ingest): APP_WEBHOOK_URL, default `${APP_PUBLIC_URL}/webhooks/livechat`. */
  readonly webhookUrl: string;
  readonly livechat: {
    readonly clientId: string;
    readonly clientSecret: string;
    readonly accountsUrl: string;
    readonly apiUrl: string;
    /** `account_id:PAT` for the CLI, or null. */
    readonly pat: { readonly accountId: string; readonly token: string } | null;
    readonly timeoutMs: number;
    readonly maxRetries: number;
  };
  /** Client id and secret are both set, so the install flow can run. */
  readonly oauthConfigured: boolean;
  readonly tokenKeys: readonly TokenKey[];
  readonly tokenRefresh: { readonly marginSeconds: number; readonly intervalSeconds: number };
  readonly frameAncestors: readonly string[];
  readonly lifecycleBasicAuth: { readonly user: string; readonly password: string } | null;
  readonly cookieSecure: boolean;
  readonly sessionTtlSeconds: number;
  /** `ingestRole`: the ingest's Postgres role, granted exactly its access at every migration; null: none. */
  readonly database: {
    readonly url: string;
    readonly schema: string;
    readonly ingestRole: string | null;
    readonly poolSize: number;
    readonly connectTimeoutMs: number;
  };
  readonly webhooks: readonly DesiredWebhook[];
  readonly rotationOverlapSeconds: number;
  /** The api's dashboard and the secret its sign-in links are signed with (DASHBOARD_URL, DASHBOARD_LINK_SECRET); null: no link. */
  readonly dashboard: { readonly url: string; readonly linkSecret: string } | null;
  /** Backfill and reconciliation from the Agent Chat API into the raw topic. */
  readonly archives: {
    /** Brokers, client id, and the cluster's TLS and SASL settings (service-host's `KAFKA_SSL*`, `KAFKA_SASL_*`). */
    readonly kafka: { readonly brokers: readonly string[]; readonly clientId: string } & KafkaClientSecurity;
    readonly registryUrl: string;
    readonly rawTopic: string;
    /** Days of history backfilled after an install; 0: none. */
    readonly backfillDays: number;
    /** Calls in flight per tenant. */
    readonly concurrency: number;
    /** Tenants the scheduler works on at once. */
    readonly tenantConcurrency: number;
    /** Full-jitter backoff of the Agent Chat API client: first delay bound and cap. */
    readonly backoff: { readonly baseMs: number; readonly maxMs: number };
    /** Seconds between reconciliation passes over the active tenants; 0: off. */
    readonly reconcileIntervalSeconds: number;
    /** How far each window reaches back before the previous one's end (more than LiveChat's ~1 min retry horizon). */
    readonly reconcileOverlapSeconds: number;
    /** The first window of a tenant without a watermark. */
    readonly reconcileFirstWindowSeconds: number;
    /** A thread we last saw open this long ago is fetched with get_chat. */
    readonly reconcileOpenThreadSeconds: number;
  };
  readonly logLevel: LogLevel;
}

const DEFAULT_WEBHOOKS_FILE = fileURLToPath(
  new URL('../../../config/livechat-webhooks.json', import.meta.url),
);

const httpUrl = httpUrlVar();
const bool = boolVar({ aliases: true });

const envSchema = z.object({
  APP_HOST: z.string().trim().min(1).default('127.0.0.1'),
  APP_PORT: intVar(0, 65535).default(8081),
  APP_OPERATIONS_HOST: z.string().trim().min(1).default('127.0.0.1'),
  APP_OPERATIONS_PORT: intVar(0, 65535).default(8093),
  APP_STARTUP_TIMEOUT_MS: startupTimeoutVar(),
  APP_PUBLIC_URL: httpUrl.default('http://127.0.0.1:8081'),
  APP_WEBHOOK_URL: httpUrl.optional(),
  APP_LOG_LEVEL: logLevelVar(),
  LIVECHAT_CLIENT_ID: z.string().trim().default(''),
  LIVECHAT_CLIENT_SECRET: z.string().trim().default(''),
  LIVECHAT_ACCOUNTS_URL: httpUrl.default('https://accounts.livechat.com'),
  LIVECHAT_API_URL: httpUrl.default('https://api.livechatinc.com/v3.6'),
  LIVECHAT_PAT: z
    .string()
    .regex(/^[^:\s]+:\S+$/, 'must be account_id:PAT')
    .optional(),
  LIVECHAT_HTTP_TIMEOUT_MS: intVar(100, 120_000).default(10_000),
  LIVECHAT_MAX_RETRIES: intVar(0, 20).default(5),
  APP_TOKEN_KEYS: z.string().default(''),
  APP_TOKEN_REFRESH_MARGIN_SECONDS: intVar(10, 86_400).default(900),
  APP_TOKEN_REFRESH_INTERVAL_SECONDS: intVar(1, 86_400).default(60),
  APP_FRAME_ANCESTORS: listVar(/[\s,]+/)
    .default(['https://my.livechatinc.com', 'https://*.livechat.com', 'https://*.text.com'])
    .pipe(
      z
        .array(
          z
            .string()
            .regex(
              /^('self'|'none'|https?:\/\/[A-Za-z0-9.*-]+(:\d+)?)$/,
              "each must be 'self', 'none' or a scheme://host source",
            ),
        )
        .min(1),
    ),
  APP_LIFECYCLE_BASIC_AUTH: z
    .string()
    .regex(/^[^:\s]+:\S{12,}$/, 'must be user:password with a password of 12+ characters')
    .optional(),
  APP_COOKIE_SECURE: bool.optional(),
  APP_SESSION_TTL_SECONDS: intVar(60, 30 * 86_400).default(12 * 3600),
  APP_ROTATION_OVERLAP_SECONDS: intVar(0, 86_400).default(150),
  APP_DB_SCHEMA: z
    .string()
    .regex(/^[a-z_][a-z0-9_]{0,62}$/, 'must be a plain lower-case SQL identifier')
    .default('app'),
  APP_DB_INGEST_ROLE: z
    .string()
    .trim()
    .regex(/^[a-z_][a-z0-9_]{0,62}$/, "must be a plain lower-case SQL identifier (or 'none')")
    .default('livechat_ingest'),
  DATABASE_URL: postgresUrlVar().default('postgres://postgres:postgres@127.0.0.1:55432/postgres'),
  APP_POOL_SIZE: poolSizeVar(5),
  APP_PG_CONNECT_TIMEOUT_MS: pgConnectTimeoutVar(),
  APP_WEBHOOKS_FILE: z.string().trim().min(1).default(DEFAULT_WEBHOOKS_FILE),
  DASHBOARD_URL: httpUrl.optional(),
  DASHBOARD_LINK_SECRET: z.string().trim().min(32, 'must be at least 32 characters').optional(),
  KAFKA_BROKERS: brokersVar().default(['127.0.0.1:59092']),
  KAFKA_CLIENT_ID: z.string().trim().min(1).default('livechat-app'),
  ...kafkaClusterEnv,
  SCHEMA_REGISTRY_URL: httpUrl.default('http://127.0.0.1:58081/apis/ccompat/v7'),
  RAW_WEBHOOK_TOPIC: z
    .string()
    .trim()
    .regex(/^[A-Za-z0-9._-]{1,249}$/, 'must be a Kafka topic name ([A-Za-z0-9._-], up to 249)')
    .default('livechat.webhooks.raw'),
  APP_BACKFILL_DAYS: intVar(0, 3650).default(30),
  APP_AGENT_API_CONCURRENCY: intVar(1, 16).default(2),
  APP_ARCHIVE_TENANT_CONCURRENCY: intVar(1, 64).default(4),
  APP_AGENT_API_BACKOFF_BASE_MS: intVar(1, 60_000).default(250),
  APP_AGENT_API_BACKOFF_MAX_MS: intVar(10, 600_000).default(30_000),
  APP_RECONCILE_INTERVAL_SECONDS: intVar(0, 7 * 86_400).default(900),
  APP_RECONCILE_OVERLAP_SECONDS: intVar(120, 7 * 86_400).default(3600),
  APP_RECONCILE_FIRST_WINDOW_SECONDS: intVar(60, 90 * 86_400).default(86_400),
  APP_RECONCILE_OPEN_THREAD_SECONDS: intVar(60, 30 * 86_400).default(6 * 3600),
});

/**
 * Reads and validates the app's configuration from environment variables, once. Empty values count as unset.
 * Throws AppConfigError naming every missing or bad variable; never echoes a secret value.
 */
export function loadAppConfig(env: NodeJS.ProcessEnv): AppConfig {
  const parsed = readEnv(envSchema, env);
  // The cluster's TLS/SASL settings, as every service reads them (files readable, username with password, …).
  const cluster = readKafkaCluster(env);
  const clusterProblems = cluster.ok
    ? []
    : cluster.problems.filter((p) => parsed.ok || !parsed.problems.includes(p));
  if (!parsed.ok) throw new AppConfigError([...parsed.problems, ...clusterProblems]);
  const problems: string[] = [...clusterProblems];
  const e = parsed.data;

  const { keys, problems: keyProblems } = parseTokenKeys(e.APP_TOKEN_KEYS);
  for (const p of keyProblems) problems.push(`APP_TOKEN_KEYS: ${p}`);
  const oauthConfigured = e.LIVECHAT_CLIENT_ID !== '' && e.LIVECHAT_CLIENT_SECRET !== '';
  if ((e.LIVECHAT_CLIENT_ID === '') !== (e.LIVECHAT_CLIENT_SECRET === '')) {
    problems.push(
      "LIVECHAT_CLIENT_ID / LIVECHAT_CLIENT_SECRET: set both (the app's Developer Console credentials) or neither",
    );
  }
  if (oauthConfigured && keys.length === 0 && keyProblems.length === 0) {
    problems.push(
      'APP_TOKEN_KEYS: required once LIVECHAT_CLIENT_ID is set: comma-separated kid:base64key (32-byte keys), the first one encrypts',
    );
  }
  let webhooks: DesiredWebhook[] = [];
  try {
    webhooks = loadDesiredWebhooks(e.APP_WEBHOOKS_FILE);
  } catch (err) {
    problems.push(`APP_WEBHOOKS_FILE: ${isAppError(err) ? err.message : String(err)}`);
  }
  const webhookUrl = e.APP_WEBHOOK_URL ?? `${e.APP_PUBLIC_URL}/webhooks/livechat`;
  if (webhookUrl.length > 500)
    problems.push('APP_WEBHOOK_URL: LiveChat accepts webhook URLs of at most 500 characters');
  if ((e.DASHBOARD_URL === undefined) !== (e.DASHBOARD_LINK_SECRET === undefined))
    problems.push(
      "DASHBOARD_URL / DASHBOARD_LINK_SECRET: set both (the api's URL and the secret it shares) or neither",
    );
  if (problems.length > 0) throw new AppConfigError(problems);

  const cookieSecure = e.APP_COOKIE_SECURE ?? e.APP_PUBLIC_URL.startsWith('https://');
  const pair = (value: string | undefined) => {
    if (value === undefined) return null;
    const colon = value.indexOf(':');
    return { user: value.slice(0, colon), password: value.slice(colon + 1) };
  };
  const pat = pair(e.LIVECHAT_PAT);

  return deepFreeze<AppConfig>({
    http: { host: e.APP_HOST, port: e.APP_PORT },
    operations: { host: e.APP_OPERATIONS_HOST, port: e.APP_OPERATIONS_PORT },
    startupTimeoutMs: e.APP_STARTUP_TIMEOUT_MS,
    publicUrl: e.APP_PUBLIC_URL,
    webhookUrl,
    livechat: {
      clientId: e.LIVECHAT_CLIENT_ID,
      clientSecret: e.LIVECHAT_CLIENT_SECRET,
      accountsUrl: e.LIVECHAT_ACCOUNTS_URL,
      apiUrl: e.LIVECHAT_API_URL,
      pat: pat === null ? null : { accountId: pat.user, token: pat.password },
      timeoutMs: e.LIVECHAT_HTTP_TIMEOUT_MS,
      maxRetries: e.LIVECHAT_MAX_RETRIES,
    },
    oauthConfigured,
    tokenKeys: keys,
    tokenRefresh: {
      marginSeconds: e.APP_TOKEN_REFRESH_MARGIN_SECONDS,
      intervalSeconds: e.APP_TOKEN_REFRESH_INTERVAL_SECONDS,
    },
    frameAncestors: e.APP_FRAME_ANCESTORS,
    lifecycleBasicAuth: pair(e.APP_LIFECYCLE_BASIC_AUTH),
    cookieSecure,
    sessionTtlSeconds: e.APP_SESSION_TTL_SECONDS,
    database: {
      url: e.DATABASE_URL,
      schema: e.APP_DB_SCHEMA,
      ingestRole: e.APP_DB_INGEST_ROLE === 'none' ? null : e.APP_DB_INGEST_ROLE,
      poolSize: e.APP_POOL_SIZE,
      connectTimeoutMs: e.APP_PG_CONNECT_TIMEOUT_MS,
    },
    webhooks,
    rotationOverlapSeconds: e.APP_ROTATION_OVERLAP_SECONDS,
    dashboard:
      e.DASHBOARD_URL !== undefined && e.DASHBOARD_LINK_SECRET !== undefined
        ? { url: e.DASHBOARD_URL, linkSecret: e.DASHBOARD_LINK_SECRET }
        : null,
    archives: {
      kafka: {
        brokers: e.KAFKA_BROKERS,
        clientId: e.KAFKA_CLIENT_ID,
        ...(cluster.ok && cluster.settings.ssl !== undefined ? { ssl: cluster.settings.ssl } : {}),
        ...(cluster.ok && cluster.settings.sasl !== undefined ? { sasl: cluster.settings.sasl } : {}),
      },
      registryUrl: e.SCHEMA_REGISTRY_URL,
      rawTopic: e.RAW_WEBHOOK_TOPIC,
      backfillDays: e.APP_BACKFILL_DAYS,
      concurrency: e.APP_AGENT_API_CONCURRENCY,
      tenantConcurrency: e.APP_ARCHIVE_TENANT_CONCURRENCY,
      backoff: { baseMs: e.APP_AGENT_API_BACKOFF_BASE_MS, maxMs: e.APP_AGENT_API_BACKOFF_MAX_MS },
      reconcileIntervalSeconds: e.APP_RECONCILE_INTERVAL_SECONDS,
      reconcileOverlapSeconds: e.APP_RECONCILE_OVERLAP_SECONDS,
      reconcileFirstWindowSeconds: e.APP_RECONCILE_FIRST_WINDOW_SECONDS,
      reconcileOpenThreadSeconds: e.APP_RECONCILE_OPEN_THREAD_SECONDS,
    },
    logLevel: e.APP_LOG_LEVEL,
  });
}
