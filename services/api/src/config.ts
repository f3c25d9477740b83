import { z } from 'zod';
import {
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
import {
  PRIVACY_PROJECTIONS_DEFAULT,
  parsePrivacyConfig,
  parseProjectionList,
  type PrivacyConfig,
  type ProjectionEraser,
} from '@livechat-pipeline/privacy';
import { readDashboardEnv } from './dashboard/config.js';
import type { DashboardConfig } from './dashboard/config.js';
import { ApiConfigError } from './errors.js';

export interface ApiConfig {
  readonly http: { readonly host: string; readonly port: number };
  /** /healthz, /readyz, /metrics: off the public port, loopback by default. */
  readonly operations: { readonly host: string; readonly port: number };
  readonly database: {
    readonly url: string;
    /** The api's own schema (API keys). */
    readonly schema: string;
    /** Where the transcripts and analytics projections live (read only). */
    readonly transcriptsSchema: string;
    readonly analyticsSchema: string;
    readonly poolSize: number;
    readonly connectTimeoutMs: number;
    readonly statementTimeoutMs: number;
  };
  /** CSV answers read Postgres this many rows at a time. */
  readonly csvBatchRows: number;
  /** How long start-up steps (Postgres, the api migrations) are retried. */
  readonly startupTimeoutMs: number;
  readonly logLevel: LogLevel;
  /** `/dashboard`: its session and link secrets (src/dashboard/config.ts). */
  readonly dashboard: DashboardConfig;
  /**
   * `POST /v1/admin/erasures`: the key store (PRIVACY_KEYS; null: privacy off, the call answers 503) on its own
   * small pool, and the projections whose erase functions it calls on the api's database.
   */
  readonly privacy: {
    readonly config: PrivacyConfig | null;
    readonly databaseUrl: string;
    readonly poolSize: number;
    readonly projections: readonly ProjectionEraser[];
  };
}

const identifier = z
  .string()
  .trim()
  .regex(/^[a-z_][a-z0-9_]{0,62}$/, 'must be a plain lower-case SQL identifier');

const envSchema = z.object({
  API_HOST: z.string().trim().min(1).default('127.0.0.1'),
  API_PORT: intVar(0, 65535).default(8082),
  API_OPERATIONS_HOST: z.string().trim().min(1).default('127.0.0.1'),
  API_OPERATIONS_PORT: intVar(0, 65535).default(8096),
  DATABASE_URL: postgresUrlVar().default('postgres://postgres:postgres@127.0.0.1:55432/postgres'),
  API_SCHEMA: identifier.default('api'),
  API_TRANSCRIPTS_SCHEMA: identifier.default('transcripts'),
  API_ANALYTICS_SCHEMA: identifier.default('analytics'),
  API_POOL_SIZE: poolSizeVar(10),
  API_PG_CONNECT_TIMEOUT_MS: pgConnectTimeoutVar(),
  API_STATEMENT_TIMEOUT_MS: intVar(100, 600_000).default(15_000),
  API_CSV_BATCH_ROWS: intVar(1, 10_000).default(500),
  API_STARTUP_TIMEOUT_MS: startupTimeoutVar(),
  API_LOG_LEVEL: logLevelVar(),
  PRIVACY_DATABASE_URL: postgresUrlVar().optional(),
  API_PRIVACY_POOL_SIZE: poolSizeVar(2),
});

/** Reads and validates the api's environment once; throws ApiConfigError naming every bad variable. */
export function loadApiConfig(env: NodeJS.ProcessEnv): ApiConfig {
  const parsed = readEnv(envSchema, env);
  const dashboard = readDashboardEnv(env);
  const problems = [...(parsed.ok ? [] : parsed.problems), ...(dashboard.ok ? [] : dashboard.problems)];
  let privacy: PrivacyConfig | null = null;
  try {
    privacy = parsePrivacyConfig(env);
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
  if (!parsed.ok || !dashboard.ok || !projections.ok || problems.length > 0)
    throw new ApiConfigError(problems);
  const e = parsed.data;
  return deepFreeze<ApiConfig>({
    http: { host: e.API_HOST, port: e.API_PORT },
    operations: { host: e.API_OPERATIONS_HOST, port: e.API_OPERATIONS_PORT },
    database: {
      url: e.DATABASE_URL,
      schema: e.API_SCHEMA,
      transcriptsSchema: e.API_TRANSCRIPTS_SCHEMA,
      analyticsSchema: e.API_ANALYTICS_SCHEMA,
      poolSize: e.API_POOL_SIZE,
      connectTimeoutMs: e.API_PG_CONNECT_TIMEOUT_MS,
      statementTimeoutMs: e.API_STATEMENT_TIMEOUT_MS,
    },
    csvBatchRows: e.API_CSV_BATCH_ROWS,
    startupTimeoutMs: e.API_STARTUP_TIMEOUT_MS,
    logLevel: e.API_LOG_LEVEL,
    dashboard: dashboard.config,
    privacy: {
      config: privacy,
      databaseUrl: e.PRIVACY_DATABASE_URL ?? e.DATABASE_URL,
      poolSize: e.API_PRIVACY_POOL_SIZE,
      projections: projections.projections,
    },
  });
}
