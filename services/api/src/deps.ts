import pg from 'pg';
import type { Logger } from 'pino';
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { PrivacyVault, migratePrivacy, type ErasureDeps } from '@livechat-pipeline/privacy';
import { Startup } from '@livechat-pipeline/service-host';
import { Authenticator } from './auth.js';
import type { ApiConfig } from './config.js';
import { ApiKeyStore } from './keys.js';
import { migrateApiSchema, quoteIdent } from './migrations.js';

export interface ApiMetrics {
  readonly registry: Registry;
  readonly httpRequests: Counter<'route' | 'status'>;
  readonly httpDuration: Histogram<'route'>;
}

/** Everything a route needs: `registerRoutes(app, deps)` receives this. */
export interface ApiDeps {
  readonly config: ApiConfig;
  readonly logger: Logger;
  readonly pool: pg.Pool;
  readonly keys: ApiKeyStore;
  readonly auth: Authenticator;
  /** Quoted, ready to prefix a table or view: `${deps.sql.transcripts}.chat_summary`. */
  readonly sql: { readonly api: string; readonly transcripts: string; readonly analytics: string };
  readonly metrics: ApiMetrics;
  /** What `POST /v1/admin/erasures` runs (runErasure); null when privacy is off (PRIVACY_KEYS empty). */
  readonly erasure: ErasureDeps | null;
  close(): Promise<void>;
}

/** timestamptz as RFC 3339 text (the session's time zone is UTC), bigint and numeric as numbers. */
const TYPE_PARSERS: Record<number, (value: string) => unknown> = {
  1184: (v) => v.replace(' ', 'T').replace(/\+00$/, 'Z'),
  20: (v) => Number(v),
  1700: (v) => Number(v),
};

/** A pool whose sessions run in UTC with the statement timeout, and give times as RFC 3339 strings. */
export function createApiPool(config: ApiConfig): pg.Pool {
  const pool = new pg.Pool({
    connectionString: config.database.url,
    max: config.database.poolSize,
    connectionTimeoutMillis: config.database.connectTimeoutMs,
    options: `-c TimeZone=UTC -c statement_timeout=${config.database.statementTimeoutMs}`,
    types: {
      getTypeParser: ((oid: number, format?: string) =>
        TYPE_PARSERS[oid] ?? pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
    },
  });
  // an idle client losing its connection must not crash the process; the next query reports it
  pool.on('error', () => undefined);
  return pool;
}

/** Connects to Postgres and migrates the api schema (retried until API_STARTUP_TIMEOUT_MS), then wires deps. */
export async function createApiDeps(config: ApiConfig, logger: Logger): Promise<ApiDeps> {
  const pool = createApiPool(config);
  const privacy = config.privacy.config;
  // the key store on a small pool of its own: an erasure's transaction never waits behind the read traffic
  const privacyPool =
    privacy === null
      ? null
      : createApiPool({
          ...config,
          database: {
            ...config.database,
            url: config.privacy.databaseUrl,
            poolSize: config.privacy.poolSize,
          },
        });
  const closePools = async () => {
    await pool.end();
    await privacyPool?.end();
  };
  const startup = new Startup({ timeoutMs: config.startupTimeoutMs, logger });
  try {
    await startup.step('connect to Postgres', () => pool.query('select 1'));
    await startup.step(`migrate schema ${config.database.schema}`, () =>
      migrateApiSchema(pool, config.database.schema),
    );
    if (privacy !== null && privacyPool !== null)
      await startup.step(`migrate schema ${privacy.schema}`, () =>
        migratePrivacy(privacyPool, { schema: privacy.schema }),
      );
  } catch (error) {
    await closePools().catch(() => undefined);
    throw error;
  }
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const metrics: ApiMetrics = {
    registry,
    httpRequests: new Counter({
      name: 'api_http_requests_total',
      help: 'HTTP answers by route pattern and status',
      labelNames: ['route', 'status'],
      registers: [registry],
    }),
    httpDuration: new Histogram({
      name: 'api_http_request_duration_seconds',
      help: 'Time to answer, by route pattern (the latency goal is p99 < 50 ms for a chat page and a transcript)',
      labelNames: ['route'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15],
      registers: [registry],
    }),
  };
  const keys = new ApiKeyStore(pool, config.database.schema);
  return {
    config,
    logger,
    pool,
    keys,
    auth: new Authenticator(keys),
    sql: {
      api: quoteIdent(config.database.schema),
      transcripts: quoteIdent(config.database.transcriptsSchema),
      analytics: quoteIdent(config.database.analyticsSchema),
    },
    metrics,
    erasure:
      privacy === null || privacyPool === null
        ? null
        : { vault: new PrivacyVault(privacyPool, privacy), pool, projections: config.privacy.projections },
    close: closePools,
  };
}
