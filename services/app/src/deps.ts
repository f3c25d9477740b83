import { TenantRegistry, migrateRegistryWithGrants } from '@livechat-pipeline/tenant-registry';
import { Startup } from '@livechat-pipeline/service-host';
import pg from 'pg';
import type { Logger } from 'pino';
import type { AppConfig } from './config.js';
import { TokenCipher } from './crypto/token-cipher.js';
import type { RetryPolicy } from './http/retrying-fetch.js';
import { ConfigurationApi, patCredentials } from './livechat/configuration-api.js';
import type { ApiCredentials } from './livechat/configuration-api.js';
import { AccountsClient } from './oauth/accounts-client.js';
import { createStateCipher } from './oauth/state-cookie.js';
import { createAppMetrics } from './operations.js';
import type { AppMetrics } from './operations.js';
import { Sessions } from './session.js';
import { TokenService } from './tokens/token-service.js';
import { BackgroundSync } from './webhooks/background.js';
import { WebhookSync } from './webhooks/sync.js';
import { AppError } from './errors.js';
import { ArchiveJobs } from './archives/jobs.js';
import { KafkaArchiveSink } from './archives/kafka-sink.js';
import { ArchiveStore } from './archives/store.js';

/** Everything the routes and the CLI need, built once from the config. */
export interface AppDeps {
  readonly config: AppConfig;
  readonly logger: Logger;
  readonly pool: pg.Pool;
  readonly metrics: AppMetrics;
  readonly registry: TenantRegistry;
  readonly sessions: Sessions;
  /** Null when LIVECHAT_CLIENT_ID / _SECRET (and so APP_TOKEN_KEYS) are not set. */
  readonly oauth: {
    /** Seals tokens at rest (APP_TOKEN_KEYS). */
    readonly cipher: TokenCipher;
    /** Seals the OAuth state cookie (keys derived from APP_TOKEN_KEYS with HKDF). */
    readonly stateCipher: TokenCipher;
    readonly accounts: AccountsClient;
    readonly tokens: TokenService;
  } | null;
  /** A webhook sync for the app's client id with these credentials. */
  webhookSync(credentials: ApiCredentials): WebhookSync;
  /** The sync the OAuth callback starts without waiting for it (null without OAuth). */
  readonly backgroundSync: BackgroundSync | null;
  /** Backfill and reconciliation: checkpoints in Postgres, the raw topic writer, the background jobs. */
  readonly archives: {
    readonly store: ArchiveStore;
    readonly sink: KafkaArchiveSink;
    readonly jobs: ArchiveJobs;
  };
  /** A webhook sync with the operator's PAT (LIVECHAT_PAT). */
  patWebhookSync(): WebhookSync;
  close(): Promise<void>;
}

export function retryPolicy(config: AppConfig): RetryPolicy {
  return { maxRetries: config.livechat.maxRetries, timeoutMs: config.livechat.timeoutMs };
}

/** The app's pool (APP_POOL_SIZE, APP_PG_CONNECT_TIMEOUT_MS). */
export function createAppPool(config: AppConfig): pg.Pool {
  return new pg.Pool({
    connectionString: config.database.url,
    max: config.database.poolSize,
    connectionTimeoutMillis: config.database.connectTimeoutMs,
  });
}

/**
 * Connects to Postgres, migrates the registry schema (retried until APP_STARTUP_TIMEOUT_MS while Postgres is not
 * there yet; a migration that fails for good stops the start at once), and builds the clients.
 */
