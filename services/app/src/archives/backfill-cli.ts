import type { AgentApiEvent } from '@livechat-pipeline/livechat-agent-api';
import type { AppDeps } from '../deps.js';
import { patCredentials } from '../livechat/configuration-api.js';
import type { ApiCredentials } from '../livechat/configuration-api.js';
import { agentClient, canReadChats, metricsListener } from './jobs.js';
import type { ArchiveWalk } from './store.js';
import { reconcileTenant } from './reconcile.js';
import { runWalk } from './walk-runner.js';
import type { WalkProgress } from './walk-runner.js';

export const BACKFILL_USAGE = `usage: pnpm livechat backfill --tenant <organization id or licence> [--since <date>] [--until <date>] [--restart]
  reads the tenant's archives (list_archives, oldest first, 100 threads a page) into the raw topic; resumable:
  Ctrl-C (or a crash) keeps the checkpoint, the same command goes on from it. Dates are ISO 8601 (2026-11-01 or
  2026-11-01T12:00:00Z); default the last APP_BACKFILL_DAYS days (30 when 0) up to now. --restart drops a paused
  walk with other bounds. Credentials: LIVECHAT_PAT=<account_id>:<PAT> (scope chats--all:ro), else the tenant's
  OAuth token (APP_TOKEN_KEYS).`;

export interface BackfillIo {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  /** Progress line (rewritten in place on a terminal). */
  readonly progress?: (line: string, final: boolean) => void;
  /** Aborts the walk (Ctrl-C); it stops after the page in hand, whose checkpoint is kept. */
  readonly signal?: AbortSignal;
  readonly now?: () => Date;
}

export interface BackfillArgs {
  readonly tenant: string;
  readonly since?: Date;
  readonly until?: Date;
  readonly restart: boolean;
}

/** Parses `backfill` arguments; a string is the problem. */
export function parseBackfillArgs(args: readonly string[]): BackfillArgs | string {
  let tenant: string | undefined;
  let since: Date | undefined;
  let until: Date | undefined;
  let restart = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const value = args[i + 1];
    if (a === '--restart') restart = true;
    else if (a === '--tenant' && value !== undefined) {
      tenant = value;
      i++;
    } else if ((a === '--since' || a === '--until') && value !== undefined) {
      const d = new Date(value);
      if (!/^\d{4}-\d{2}-\d{2}/.test(value) || Number.isNaN(d.getTime()))
        return `${a} must be an ISO 8601 date or date-time, e.g. 2026-11-01 or 2026-11-01T12:00:00Z (got ${value.slice(0, 40)})`;
      if (a === '--since') since = d;
      else until = d;
      i++;
    } else return `unknown or incomplete argument ${a.slice(0, 40)}`;
  }
  if (tenant === undefined) return '--tenant <organization id or licence> is required';
  if (since !== undefined && until !== undefined && since >= until) return '--since must be before --until';
  return {
    tenant,
    ...(since === undefined ? {} : { since }),
    ...(until === undefined ? {} : { until }),
    restart,
  };
}

const fmtDuration = (s: number) =>
  s >= 3600
    ? `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`
    : s >= 60
      ? `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, '0')}s`
      : `${s.toFixed(1)}s`;

/** `[#####-----] 1,200 / ~2,000 threads · 12 pages · 340 threads/s · ETA 2.4s` (ETA from found_chats: an estimate). */
export function progressLine(p: WalkProgress, startThreads: number, elapsedMs: number): string {
  const done = p.threads;
  const rate = (done - startThreads) / Math.max(elapsedMs / 1000, 0.001);
  const total = p.foundChats !== null ? Math.max(p.foundChats, done) : null;
  const width = 20;
  const filled = total === null || total === 0 ? 0 : Math.round((done / total) * width);
  const bar = `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}]`;
  const eta = total === null || rate <= 0 ? '?' : fmtDuration(Math.max(0, total - done) / rate);
  return `${bar} ${done.toLocaleString('en')} / ${total === null ? '?' : `~${total.toLocaleString('en')}`} threads · ${p.pages} pages · ${Math.round(rate)} threads/s · ETA ${eta}`;
}

