import { z } from 'zod';
import {
  PRIVACY_PROJECTIONS_DEFAULT,
  parsePrivacyConfig,
  parseProjectionList,
  type PrivacyConfig,
  type ProjectionEraser,
} from '@livechat-pipeline/privacy';
import {
  ServiceConfigError,
  deepFreeze,
  intVar,
  logLevelVar,
  pgConnectTimeoutVar,
  poolSizeVar,
  postgresUrlVar,
  readEnv,
  startupTimeoutVar,
  type LogLevel,
} from '@livechat-pipeline/service-host';

export interface PrivacyServiceConfig {
  /** The projections' database (their erase functions are called there). */
  readonly databaseUrl: string;
  /** The key store's database (PRIVACY_DATABASE_URL, default DATABASE_URL). */
  readonly privacyDatabaseUrl: string;
  readonly poolSize: number;
  readonly connectTimeoutMs: number;
  readonly privacy: PrivacyConfig;
  readonly projections: readonly ProjectionEraser[];
  /** Global retention in days; null keeps chats forever (tenants with their own setting are still erased). */
  readonly retentionDays: number | null;
  readonly retentionIntervalMs: number;
  readonly sweepIntervalMs: number;
  /**
   * How old an erasure must be before the sweep's last pass (PRIVACY_SWEEP_DELAY_MS): at least every service's
   * key cache TTL plus its longest write retry. Default: this process's TTL plus SWEEP_MARGIN_MS.
   */
  readonly sweepDelayMs: number;
  /** Chats per retention erasure (one audit row per tenant and batch). */
  readonly retentionBatchSize: number;
  readonly operations: { readonly host: string; readonly port: number };
  readonly startupTimeoutMs: number;
  readonly logLevel: LogLevel;
}

const schema = z.object({
  DATABASE_URL: postgresUrlVar().default('postgres://postgres:postgres@127.0.0.1:55432/postgres'),
  PRIVACY_DATABASE_URL: postgresUrlVar().optional(),
  // two at least: a job holds its lock on one connection and works on another; three by default so that the
  // readiness probe's `select 1` never waits behind a long job
  PRIVACY_POOL_SIZE: poolSizeVar(3, 2),
  PRIVACY_PG_CONNECT_TIMEOUT_MS: pgConnectTimeoutVar(),
  PRIVACY_RETENTION_DAYS: intVar(1, 36_500).optional(),
  PRIVACY_RETENTION_INTERVAL_MS: intVar(100, 7 * 86_400_000).default(86_400_000),
  PRIVACY_RETENTION_BATCH_SIZE: intVar(1, 10_000).default(1000),
  PRIVACY_SWEEP_INTERVAL_MS: intVar(100, 86_400_000).default(60_000),
  PRIVACY_SWEEP_DELAY_MS: intVar(0, 7 * 86_400_000).optional(),
  PRIVACY_OPERATIONS_HOST: z.string().trim().min(1).default('127.0.0.1'),
  PRIVACY_OPERATIONS_PORT: intVar(0, 65535).default(8097),
  PRIVACY_STARTUP_TIMEOUT_MS: startupTimeoutVar(),
  PRIVACY_LOG_LEVEL: logLevelVar(),
});

/**
 * Added to this process's key cache TTL when PRIVACY_SWEEP_DELAY_MS is unset: the other services read their own
 * TTL, and a consumer that opened a batch just before the TTL ran out may still be retrying its write.
 */
export const SWEEP_MARGIN_MS = 600_000;

/**
 * Reads the privacy service's (and its CLI's) environment once; every problem is named in one ServiceConfigError.
 * PRIVACY_KEYS is required here: erasing and retention work on the key store.
 */
export function loadPrivacyServiceConfig(env: NodeJS.ProcessEnv): PrivacyServiceConfig {
  const parsed = readEnv(schema, env);
  const problems = parsed.ok ? [] : [...parsed.problems];
  let privacy: PrivacyConfig | null = null;
  try {
    privacy = parsePrivacyConfig(env);
    if (privacy === null)
      problems.push(
        'PRIVACY_KEYS: is not set (the privacy service needs the master keys to erase and to run retention)',
      );
  } catch (error) {
    problems.push((error as Error).message);
  }
  // read apart from the schema so that its problems are named even when another variable is bad too
  const projections = parseProjectionList(
    (env['PRIVACY_PROJECTIONS'] ?? '').trim() === ''
      ? PRIVACY_PROJECTIONS_DEFAULT
      : env['PRIVACY_PROJECTIONS']!,
  );
  if (!projections.ok) problems.push(...projections.problems.map((p) => `PRIVACY_PROJECTIONS: ${p}`));
  const sweepDelay = parsed.ok ? parsed.data.PRIVACY_SWEEP_DELAY_MS : undefined;
  if (privacy !== null && sweepDelay !== undefined && sweepDelay < privacy.cacheTtlMs)
    problems.push(
      `PRIVACY_SWEEP_DELAY_MS: must be at least PRIVACY_KEY_CACHE_TTL_MS (${privacy.cacheTtlMs}): a sweep before every cached key expired misses what a late writer puts back`,
    );
  if (!parsed.ok || privacy === null || !projections.ok || problems.length > 0)
    throw new ServiceConfigError(`invalid privacy configuration:\n  ${problems.join('\n  ')}`);
  const e = parsed.data;
  return deepFreeze<PrivacyServiceConfig>({
    databaseUrl: e.DATABASE_URL,
    privacyDatabaseUrl: e.PRIVACY_DATABASE_URL ?? e.DATABASE_URL,
    poolSize: e.PRIVACY_POOL_SIZE,
    connectTimeoutMs: e.PRIVACY_PG_CONNECT_TIMEOUT_MS,
    privacy,
    projections: projections.projections,
    retentionDays: e.PRIVACY_RETENTION_DAYS ?? null,
    retentionIntervalMs: e.PRIVACY_RETENTION_INTERVAL_MS,
    retentionBatchSize: e.PRIVACY_RETENTION_BATCH_SIZE,
    sweepIntervalMs: e.PRIVACY_SWEEP_INTERVAL_MS,
    sweepDelayMs: e.PRIVACY_SWEEP_DELAY_MS ?? privacy.cacheTtlMs + SWEEP_MARGIN_MS,
    operations: { host: e.PRIVACY_OPERATIONS_HOST, port: e.PRIVACY_OPERATIONS_PORT },
    startupTimeoutMs: e.PRIVACY_STARTUP_TIMEOUT_MS,
    logLevel: e.PRIVACY_LOG_LEVEL,
  });
}