export async function createAppDeps(
  config: AppConfig,
  logger: Logger,
  options: { pool?: pg.Pool; metrics?: AppMetrics; startup?: Startup } = {},
): Promise<AppDeps> {
  const startup = options.startup ?? new Startup({ timeoutMs: config.startupTimeoutMs, logger });
  const pool = options.pool ?? createAppPool(config);
  // An idle connection Postgres drops (restart, failover, terminated backend) must not crash the process:
  // without a listener the pool's 'error' event is thrown. The next query opens a new connection.
  pool.on('error', (err) =>
    logger.warn({ err: { message: err.message.slice(0, 300) } }, 'idle Postgres connection lost'),
  );
  const { applied, ingestRoleMissing } = await startup.step(`migrate schema ${config.database.schema}`, () =>
    migrateRegistryWithGrants(pool, {
      schema: config.database.schema,
      ...(config.database.ingestRole === null ? {} : { ingestRole: config.database.ingestRole }),
    }),
  );
  if (applied.length > 0)
    logger.info({ schema: config.database.schema, applied }, 'registry schema migrated');
  if (ingestRoleMissing)
    logger.warn(
      { role: config.database.ingestRole },
      'the ingest role does not exist: no grants made (create it, or set APP_DB_INGEST_ROLE=none)',
    );
  const registry = new TenantRegistry(pool, { schema: config.database.schema });
  const archiveStore = new ArchiveStore(pool, { schema: config.database.schema });
  await startup.step(`migrate archive walks in ${config.database.schema}`, () => archiveStore.migrate());
  const metrics = options.metrics ?? createAppMetrics();
  const policy: RetryPolicy = {
    ...retryPolicy(config),
    onAttempt: (call, outcome) => metrics.livechatApiCalls.inc({ call, outcome }),
  };
  let oauth: AppDeps['oauth'] = null;
  if (config.oauthConfigured) {
    const cipher = new TokenCipher(config.tokenKeys);
    const accounts = new AccountsClient(
      {
        accountsUrl: config.livechat.accountsUrl,
        clientId: config.livechat.clientId,
        clientSecret: config.livechat.clientSecret,
        policy,
      },
      logger,
    );
    const tokens = new TokenService({
      registry,
      cipher,
      accounts,
      logger,
      marginSeconds: config.tokenRefresh.marginSeconds,
    });
    oauth = { cipher, stateCipher: createStateCipher(config.tokenKeys), accounts, tokens };
  }
  const webhookSync = (credentials: ApiCredentials) => {
    if (config.livechat.clientId === '')
      throw new AppError(
        'APP_NOT_CONFIGURED',
        "LIVECHAT_CLIENT_ID is not set: webhooks are registered for the app's client id",
      );
    const api = new ConfigurationApi(
      { apiUrl: config.livechat.apiUrl, ownerClientId: config.livechat.clientId, policy },
      credentials,
      logger,
    );
    return new WebhookSync({
      api,
      registry,
      pool,
      desired: config.webhooks,
      webhookUrl: config.webhookUrl,
      logger,
    });
  };
  const tokens = oauth?.tokens;
  const backgroundSync =
    tokens === undefined || config.livechat.clientId === ''
      ? null
      : new BackgroundSync(
          (tenantId) => webhookSync(tokens.credentialsFor(tenantId)).sync({ lock: 'try' }),
          logger,
          (outcome) => metrics.webhookSyncs.inc({ outcome }),
        );
  const sink = new KafkaArchiveSink(
    {
      brokers: config.archives.kafka.brokers,
      clientId: config.archives.kafka.clientId,
      security: config.archives.kafka,
      registryUrl: config.archives.registryUrl,
      topic: config.archives.rawTopic,
    },
    logger,
  );
  const jobs = new ArchiveJobs({
    config,
    logger,
    metrics,
    store: archiveStore,
    sink,
    registry,
    tokens: oauth?.tokens ?? null,
  });
  return {
    config,
    logger,
    pool,
    metrics,
    registry,
    backgroundSync,
    archives: { store: archiveStore, sink, jobs },
    sessions: new Sessions(registry, { ttlSeconds: config.sessionTtlSeconds, secure: config.cookieSecure }),
    oauth,
    webhookSync,
    patWebhookSync() {
      const pat = config.livechat.pat;
      if (pat === null)
        throw new AppError(
          'APP_NOT_CONFIGURED',
          'LIVECHAT_PAT is not set: export LIVECHAT_PAT=<account_id>:<personal access token> (scope webhooks.configuration:rw)',
        );
      return webhookSync(patCredentials(pat.accountId, pat.token));
    },
    async close() {
      await jobs.close();
      await sink.close();
      await backgroundSync?.close();
      await oauth?.tokens.stop();
      if (options.pool === undefined) await pool.end();
    },
  };
}
