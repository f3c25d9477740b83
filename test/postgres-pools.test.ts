import pino from 'pino';
import type pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import {
  analyticsConsumer,
  analyticsConsumerOptions,
  loadAnalyticsConfig,
} from '@livechat-pipeline/analytics';
import { createApiPool, loadApiConfig } from '@livechat-pipeline/api';
import { createAppPool, loadAppConfig } from '@livechat-pipeline/app';
import {
  CrmChatEventOpener,
  createCrmTenantRegistryPool,
  createOutboxPool,
  crmConsumer,
  crmConsumerOptions,
  loadCrmSyncConfig,
} from '@livechat-pipeline/crm-sync';
import { createTenantRegistryPool, loadIngestConfig } from '@livechat-pipeline/ingest';
import { createConsumerPool, resolveOptions } from '@livechat-pipeline/postgres-consumer';
import { createServiceKafka } from '@livechat-pipeline/service-host';
import {
  loadTranscriptsConfig,
  transcriptsConsumer,
  transcriptsConsumerOptions,
} from '@livechat-pipeline/transcripts';

/**
 * Every Postgres pool a service opens takes its size and connection timeout from the service's variables
 * (`<SERVICE>[_<PURPOSE>]_POOL_SIZE`, `<SERVICE>_PG_CONNECT_TIMEOUT_MS`): the pool the service's own factory
 * builds is inspected (never connected), and a bad value stops the configuration naming the variable. That the
 * services run with these pools is checked on their start paths in test/postgres-pools.int.test.ts.
 */

const logger = pino({ level: 'silent' });
const kafka = createServiceKafka({ clientId: 'pools-test', brokers: ['127.0.0.1:1'], logger, security: {} });
const REGISTRY_URL = 'postgres://livechat_ingest:x@127.0.0.1:1/postgres';
const TOKEN_KEYS = `k1:${Buffer.alloc(32, 1).toString('base64')}`;

const opened: pg.Pool[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((pool) => pool.end()));
});
function settings(pool: pg.Pool): { max: unknown; connectTimeout: unknown } {
  opened.push(pool);
  return { max: pool.options.max, connectTimeout: pool.options.connectionTimeoutMillis };
}

interface PoolCase {
  /** The pool's variables and the service's other required variables. */
  readonly size: string;
  readonly timeout: string;
  readonly defaults: { max: number; connectTimeout: number };
  readonly env?: NodeJS.ProcessEnv;
  readonly build: (env: NodeJS.ProcessEnv) => pg.Pool;
}

const cases: Record<string, PoolCase> = {
  transcripts: {
    size: 'TRANSCRIPTS_POOL_SIZE',
    timeout: 'TRANSCRIPTS_PG_CONNECT_TIMEOUT_MS',
    defaults: { max: 6, connectTimeout: 5_000 },
    build: (env) => {
      const config = loadTranscriptsConfig(env);
      const options = transcriptsConsumerOptions(config, kafka, logger);
      return createConsumerPool(resolveOptions(transcriptsConsumer(config), options));
    },
  },
  analytics: {
    size: 'ANALYTICS_POOL_SIZE',
    timeout: 'ANALYTICS_PG_CONNECT_TIMEOUT_MS',
    defaults: { max: 6, connectTimeout: 5_000 },
    build: (env) => {
      const config = loadAnalyticsConfig(env);
      const options = analyticsConsumerOptions(config, kafka, logger);
      return createConsumerPool(resolveOptions(analyticsConsumer(config), options));
    },
  },
  'crm-sync consumer': {
    size: 'CRM_POOL_SIZE',
    timeout: 'CRM_PG_CONNECT_TIMEOUT_MS',
    defaults: { max: 6, connectTimeout: 5_000 },
    build: (env) => {
      const config = loadCrmSyncConfig(env);
      const options = crmConsumerOptions(config, kafka, logger);
      return createConsumerPool(resolveOptions(crmConsumer(config, new CrmChatEventOpener(null)), options));
    },
  },
  'crm-sync outbox': {
    size: 'CRM_OUTBOX_POOL_SIZE',
    timeout: 'CRM_PG_CONNECT_TIMEOUT_MS',
    defaults: { max: 4, connectTimeout: 5_000 },
    build: (env) => createOutboxPool(loadCrmSyncConfig(env)),
  },
  'crm-sync tenant registry': {
    size: 'CRM_TENANT_REGISTRY_POOL_SIZE',
    timeout: 'CRM_PG_CONNECT_TIMEOUT_MS',
    defaults: { max: 2, connectTimeout: 5_000 },
    env: { CRM_TENANT_REGISTRY_DATABASE_URL: REGISTRY_URL, CRM_TOKEN_KEYS: TOKEN_KEYS },
    build: (env) => {
      const config = loadCrmSyncConfig(env);
      if (config.tenantRegistry === null) throw new Error('expected a tenant registry');
      return createCrmTenantRegistryPool(config, config.tenantRegistry);
    },
  },
  api: {
    size: 'API_POOL_SIZE',
    timeout: 'API_PG_CONNECT_TIMEOUT_MS',
    defaults: { max: 10, connectTimeout: 5_000 },
    build: (env) => createApiPool(loadApiConfig(env)),
  },
  app: {
    size: 'APP_POOL_SIZE',
    timeout: 'APP_PG_CONNECT_TIMEOUT_MS',
    defaults: { max: 5, connectTimeout: 5_000 },
    build: (env) => createAppPool(loadAppConfig(env)),
  },
  'ingest tenant registry': {
    size: 'INGEST_TENANT_REGISTRY_POOL_SIZE',
    timeout: 'INGEST_PG_CONNECT_TIMEOUT_MS',
    defaults: { max: 2, connectTimeout: 2_000 },
    env: { INGEST_TENANT_REGISTRY_DATABASE_URL: REGISTRY_URL },
    build: (env) => createTenantRegistryPool(loadIngestConfig(env), REGISTRY_URL),
  },
};

function configProblem(build: () => unknown): string {
  try {
    build();
  } catch (error) {
    const problems = (error as { problems?: unknown }).problems;
    return [String((error as Error).message), ...(Array.isArray(problems) ? problems : [])].join('\n');
  }
  throw new Error('expected a configuration error');
}

describe('Postgres pool settings per service', () => {
  for (const [name, c] of Object.entries(cases)) {
    it(`${name}: the pool gets ${c.size} and ${c.timeout} (and the documented defaults)`, () => {
      expect(settings(c.build({ ...c.env }))).toEqual(c.defaults);
      expect(settings(c.build({ ...c.env, [c.size]: '3', [c.timeout]: '1234' }))).toEqual({
        max: 3,
        connectTimeout: 1234,
      });
    });

    it(`${name}: a bad ${c.size} or ${c.timeout} stops the configuration naming it`, () => {
      for (const bad of ['0', '101', 'six']) {
        expect(configProblem(() => c.build({ ...c.env, [c.size]: bad }))).toMatch(
          new RegExp(`${c.size}: (must be an integer|Too (small|big))`),
        );
      }
      expect(configProblem(() => c.build({ ...c.env, [c.timeout]: '50' }))).toMatch(
        new RegExp(`${c.timeout}: Too small`),
      );
    });
  }
});