/** `pnpm livechat backfill`: returns the exit code (0 done, 1 failed, 75 paused/busy: run it again). */
export async function runBackfillCommand(deps: AppDeps, args: BackfillArgs, io: BackfillIo): Promise<number> {
  const { config } = deps;
  const now = io.now?.() ?? new Date();
  const resolved = await cliCredentials(deps, args.tenant);
  if ('problem' in resolved) {
    io.err(resolved.problem);
    return resolved.code;
  }
  const { organizationId, credentials } = resolved;
  const store = deps.archives.store;
  const days = config.archives.backfillDays === 0 ? 30 : config.archives.backfillDays;
  const since = args.since ?? new Date(now.getTime() - days * 86_400_000);
  const until = args.until ?? now;
  let walk: ArchiveWalk;
  const running = await store.runningWalk(organizationId, 'backfill');
  const boundsGiven = args.since !== undefined || args.until !== undefined;
  if (
    running !== null &&
    boundsGiven &&
    (running.since.getTime() !== since.getTime() || running.until.getTime() !== until.getTime())
  ) {
    if (!args.restart) {
      io.err(
        `a backfill of ${organizationId} with other bounds is paused (walk ${running.id}: ${running.since.toISOString()} .. ${running.until.toISOString()}, ${running.threads} threads read): run it again without --since/--until to finish it, or add --restart to drop it`,
      );
      return 64;
    }
    if (!(await store.claim(running.id))) {
      io.err(`walk ${running.id} is being run by another process right now`);
      return 75;
    }
    await store.finish(running.id, {
      status: 'failed',
      code: 'APP_BACKFILL_REPLACED',
      message: 'replaced by --restart',
    });
  }
  const opened = await store.openWalk({
    tenantId: organizationId,
    kind: 'backfill',
    trigger: 'cli',
    since,
    until,
  });
  walk = opened.walk;
  io.err(
    opened.created
      ? `backfill ${organizationId}: ${walk.since.toISOString()} .. ${walk.until.toISOString()} (walk ${walk.id})`
      : `backfill ${organizationId}: resuming walk ${walk.id} (${walk.since.toISOString()} .. ${walk.until.toISOString()}) after ${walk.threads} threads, ${walk.pages} pages`,
  );
  const retries = new Map<string, number>();
  const listener = metricsListener(deps.metrics);
  const client = agentClient(config, credentials, (e: AgentApiEvent) => {
    listener(e);
    if (e.kind === 'retry') retries.set(e.reason, (retries.get(e.reason) ?? 0) + 1);
  });
  const started = Date.now();
  let rejected = 0;
  const outcome = await runWalk(
    { client, store, sink: deps.archives.sink },
    walk,
    { id: organizationId, organizationId },
    {
      ...(io.signal === undefined ? {} : { signal: io.signal }),
      onProgress: (p) => io.progress?.(progressLine(p, walk.threads, Date.now() - started), false),
      onRejected: (r) => {
        rejected += 1;
        io.err(`thread ${r.threadId} skipped: ${r.code}`);
      },
    },
  );
  walk = outcome.walk;
  const seconds = (Date.now() - started) / 1000;
  const read = walk.threads - opened.walk.threads;
  io.progress?.(
    progressLine(
      {
        walk,
        pages: walk.pages,
        threads: walk.threads,
        written: walk.written,
        restricted: walk.restricted,
        foundChats: walk.foundChats,
      },
      opened.walk.threads,
      Date.now() - started,
    ),
    true,
  );
  const retryText =
    retries.size === 0 ? 'no retries' : [...retries].map(([reason, n]) => `${n} × ${reason}`).join(', ');
  const summary = `${read} threads read this run (${walk.threads} in all, ${walk.written} written, ${walk.restricted} beyond the plan's history${rejected > 0 ? `, ${rejected} rejected` : ''}) in ${walk.pages} pages, ${Math.round(read / Math.max(seconds, 0.001))} threads/s, ${fmtDuration(seconds)}; ${retryText}`;
  switch (outcome.status) {
    case 'done':
      io.out(`backfill done: ${summary}`);
      return 0;
    case 'busy':
      io.err(`walk ${walk.id} is being run by another process (its lease is live): nothing done`);
      return 75;
    case 'paused':
      io.out(`backfill paused (${outcome.code}): ${summary}`);
      io.err('run the same command again to resume from the checkpoint');
      return 75;
    case 'failed':
      io.out(`backfill failed (${outcome.code}): ${outcome.message}`);
      return 1;
  }
}

export const RECONCILE_USAGE = `usage: pnpm livechat reconcile --tenant <organization id or licence>
  one reconciliation pass now (as the app's scheduler runs every APP_RECONCILE_INTERVAL_SECONDS): the window since
  the tenant's watermark (minus APP_RECONCILE_OVERLAP_SECONDS) read with list_archives, new or changed threads written
  to the raw topic, threads left open fetched with get_chat. Same credentials as backfill.`;

