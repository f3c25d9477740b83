import { AgentChatClient } from '@livechat-pipeline/livechat-agent-api';
import type { AgentApiEvent } from '@livechat-pipeline/livechat-agent-api';
import type { Tenant, TenantRegistry } from '@livechat-pipeline/tenant-registry';
import type { Logger } from 'pino';
import type { AppConfig } from '../config.js';
import { errorForLog } from '../errors.js';
import type { ApiCredentials } from '../livechat/configuration-api.js';
import type { AppMetrics } from '../operations.js';
import type { TokenService } from '../tokens/token-service.js';
import { reconcileTenant } from './reconcile.js';
import type { ReconcileReport } from './reconcile.js';
import type { ArchiveStore, ArchiveWalk } from './store.js';
import { runWalk } from './walk-runner.js';
import type { ArchiveSink, WalkOutcome } from './walk-runner.js';

/** Scopes that let a token read archives (rw includes ro). */
const CHAT_READ_SCOPES = ['chats--all:ro', 'chats--all:rw', 'chats--access:ro', 'chats--access:rw'];

/** Whether a granted scope list (comma or space separated) lets the token read chats. */
export function canReadChats(scope: string): boolean {
  const granted = scope.split(/[\s,]+/);
  return CHAT_READ_SCOPES.some((s) => granted.includes(s));
}

export interface ArchiveJobsDeps {
  readonly config: AppConfig;
  readonly logger: Logger;
  readonly metrics: AppMetrics;
  readonly store: ArchiveStore;
  readonly sink: ArchiveSink;
  readonly registry: TenantRegistry;
  readonly tokens: TokenService | null;
}

/** Counts what the Agent Chat API client reports. */
export function metricsListener(metrics: AppMetrics): (e: AgentApiEvent) => void {
  return (e) => {
    if (e.kind === 'retry') metrics.agentApiRetries.inc({ method: e.method, reason: e.reason });
    else if (e.kind === 'error') metrics.agentApiErrors.inc({ method: e.method, code: e.code });
  };
}

export function agentClient(
  config: AppConfig,
  credentials: ApiCredentials,
  onEvent: (e: AgentApiEvent) => void,
): AgentChatClient {
  return new AgentChatClient({
    apiUrl: config.livechat.apiUrl,
    authorization: () => credentials.authorization(),
    ...(credentials.onUnauthorized === undefined
      ? {}
      : { onUnauthorized: () => credentials.onUnauthorized!() }),
    concurrency: config.archives.concurrency,
    backoff: config.archives.backoff,
    timeoutMs: Math.max(config.livechat.timeoutMs, 15_000),
    onEvent,
  });
}

/**
 * The app's archive work in the background: the backfill after an install (the last APP_BACKFILL_DAYS days, or the
 * gap since the tenant's last finished backfill), resumption of walks a crashed process left (their lease expired),
 * and the reconciliation pass over every active tenant each APP_RECONCILE_INTERVAL_SECONDS. Each walk runs under its
 * lease in Postgres, so app replicas share the work without running a walk twice. A tenant whose token cannot read
 * chats gets one clear log line (once per process) and is skipped; the others go on.
 */
export class ArchiveJobs {
  private readonly running = new Map<string, Promise<unknown>>();
  private readonly warnedScope = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private readonly abort = new AbortController();
  private closed = false;
  /** Tenants worked on at once by the scheduler (each walk holds a page of threads in memory). */
  private readonly tenantSlots: Slots;

  constructor(private readonly deps: ArchiveJobsDeps) {
    this.tenantSlots = new Slots(deps.config.archives.tenantConcurrency);
  }

