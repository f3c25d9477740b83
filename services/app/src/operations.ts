import type { Server } from 'node:http';
import { createOperationsServer } from '@livechat-pipeline/service-host';
import type { Readiness } from '@livechat-pipeline/service-host';
import { AGENT_API_ERROR_CODES, type AgentApiErrorCode } from '@livechat-pipeline/livechat-agent-api';
import type pg from 'pg';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';

export interface AppMetrics {
  readonly registry: Registry;
  /** HTTP answers by route pattern (never the raw URL: bounded labels) and status. */
  readonly httpRequests: Counter<'route' | 'status'>;
  /** Background webhook syncs after a connect, by outcome (synced, skipped, failed). */
  readonly webhookSyncs: Counter<'outcome'>;
  /** Postgres probes made for /readyz (cached: a burst of /readyz makes one). */
  readonly readinessProbes: Counter;
  /** 1 when the last probe reached Postgres. */
  readonly postgresUp: Gauge;
  /**
   * Attempts at LiveChat's accounts (OAuth token) and Configuration API (webhooks), by call
   * (`token.authorization_code`, `token.refresh`, `token.revoke_*`, `configuration.<method>`) and outcome (the HTTP
   * status, `timeout` or `network`).
   */
  readonly livechatApiCalls: Counter<'call' | 'outcome'>;
  /** Agent Chat API retries by method and reason (too_many_requests, timeout, …). */
  readonly agentApiRetries: Counter<'method' | 'reason'>;
  /** Agent Chat API calls that failed for good, by method and code (AGENT_API_*). */
  readonly agentApiErrors: Counter<'method' | 'code'>;
  /** Archive walks (backfill, reconcile) that ended, by outcome (done, paused, busy, failed, no_scope). */
  readonly archiveWalks: Counter<'kind' | 'outcome'>;
  /** Threads read by archive walks. */
  readonly archiveThreads: Counter<'kind'>;
  /** Archive threads that could not become a raw record (too large even alone, malformed), by code. */
  readonly archiveRejected: Counter<'code'>;
  readonly reconcileThreadsChecked: Counter;
  readonly reconcileThreadsRecovered: Counter;
  readonly reconcileEventsRecovered: Counter;
}