/** The credentials for a tenant on the CLI: LIVECHAT_PAT, else the tenant's OAuth token; a string is the problem. */
async function cliCredentials(
  deps: AppDeps,
  tenantKey: string,
): Promise<{ organizationId: string; credentials: ApiCredentials } | { problem: string; code: number }> {
  const { config, registry } = deps;
  const known = (await registry.listTenants(config.livechat.clientId)).find(
    (t) => t.status === 'active' && (t.organizationId === tenantKey || t.licenseId === tenantKey),
  );
  const organizationId = known?.organizationId ?? tenantKey;
  if (config.livechat.pat !== null) {
    // A PAT acts for its own organization: its chats must never be written under another tenant.
    const credentials = patCredentials(config.livechat.pat.accountId, config.livechat.pat.token);
    let patOrganization: string;
    try {
      const res = await fetch(
        `${config.livechat.accountsUrl}/v2/accounts/${encodeURIComponent(config.livechat.pat.accountId)}`,
        {
          headers: { authorization: await credentials.authorization() },
          signal: AbortSignal.timeout(config.livechat.timeoutMs),
        },
      );
      const body = (await res.json().catch(() => ({}))) as { organization_id?: unknown };
      if (!res.ok || typeof body.organization_id !== 'string')
        return {
          problem: `LIVECHAT_PAT was refused by the accounts service (HTTP ${res.status}): check account_id:PAT`,
          code: 1,
        };
      patOrganization = body.organization_id;
    } catch (err) {
      return {
        problem: `could not ask the accounts service which organization LIVECHAT_PAT belongs to: ${err instanceof Error ? err.message.slice(0, 200) : 'unknown error'}`,
        code: 1,
      };
    }
    if (patOrganization !== organizationId)
      return {
        problem: `LIVECHAT_PAT belongs to organization ${patOrganization}, not to ${organizationId} (--tenant ${tenantKey}): refusing to write one organization's chats under another`,
        code: 1,
      };
    return { organizationId, credentials };
  }
  if (known !== undefined && deps.oauth !== null) {
    const stored = await registry.getTokens(known.id);
    if (stored !== null && !canReadChats(stored.scope))
      return {
        problem: `the OAuth token of ${organizationId} cannot read chats (granted: ${stored.scope || 'none'}); it needs chats--all:ro or chats--access:ro: add the scope to the app and reconnect, or use LIVECHAT_PAT`,
        code: 1,
      };
    return { organizationId, credentials: deps.oauth.tokens.credentialsFor(known.id) };
  }
  return {
    problem: `no credentials for ${tenantKey}: set LIVECHAT_PAT=<account_id>:<PAT> (scope chats--all:ro), or connect the tenant (its OAuth token, with APP_TOKEN_KEYS)`,
    code: 2,
  };
}

/** `pnpm livechat reconcile`: one pass; 0 done, 1 failed, 75 paused/busy. */
export async function runReconcileCommand(deps: AppDeps, tenantKey: string, io: BackfillIo): Promise<number> {
  const resolved = await cliCredentials(deps, tenantKey);
  if ('problem' in resolved) {
    io.err(resolved.problem);
    return resolved.code;
  }
  const { organizationId, credentials } = resolved;
  const c = deps.config.archives;
  const client = agentClient(deps.config, credentials, metricsListener(deps.metrics));
  const started = Date.now();
  const report = await reconcileTenant(
    { client, store: deps.archives.store, sink: deps.archives.sink },
    { id: organizationId, organizationId },
    {
      overlapSeconds: c.reconcileOverlapSeconds,
      firstWindowSeconds: c.reconcileFirstWindowSeconds,
      openThreadSeconds: c.reconcileOpenThreadSeconds,
    },
    {
      ...(io.signal === undefined ? {} : { signal: io.signal }),
      onRejected: (r) => io.err(`thread ${r.threadId} skipped: ${r.code}`),
    },
  );
  io.out(
    `reconcile ${report.outcome}${report.code === undefined ? '' : ` (${report.code}: ${report.message ?? ''})`}: window ${report.since.toISOString()} .. ${report.until.toISOString()}, threads checked ${report.threadsChecked}, threads recovered ${report.threadsRecovered}, events recovered ${report.eventsRecovered}, open threads fetched ${report.openThreadsFetched}, gone ${report.gone}, unreadable ${report.unreadable ?? 0}, ${fmtDuration((Date.now() - started) / 1000)}`,
  );
  return report.outcome === 'done' ? 0 : report.outcome === 'failed' ? 1 : 75;
}
