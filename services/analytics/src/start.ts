import pg from 'pg';
import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import { ensureTopic, topicSpecs } from '@livechat-pipeline/events';
import {
  createPostgresConsumer,
  migrateConsumerSchema,
  type PostgresConsumer,
} from '@livechat-pipeline/postgres-consumer';
import type { ChatDomainEvent } from '@livechat-pipeline/livechat';
import { isPermanentStartupError, Startup } from '@livechat-pipeline/service-host';
import { quoteIdent } from './facts/apply.js';
import type { AnalyticsConfig } from './config.js';
import {
  consumerOptions,
  createAnalyticsKafka,
  analyticsConsumer,
  analyticsMigrationsDir,
} from './consumer.js';
import { ChatEventOpener, openPrivacyVault } from './privacy.js';

/**
 * Each start-up step retried until ANALYTICS_STARTUP_TIMEOUT_MS (a fresh stack, or services starting
 * together): the input topic exists (whichever service starts first creates it, with the shared spec), the
 * dead-letter topic exists with the settings it needs, Postgres answers, the schema is migrated, and the
 * consumer joins its group. With PRIVACY_KEYS set, the key store is opened (and its schema migrated) before the
 * consumer starts; its pool is closed when the consumer stops.
 */
export async function startAnalytics(
  config: AnalyticsConfig,
  logger: Logger,
): Promise<PostgresConsumer<ChatDomainEvent>> {
  const startup = new Startup({ timeoutMs: config.startupTimeoutMs, logger });
  const kafka = createAnalyticsKafka(config, logger);
  const brokers = config.kafka.brokers;
  const replicationFactor = config.kafka.replicationFactor;
  const registry = new Registry();
  const base = consumerOptions(config, kafka, logger);
  let running = false;
  let privacy: Awaited<ReturnType<typeof openPrivacyVault>> = null;
  const definition = analyticsConsumer(
    config,
    new ChatEventOpener(() => privacy?.vault ?? null, { service: 'analytics', registry }),
  );
  const options = {
    ...base,
    metricsRegistry: registry,
    // The privacy pool lives as long as the consumer that started; a start attempt that failed is not the end.
    onEvent: (event: Parameters<NonNullable<typeof base.onEvent>>[0]) => {
      base.onEvent?.(event);
      if (event.type === 'stopped' && running) void privacy?.close();
    },
  };
  let consumer = createPostgresConsumer(definition, options);

  // A reader: it creates the topic with the writer's settings when it starts first, and leaves checking them to the writer.
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
  if (config.privacy !== null) {
    const privacyConfig = config.privacy;
    privacy = await startup.step(`open the privacy key store (schema ${privacyConfig.vault.schema})`, () =>
      openPrivacyVault(privacyConfig),
    );
  }
  try {
    await startup.step(`migrate schema ${config.schema}`, () =>
      migrateConsumerSchema({
        databaseUrl: config.databaseUrl,
        schema: config.schema,
        migrationsDir: analyticsMigrationsDir,
      }),
    );
    await startup.step(
      'apply tenant time zones',
      () => applyTenantTimeZones(config.databaseUrl, config.schema, config.tenantTimeZones),
      // A zone Postgres does not know (22023, from the check on tenant_settings) will not become known by retrying.
      { isPermanent: (error) => isPermanentStartupError(error) || pgCode(error) === '22023' },
    );
    let first = true;
    await startup.step('start consumer', async () => {
      if (!first) consumer = createPostgresConsumer(definition, options);
      first = false;
      try {
        await consumer.start();
      } catch (error) {
        await consumer.stop().catch(() => undefined);
        throw error;
      }
    });
  } catch (error) {
    await privacy?.close();
    throw error;
  }
  running = true;
  return consumer;
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

/** ANALYTICS_TENANT_TIME_ZONES into `tenant_settings` (a tenant set there by SQL and not named here is kept). */
async function applyTenantTimeZones(
  databaseUrl: string,
  schema: string,
  zones: ReadonlyMap<string, string>,
): Promise<void> {
  if (zones.size === 0) return;
  const client = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 5_000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query(
      `insert into ${quoteIdent(schema)}.tenant_settings (tenant, time_zone)
       select * from unnest($1::text[], $2::text[])
       on conflict (tenant) do update set time_zone = excluded.time_zone`,
      [[...zones.keys()], [...zones.values()]],
    );
  } finally {
    await client.end().catch(() => undefined);
  }
}

function pgCode(error: unknown): unknown {
  return typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
}
