import pg from 'pg';
import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import { ensureTopic, topicSpecs } from '@livechat-pipeline/events';
import type { ChatDomainEvent } from '@livechat-pipeline/livechat';
import {
  createPostgresConsumer,
  migrateConsumerSchema,
  type PostgresConsumer,
} from '@livechat-pipeline/postgres-consumer';
import { Startup } from '@livechat-pipeline/service-host';
import type { CrmSyncConfig } from './config.js';
import { consumerOptions, createCrmKafka, crmConsumer, crmMigrationsDir } from './consumer.js';
import { HubSpotClient } from './hubspot/client.js';
import { createCrmMetrics } from './metrics.js';
import { ChatEventOpener, openCrmPrivacyVault } from './privacy.js';
import { AccountLimits, nextMidnight } from './sync/accounts.js';
import { ErasureStore } from './sync/erasures.js';
import { SyncStore } from './sync/store.js';
import { openSealedToken, TenantRegistry } from '@livechat-pipeline/tenant-registry';
import { registryTokenSource, staticTokenSource, type TokenSource } from './sync/tokens.js';
import { OutboxWorker, type WorkerHooks } from './sync/worker.js';

export interface CrmSync {
  readonly consumer: PostgresConsumer<ChatDomainEvent>;
  readonly worker: OutboxWorker;
  readonly metricsRegistry: Registry;
  /** The settings of its own pools (the consumer's: `consumer.poolOptions`), for checks. */
  readonly poolOptions: {
    readonly outbox: Readonly<pg.PoolOptions>;
    readonly tenantRegistry: Readonly<pg.PoolOptions> | null;
  };
  ready(): Promise<{ ok: boolean; details: unknown }>;
  stop(): Promise<void>;
}

export interface CrmSyncStartOptions {
  /** Default: HUBSPOT_ACCESS_TOKEN for every tenant. */
  readonly tokens?: TokenSource;
  /** Test seams of the worker. */
  readonly hooks?: WorkerHooks;
  /** false: the consumer only (e.g. several processes with one worker elsewhere). */
  readonly worker?: boolean;
}

/**
 * Each start-up step retried until CRM_STARTUP_TIMEOUT_MS: the input topic, the dead-letter topic, Postgres, the
 * schema's migrations, joining the group. Then the outbox worker starts beside the consumer.
 */