  /** The client for a tenant with its OAuth token, or null (and one log line) when the token cannot read chats. */
  private async clientFor(tenant: Tenant): Promise<AgentChatClient | null> {
    const tokens = this.deps.tokens;
    if (tokens === null) return null;
    const stored = await this.deps.registry.getTokens(tenant.id);
    if (stored === null) return null;
    if (!canReadChats(stored.scope)) {
      if (!this.warnedScope.has(tenant.id)) {
        this.warnedScope.add(tenant.id);
        this.deps.metrics.archiveWalks.inc({ kind: 'any', outcome: 'no_scope' });
        this.deps.logger.warn(
          { tenant_id: tenant.id, organization_id: tenant.organizationId, scope: stored.scope },
          'this tenant token cannot read chats (needs chats--all:ro or chats--access:ro, and customers:ro): no backfill or reconciliation for it until it reconnects with those scopes',
        );
      }
      return null;
    }
    this.warnedScope.delete(tenant.id);
    return agentClient(
      this.deps.config,
      tokens.credentialsFor(tenant.id),
      metricsListener(this.deps.metrics),
    );
  }

  /** One job per tenant and kind at a time in this process; never throws. */
  private spawn(key: string, job: () => Promise<unknown>): Promise<unknown> {
    const existing = this.running.get(key);
    if (existing !== undefined || this.closed) return existing ?? Promise.resolve();
    const p = Promise.resolve()
      .then(job)
      .catch((err: unknown) =>
        this.deps.logger.warn({ job: key, err: errorForLog(err) }, 'archive job failed'),
      )
      .finally(() => this.running.delete(key));
    this.running.set(key, p);
    return p;
  }

  /** After a connect: backfills the last APP_BACKFILL_DAYS days (or the gap since the last backfill). */
  triggerInstallBackfill(tenantId: string): Promise<unknown> {
    const days = this.deps.config.archives.backfillDays;
    if (days === 0) return Promise.resolve();
    return this.spawn(`backfill:${tenantId}`, async () => {
      const tenant = await this.deps.registry.getTenant(tenantId);
      if (tenant === null || tenant.status !== 'active') return;
      const client = await this.clientFor(tenant);
      if (client === null) return;
      const now = new Date();
      const floor = new Date(now.getTime() - days * 86_400_000);
      const last = await this.deps.store.lastBackfilledUntil(tenant.organizationId);
      const since = last !== null && last > floor ? new Date(last.getTime() - 3600_000) : floor;
      const { walk } = await this.deps.store.openWalk({
        tenantId: tenant.organizationId,
        kind: 'backfill',
        trigger: 'install',
        since,
        until: now,
      });
      await this.backfill(walk, tenant, client);
    });
  }

  private async backfill(walk: ArchiveWalk, tenant: Tenant, client: AgentChatClient): Promise<WalkOutcome> {
    const started = Date.now();
    const outcome = await runWalk(
      { client, store: this.deps.store, sink: this.deps.sink },
      walk,
      { id: tenant.organizationId, organizationId: tenant.organizationId },
      {
        signal: this.abort.signal,
        onRejected: (r) => this.rejected(tenant, r),
      },
    );
    const w = outcome.walk;
    this.deps.metrics.archiveWalks.inc({ kind: 'backfill', outcome: outcome.status });
    this.deps.metrics.archiveThreads.inc({ kind: 'backfill' }, Math.max(0, w.threads - walk.threads));
    const fields = {
      tenant_id: tenant.id,
      organization_id: tenant.organizationId,
      walk_id: w.id,
      outcome: outcome.status,
      threads: w.threads,
      written: w.written,
      restricted: w.restricted,
      pages: w.pages,
      durationMs: Date.now() - started,
      ...('code' in outcome ? { code: outcome.code } : {}),
    };
    if (outcome.status === 'failed')
      this.deps.logger.warn({ ...fields, reason: outcome.message }, 'backfill failed');
    else
      this.deps.logger.info(
        fields,
        outcome.status === 'done' ? 'backfill done' : `backfill ${outcome.status}`,
      );
    return outcome;
  }

  private rejected(tenant: Tenant, r: { threadId: string; code: string }): void {
    this.deps.metrics.archiveRejected.inc({ code: r.code });
    this.deps.logger.warn(
      { organization_id: tenant.organizationId, thread_id: r.threadId, code: r.code },
      'archive thread could not become a raw record: skipped',
    );
  }