export function createAppMetrics(options: { defaultMetrics?: boolean } = {}): AppMetrics {
  const registry = new Registry();
  if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry });
  const metrics: AppMetrics = {
    registry,
    httpRequests: new Counter({
      name: 'app_http_requests_total',
      help: 'HTTP answers of the app, by route pattern and status',
      labelNames: ['route', 'status'],
      registers: [registry],
    }),
    webhookSyncs: new Counter({
      name: 'app_webhook_syncs_total',
      help: 'Background webhook syncs after a connect, by outcome (synced, skipped, failed)',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    readinessProbes: new Counter({
      name: 'app_readiness_probes_total',
      help: 'Postgres probes made for /readyz (results are cached)',
      registers: [registry],
    }),
    postgresUp: new Gauge({
      name: 'app_postgres_up',
      help: '1 when the last readiness probe reached Postgres, else 0',
      registers: [registry],
    }),
    livechatApiCalls: new Counter({
      name: 'app_livechat_api_calls_total',
      help: 'Attempts at LiveChat\'s accounts and Configuration APIs, by call and outcome (HTTP status, timeout, network); errors are outcome!~"2.."',
      labelNames: ['call', 'outcome'],
      registers: [registry],
    }),
    agentApiRetries: new Counter({
      name: 'app_agent_api_retries_total',
      help: 'Agent Chat API retries, by method and reason (too_many_requests, timeout, network, internal, ...)',
      labelNames: ['method', 'reason'],
      registers: [registry],
    }),
    agentApiErrors: new Counter({
      name: 'app_agent_api_errors_total',
      help: 'Agent Chat API calls that failed for good, by method and code',
      labelNames: ['method', 'code'],
      registers: [registry],
    }),
    archiveWalks: new Counter({
      name: 'app_archive_walks_total',
      help: 'Archive walks that ended, by kind (backfill, reconcile) and outcome (done, paused, busy, failed, no_scope)',
      labelNames: ['kind', 'outcome'],
      registers: [registry],
    }),
    archiveThreads: new Counter({
      name: 'app_archive_threads_total',
      help: 'Threads read by archive walks, by kind',
      labelNames: ['kind'],
      registers: [registry],
    }),
    archiveRejected: new Counter({
      name: 'app_archive_threads_rejected_total',
      help: 'Archive threads that could not become a raw record, by code',
      labelNames: ['code'],
      registers: [registry],
    }),
    reconcileThreadsChecked: new Counter({
      name: 'app_reconcile_threads_checked_total',
      help: 'Threads reconciliation read (list_archives windows and get_chat of threads left open)',
      registers: [registry],
    }),
    reconcileThreadsRecovered: new Counter({
      name: 'app_reconcile_threads_recovered_total',
      help: 'Threads reconciliation found new or changed and wrote to the raw topic',
      registers: [registry],
    }),
    reconcileEventsRecovered: new Counter({
      name: 'app_reconcile_events_recovered_total',
      help: 'Events carried by the threads reconciliation wrote',
      registers: [registry],
    }),
  };
  // Every method and code starts at 0 (18 series): prom-client creates a label set's series at its first inc(),
  // which Prometheus then sees already at 1, and increase() ignores a series' first sample, so a one-off 403 would
  // never reach LiveChatApiErrors.
  for (const method of AGENT_API_METHODS)
    for (const code of Object.keys(AGENT_API_ERROR_CODES) as AgentApiErrorCode[])
      metrics.agentApiErrors.inc({ method, code }, 0);
  return metrics;
}

/** The Agent Chat API methods the app calls (archive walks and reconciliation). */
const AGENT_API_METHODS = ['list_archives', 'get_chat'] as const;

/**
 * /readyz's check: Postgres answers `select 1` within `timeoutMs`. The result is cached for `cacheMs` and
 * concurrent calls share one probe, so /readyz cannot load the database. Callers see up or down, never an
 * error text.
 */
export function postgresReadiness(
  pool: pg.Pool,
  metrics: AppMetrics,
  options: { cacheMs?: number; timeoutMs?: number } = {},
): () => Promise<Readiness & { readonly postgres: 'up' | 'down' }> {
  const cacheMs = options.cacheMs ?? 1500;
  const timeoutMs = options.timeoutMs ?? 1000;
  let cached: { at: number; up: boolean } | undefined;
  let inflight: Promise<boolean> | undefined;
  const probe = async (): Promise<boolean> => {
    metrics.readinessProbes.inc();
    let timer: NodeJS.Timeout | undefined;
    try {
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('readiness probe timed out')), timeoutMs);
      });
      await Promise.race([pool.query('select 1'), timeout]);
      return true;
    } catch {
      return false;
    } finally {
      clearTimeout(timer);
    }
  };
  return async () => {
    if (cached === undefined || Date.now() - cached.at >= cacheMs) {
      inflight ??= probe().finally(() => {
        inflight = undefined;
      });
      const up = await inflight;
      cached = { at: Date.now(), up };
      metrics.postgresUp.set(up ? 1 : 0);
    }
    return { ok: cached.up, postgres: cached.up ? 'up' : 'down' };
  };
}

/**
 * The app's operations endpoints, off its public port: /healthz, /readyz (Postgres reachable), /metrics.
 * Listen on loopback unless a scraper elsewhere needs them (APP_OPERATIONS_HOST).
 */
export async function startAppOperations(
  deps: { readonly pool: pg.Pool; readonly metrics: AppMetrics },
  listen: { host: string; port: number },
): Promise<{ server: Server; url: string; close(): Promise<void> }> {
  const server = createOperationsServer(deps.metrics.registry, postgresReadiness(deps.pool, deps.metrics));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : listen.port;
  return {
    server,
    url: `http://${listen.host.includes(':') ? `[${listen.host}]` : listen.host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