export async function startCrmSync(
  config: CrmSyncConfig,
  logger: Logger,
  options: CrmSyncStartOptions = {},
): Promise<CrmSync> {
  const startup = new Startup({ timeoutMs: config.startupTimeoutMs, logger });
  const kafka = createCrmKafka(config, logger);
  const brokers = config.kafka.brokers;
  const replicationFactor = config.kafka.replicationFactor;
  const registry = new Registry();
  // With PRIVACY_KEYS set, the key store is opened (its schema migrated) before the consumer starts.
  let privacy: Awaited<ReturnType<typeof openCrmPrivacyVault>> = null;
  const definition = crmConsumer(config, new ChatEventOpener(() => privacy?.vault ?? null, registry));
  const consumerOpts = consumerOptions(config, kafka, logger, registry);
  let consumer = createPostgresConsumer(definition, consumerOpts);

  const input = {
    ...topicSpecs.chatEvents({
      topic: config.chatEventsTopic.name,
      partitions: config.chatEventsTopic.partitions,
      replicationFactor,
      minInsyncReplicas: config.kafka.minInsyncReplicas,
      allowSingleInsyncReplica: config.kafka.allowSingleInsyncReplica,
    }),
    requires: [],
  };
  await startup.step(`ensure topic ${input.topic}`, () => ensureTopic(kafka, input, { brokers }));
  const deadLetters = topicSpecs.consumerDeadLetters({
    topic: consumer.options.deadLetterTopic,
    replicationFactor,
    minInsyncReplicas: config.kafka.minInsyncReplicas,
    allowSingleInsyncReplica: config.kafka.allowSingleInsyncReplica,
  });
  await startup.step(`ensure topic ${deadLetters.topic}`, () => ensureTopic(kafka, deadLetters, { brokers }));
  await startup.step('connect to Postgres', () => pingPostgres(config.databaseUrl));
  await startup.step(`migrate schema ${config.schema}`, () =>
    migrateConsumerSchema({
      databaseUrl: config.databaseUrl,
      schema: config.schema,
      migrationsDir: crmMigrationsDir,
    }),
  );
  if (config.privacy !== null)
    privacy = await startup.step(`open the privacy key store (schema ${config.privacy.vault.schema})`, () =>
      openCrmPrivacyVault(config),
    );
  // The worker needs only Postgres: it drains what is there while the consumer joins its group (which can take a
  // session timeout after a crash).
  const pool = createOutboxPool(config);
  // per-tenant tokens from the app's registry (unless the caller gives its own token source)
  const registryPool =
    options.tokens === undefined && config.tenantRegistry !== null
      ? createCrmTenantRegistryPool(config, config.tenantRegistry)
      : null;
  const pools = registryPool === null ? [pool] : [pool, registryPool];
  const metrics = createCrmMetrics(registry);
  const worker = new OutboxWorker({
    store: new SyncStore(pool, `"${config.schema}"`),
    erasures: new ErasureStore(pool, `"${config.schema}"`),
    client: new HubSpotClient({
      baseUrl: config.hubspot.apiUrl,
      timeoutMs: config.hubspot.timeoutMs,
      rateLimitWaitMs: config.hubspot.rateLimitWaitMs,
      onCall: metrics.onCall,
    }),
    limits: new AccountLimits({
      burst: config.hubspot.burst,
      windowMs: config.hubspot.burstWindowMs,
      probeMs: config.worker.probeMs,
      nextDailyReset: (now) => nextMidnight(now, config.hubspot.dailyResetOffsetMinutes),
    }),
    tokens: options.tokens ?? tokenSource(config, registryPool),
    metrics,
    logger,
    options: {
      ...config.worker,
      requestTimeoutMs: config.hubspot.timeoutMs,
      lookupDelayMs: config.hubspot.lookupDelayMs,
    },
    ...(options.hooks === undefined ? {} : { hooks: options.hooks }),
  });
  if (options.worker !== false) worker.start();

  let first = true;
  await startup
    .step('start consumer', async () => {
      if (!first) consumer = createPostgresConsumer(definition, consumerOpts);
      first = false;
      try {
        await consumer.start();
      } catch (error) {
        await consumer.stop().catch(() => undefined);
        throw error;
      }
    })
    .catch(async (error: unknown) => {
      await worker.stop();
      await Promise.all(pools.map((p) => p.end().catch(() => undefined)));
      await privacy?.close();
      throw error;
    });

  return {
    consumer,
    worker,
    metricsRegistry: registry,
    poolOptions: { outbox: pool.options, tenantRegistry: registryPool?.options ?? null },
    ready: async () => {
      const report = await consumer.ready();
      return { ok: report.ok && !worker.stopped, details: { ...report.details, worker: !worker.stopped } };
    },
    stop: async () => {
      await worker.stop();
      await consumer.stop();
      await Promise.all(pools.map((p) => p.end().catch(() => undefined)));
      await privacy?.close();
    },
  };
}

/** The outbox worker's pool (CRM_OUTBOX_POOL_SIZE, CRM_PG_CONNECT_TIMEOUT_MS). */
export function createOutboxPool(config: CrmSyncConfig): pg.Pool {
  const pool = new pg.Pool({
    connectionString: config.databaseUrl,
    max: config.pools.outboxSize,
    connectionTimeoutMillis: config.pools.connectTimeoutMs,
  });
  pool.on('error', () => undefined);
  return pool;
}

/** The tenant registry's pool (CRM_TENANT_REGISTRY_DATABASE_URL, CRM_TENANT_REGISTRY_POOL_SIZE). */
export function createCrmTenantRegistryPool(
  config: CrmSyncConfig,
  registry: NonNullable<CrmSyncConfig['tenantRegistry']>,
): pg.Pool {
  const pool = new pg.Pool({
    connectionString: registry.databaseUrl,
    max: config.pools.tenantRegistrySize,
    connectionTimeoutMillis: config.pools.connectTimeoutMs,
  });
  pool.on('error', () => undefined);
  return pool;
}

/** HUBSPOT_ACCESS_TOKEN, and with a tenant registry each tenant's own token first. */
function tokenSource(config: CrmSyncConfig, registryPool: pg.Pool | null): TokenSource {
  const fallback = staticTokenSource(config.hubspot.accessToken);
  const registryConfig = config.tenantRegistry;
  if (registryConfig === null || registryPool === null) return fallback;
  const registry = new TenantRegistry(registryPool, { schema: registryConfig.schema });
  return registryTokenSource(
    registry,
    (sealed, aad) => openSealedToken(registryConfig.tokenKeys, sealed, aad),
    fallback,
    registryConfig.cacheMs,
  );
}

async function pingPostgres(databaseUrl: string): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 5_000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('select 1');
  } finally {
    await client.end().catch(() => undefined);
  }
}