  /** One reconciliation pass for a tenant (the scheduler calls it for each active tenant). */
  async reconcile(tenant: Tenant): Promise<ReconcileReport | null> {
    const client = await this.clientFor(tenant);
    if (client === null) return null;
    const started = Date.now();
    const c = this.deps.config.archives;
    const report = await reconcileTenant(
      { client, store: this.deps.store, sink: this.deps.sink },
      { id: tenant.organizationId, organizationId: tenant.organizationId },
      {
        overlapSeconds: c.reconcileOverlapSeconds,
        firstWindowSeconds: c.reconcileFirstWindowSeconds,
        openThreadSeconds: c.reconcileOpenThreadSeconds,
      },
      { signal: this.abort.signal, onRejected: (r) => this.rejected(tenant, r) },
    );
    const m = this.deps.metrics;
    m.archiveWalks.inc({ kind: 'reconcile', outcome: report.outcome });
    m.reconcileThreadsChecked.inc(report.threadsChecked);
    m.archiveThreads.inc({ kind: 'reconcile' }, report.threadsChecked);
    m.reconcileThreadsRecovered.inc(report.threadsRecovered);
    m.reconcileEventsRecovered.inc(report.eventsRecovered);
    const fields = {
      tenant_id: tenant.id,
      organization_id: tenant.organizationId,
      outcome: report.outcome,
      since: report.since.toISOString(),
      until: report.until.toISOString(),
      threadsChecked: report.threadsChecked,
      threadsRecovered: report.threadsRecovered,
      eventsRecovered: report.eventsRecovered,
      openThreadsFetched: report.openThreadsFetched,
      gone: report.gone,
      unreadable: report.unreadable ?? 0,
      durationMs: Date.now() - started,
      ...(report.code === undefined ? {} : { code: report.code }),
    };
    if (report.outcome === 'failed')
      this.deps.logger.warn({ ...fields, reason: report.message }, 'reconciliation failed');
    else this.deps.logger.info(fields, 'reconciliation pass');
    return report;
  }

  /**
   * One pass: resumes backfills a crashed process left, and starts a reconciliation for every active tenant not
   * already being reconciled here, at most APP_ARCHIVE_TENANT_CONCURRENCY at once across tenants. It waits for none of
   * them: one tenant's long backfill or rate-limited walk never holds the others or the next tick back.
   */
  async pass(): Promise<void> {
    const tenants = await this.deps.registry.listTenants(this.deps.config.livechat.clientId);
    for (const tenant of tenants) {
      if (tenant.status !== 'active') continue;
      const orphan = await this.deps.store.runningWalk(tenant.organizationId, 'backfill');
      if (orphan !== null)
        void this.spawn(`backfill:${tenant.id}`, () =>
          this.tenantSlots.run(async () => {
            const client = await this.clientFor(tenant);
            if (client !== null) await this.backfill(orphan, tenant, client);
          }),
        );
      void this.spawn(`reconcile:${tenant.id}`, () => this.tenantSlots.run(() => this.reconcile(tenant)));
    }
  }

  startScheduler(): void {
    const seconds = this.deps.config.archives.reconcileIntervalSeconds;
    if (seconds === 0 || this.deps.tokens === null) return;
    const tick = () => {
      this.pass()
        .catch((err: unknown) =>
          this.deps.logger.warn({ err: errorForLog(err) }, 'reconciliation pass failed'),
        )
        .finally(() => {
          if (!this.closed) this.timer = setTimeout(tick, seconds * 1000).unref();
        });
    };
    this.timer = setTimeout(tick, Math.min(seconds, 30) * 1000).unref();
  }

  /** Waits for the jobs in progress. */
  async idle(): Promise<void> {
    await Promise.all([...this.running.values()]);
  }

  /** Stops: walks in progress stop after their current page (their checkpoint is where they resume). */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.abort.abort(new Error('app stopping'));
    await this.idle();
  }
}

/** At most `size` jobs at once; the others wait their turn in order. */
class Slots {
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  constructor(private readonly size: number) {}

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.size) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.active += 1;
    try {
      return await fn();
    } finally {
      this.active -= 1;
      this.waiting.shift()?.();
    }
  }
}
