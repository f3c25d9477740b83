import pg from 'pg';
import type { Logger } from 'pino';
import { PrivacyVault, migratePrivacy, type ErasureDeps } from '@livechat-pipeline/privacy';
import { Startup } from '@livechat-pipeline/service-host';
import type { PrivacyServiceConfig } from './config.js';
import { PrivacyJobs } from './jobs.js';
import { createPrivacyMetrics, type PrivacyMetrics } from './metrics.js';

export interface PrivacyRuntime {
  readonly deps: ErasureDeps;
  /** The key store's pool (also where the jobs' locks are taken). */
  readonly vaultPool: pg.Pool;
  close(): Promise<void>;
}

function pool(url: string, config: PrivacyServiceConfig): pg.Pool {
  const p = new pg.Pool({
    connectionString: url,
    max: config.poolSize,
    connectionTimeoutMillis: config.connectTimeoutMs,
  });
  // an idle client losing its connection must not crash the process; the next query reports it
  p.on('error', () => undefined);
  return p;
}

/** The vault on PRIVACY_DATABASE_URL and the projections' pool on DATABASE_URL (one pool when they are the same). */
export function createPrivacyRuntime(config: PrivacyServiceConfig): PrivacyRuntime {
  const vaultPool = pool(config.privacyDatabaseUrl, config);
  const projectionPool =
    config.databaseUrl === config.privacyDatabaseUrl ? vaultPool : pool(config.databaseUrl, config);
  return {
    deps: {
      vault: new PrivacyVault(vaultPool, config.privacy),
      pool: projectionPool,
      projections: config.projections,
    },
    vaultPool,
    close: async () => {
      await vaultPool.end();
      if (projectionPool !== vaultPool) await projectionPool.end();
    },
  };
}

export interface RunningPrivacyService {
  readonly metrics: PrivacyMetrics;
  readonly jobs: PrivacyJobs;
  readonly runtime: PrivacyRuntime;
  stop(): Promise<void>;
}

/** Migrates the key store (retried until PRIVACY_STARTUP_TIMEOUT_MS), then starts the retention and sweep jobs. */
export async function startPrivacyService(
  config: PrivacyServiceConfig,
  logger: Logger,
): Promise<RunningPrivacyService> {
  const runtime = createPrivacyRuntime(config);
  const startup = new Startup({ timeoutMs: config.startupTimeoutMs, logger });
  try {
    await startup.step(`migrate schema ${config.privacy.schema}`, () =>
      migratePrivacy(runtime.vaultPool, { schema: config.privacy.schema }),
    );
  } catch (error) {
    await runtime.close().catch(() => undefined);
    throw error;
  }
  const metrics = createPrivacyMetrics();
  const jobs = new PrivacyJobs(
    runtime.deps,
    runtime.vaultPool,
    {
      retentionDays: config.retentionDays,
      retentionIntervalMs: config.retentionIntervalMs,
      retentionBatchSize: config.retentionBatchSize,
      sweepIntervalMs: config.sweepIntervalMs,
      sweepAfterMs: config.sweepDelayMs,
    },
    metrics,
    logger,
  );
  jobs.start();
  return {
    metrics,
    jobs,
    runtime,
    stop: async () => {
      await jobs.stop();
      await runtime.close();
    },
  };
}
