import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadAnalyticsConfig, startAnalytics } from '@livechat-pipeline/analytics';
import { createApiDeps, loadApiConfig } from '@livechat-pipeline/api';
import { createAppDeps, loadAppConfig } from '@livechat-pipeline/app';
import { loadCrmSyncConfig, startCrmSync } from '@livechat-pipeline/crm-sync';
import { StaticSecretVerifier, createIngestVerifier, loadIngestConfig } from '@livechat-pipeline/ingest';
import {
  createTestDatabase,
  stackEndpoints,
  uniqueName,
  type TestDatabase,
} from '@livechat-pipeline/testkit';
import { loadTranscriptsConfig, startTranscripts } from '@livechat-pipeline/transcripts';

/**
 * The pools the services actually run with: each service is started through the entry its main.ts calls
 * (startTranscripts, startAnalytics, startCrmSync, createApiDeps, createAppDeps) with its pool variables set to
 * values no default has, and the started objects' pools must carry them; the ingest's registry pool through
 * createIngestVerifier, which its createIngestDeps calls. (test/postgres-pools.test.ts checks the variables'
 * validation and defaults.) A start path that builds its own pool instead of the configured one fails here.
 */

const logger = pino({ level: 'silent' });
const TOKEN_KEYS = `k1:${Buffer.alloc(32, 1).toString('base64')}`;
const configured = (options: Readonly<{ max?: number; connectionTimeoutMillis?: number }>) => ({
  max: options.max,
  connectTimeout: options.connectionTimeoutMillis,
});

let db: TestDatabase;
const stops: (() => Promise<unknown>)[] = [];
beforeAll(async () => {
  db = await createTestDatabase('pools');
});
afterAll(async () => {
  await Promise.all(stops.splice(0).map((stop) => stop().catch(() => undefined)));
  await db.drop();
});

function kafkaEnv(prefix: string): NodeJS.ProcessEnv {
  return {
    KAFKA_BROKERS: stackEndpoints().kafkaBrokers.join(','),
    SCHEMA_REGISTRY_URL: stackEndpoints().schemaRegistryUrl,
    DATABASE_URL: db.url,
    CHAT_EVENTS_TOPIC: uniqueName(`${prefix}-chat-events`),
    CHAT_EVENTS_TOPIC_PARTITIONS: '1',
  };
}

describe('Postgres pools of the started services', () => {
  it('transcripts: the consumer startTranscripts runs has TRANSCRIPTS_POOL_SIZE and its connect timeout', async () => {
    const config = loadTranscriptsConfig({
      ...kafkaEnv('pools-transcripts'),
      TRANSCRIPTS_CONSUMER_NAME: uniqueName('pools-transcripts'),
      TRANSCRIPTS_POOL_SIZE: '3',
      TRANSCRIPTS_PG_CONNECT_TIMEOUT_MS: '1234',
    });
    const consumer = await startTranscripts(config, logger);
    stops.push(() => consumer.stop());
    expect(configured(consumer.poolOptions)).toEqual({ max: 3, connectTimeout: 1234 });
  });

  it('analytics: the consumer startAnalytics runs has ANALYTICS_POOL_SIZE and its connect timeout', async () => {
    const config = loadAnalyticsConfig({
      ...kafkaEnv('pools-analytics'),
      ANALYTICS_CONSUMER_NAME: uniqueName('pools-analytics'),
      ANALYTICS_POOL_SIZE: '4',
      ANALYTICS_PG_CONNECT_TIMEOUT_MS: '1235',
    });
    const consumer = await startAnalytics(config, logger);
    stops.push(() => consumer.stop());
    expect(configured(consumer.poolOptions)).toEqual({ max: 4, connectTimeout: 1235 });
  });

  it("crm-sync: startCrmSync's consumer, outbox and tenant registry pools have their sizes and timeout", async () => {
    const config = loadCrmSyncConfig({
      ...kafkaEnv('pools-crm'),
      CRM_CONSUMER_NAME: uniqueName('pools-crm'),
      CRM_PORT: '0',
      HUBSPOT_API_URL: 'http://127.0.0.1:9',
      HUBSPOT_ACCESS_TOKEN: 'unused',
      CRM_TENANT_REGISTRY_DATABASE_URL: db.url,
      CRM_TOKEN_KEYS: TOKEN_KEYS,
      CRM_POOL_SIZE: '3',
      CRM_OUTBOX_POOL_SIZE: '5',
      CRM_TENANT_REGISTRY_POOL_SIZE: '7',
      CRM_PG_CONNECT_TIMEOUT_MS: '1236',
    });
    const crm = await startCrmSync(config, logger, { worker: false });
    stops.push(() => crm.stop());
    expect(configured(crm.consumer.poolOptions)).toEqual({ max: 3, connectTimeout: 1236 });
    expect(configured(crm.poolOptions.outbox)).toEqual({ max: 5, connectTimeout: 1236 });
    expect(crm.poolOptions.tenantRegistry).not.toBeNull();
    expect(configured(crm.poolOptions.tenantRegistry!)).toEqual({ max: 7, connectTimeout: 1236 });
  });

  it("api: createApiDeps's pool has API_POOL_SIZE and API_PG_CONNECT_TIMEOUT_MS", async () => {
    const deps = await createApiDeps(
      loadApiConfig({ DATABASE_URL: db.url, API_POOL_SIZE: '3', API_PG_CONNECT_TIMEOUT_MS: '1237' }),
      logger,
    );
    stops.push(() => deps.close());
    expect(configured(deps.pool.options)).toEqual({ max: 3, connectTimeout: 1237 });
  });

  it("app: createAppDeps's pool has APP_POOL_SIZE and APP_PG_CONNECT_TIMEOUT_MS", async () => {
    const deps = await createAppDeps(
      loadAppConfig({
        DATABASE_URL: db.url,
        APP_DB_INGEST_ROLE: 'none',
        APP_POOL_SIZE: '3',
        APP_PG_CONNECT_TIMEOUT_MS: '1238',
      }),
      logger,
    );
    stops.push(() => deps.close());
    expect(configured(deps.pool.options)).toEqual({ max: 3, connectTimeout: 1238 });
  });

  it("ingest: createIngestVerifier's registry pool has INGEST_TENANT_REGISTRY_POOL_SIZE and its connect timeout", async () => {
    const config = loadIngestConfig({
      INGEST_TENANT_REGISTRY_DATABASE_URL: db.url,
      INGEST_TENANT_REGISTRY_POOL_SIZE: '3',
      INGEST_PG_CONNECT_TIMEOUT_MS: '1239',
    });
    // the app's registry is not in this database: the verifier starts empty and retries at its refresh
    const verifier = await createIngestVerifier(config, new StaticSecretVerifier(config.auth), logger);
    stops.push(() => verifier.close());
    expect(verifier.registryPoolOptions).not.toBeNull();
    expect(configured(verifier.registryPoolOptions!)).toEqual({ max: 3, connectTimeout: 1239 });
  });
});
