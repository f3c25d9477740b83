import { isAgentApiError, isArchiveRow } from '@livechat-pipeline/livechat-agent-api';
import type { ArchiveRow } from '@livechat-pipeline/livechat-agent-api';
import { fingerprintOf, runWalk } from './walk-runner.js';
import type { WalkOutcome, WalkRunnerDeps } from './walk-runner.js';

export interface ReconcileSettings {
  /** How far a window reaches back before the previous window's end (> LiveChat's ~1 min webhook retry horizon). */
  readonly overlapSeconds: number;
  /** The first window of a tenant without a watermark. */
  readonly firstWindowSeconds: number;
  /** A thread we last saw open this long ago is fetched with get_chat. */
  readonly openThreadSeconds: number;
}

export interface ReconcileReport {
  readonly outcome: WalkOutcome['status'];
  readonly code?: string;
  readonly message?: string;
  readonly since: Date;
  readonly until: Date;
  /** Threads read in the window (list_archives) and fetched (get_chat). */
  readonly threadsChecked: number;
  /** Threads new or changed since we last held them, written to the raw topic. */
  readonly threadsRecovered: number;
  /** Events carried by the threads written (their webhook copies, if any arrived, dedup against them). */
  readonly eventsRecovered: number;
  /** Threads left open that get_chat fetched. */
  readonly openThreadsFetched: number;
  /** Threads LiveChat no longer has (get_chat not_found) or keeps beyond the plan's history. */
  readonly gone: number;
  /** Threads left open that get_chat refused for this token (authorization, validation, …) or answered malformed. */
  readonly unreadable?: number;
}

/**
 * One reconciliation pass for a tenant: the window [watermark − overlap, now] walked with list_archives (new or
 * changed threads written; resumable like a backfill, under its lease), the watermark moved to the window's end once
 * the walk is done, then the threads we last saw open for longer than `openThreadSeconds` fetched with get_chat.
 */
export async function reconcileTenant(
  deps: WalkRunnerDeps,
  tenant: { readonly id: string; readonly organizationId: string },
  settings: ReconcileSettings,
  options: { signal?: AbortSignal; onRejected?: (r: { threadId: string; code: string }) => void } = {},
): Promise<ReconcileReport> {
  const now = deps.now?.() ?? new Date();
  const { store } = deps;
  const watermark = await store.watermark(tenant.id);
  const since = new Date(
    (watermark?.getTime() ?? now.getTime() - settings.firstWindowSeconds * 1000) -
      settings.overlapSeconds * 1000,
  );
  const { walk } = await store.openWalk({
    tenantId: tenant.id,
    kind: 'reconcile',
    trigger: 'schedule',
    since,
    until: now,
  });
  let eventsRecovered = 0;
  const counting = {
    ...deps,
    sink: {
      write: (
        org: string,
        rows: readonly ArchiveRow[],
        source: Parameters<WalkRunnerDeps['sink']['write']>[2],
      ) => {
        eventsRecovered += rows.reduce((n, r) => n + (r.thread.events?.length ?? 0), 0);
        return deps.sink.write(org, rows, source);
      },
    },
  };
  const outcome = await runWalk(counting, walk, tenant, options);
  const base = {
    since: walk.since,
    until: walk.until,
    threadsChecked: outcome.walk.threads - walk.threads,
    threadsRecovered: outcome.walk.written - walk.written,
    gone: outcome.walk.restricted - walk.restricted,
  };
  if (outcome.status !== 'done')
    return {
      outcome: outcome.status,
      ...('code' in outcome ? { code: outcome.code, message: outcome.message } : {}),
      ...base,
      eventsRecovered,
      openThreadsFetched: 0,
    };
  await store.setWatermark(tenant.id, walk.until);

  // One process at a time per tenant for what follows (a replica whose pass overlaps skips it: it would fetch the
  // same threads and spend the tenant's API budget twice).
  const locked = await store.tryTenantLock(tenant.id, 'open-threads');
  if (locked === null)
    return { outcome: 'done', ...base, eventsRecovered, openThreadsFetched: 0, unreadable: 0 };
  try {
    return await openThreadsPhase();
  } finally {
    await locked.release();
  }

  async function openThreadsPhase(): Promise<ReconcileReport> {
    // Threads left open in what we hold: their close (and anything after our last read) may be a lost webhook.
    const stale = await store.staleActiveThreads(
      tenant.id,
      new Date(now.getTime() - settings.openThreadSeconds * 1000),
    );
    let fetched = 0;
    let recovered = 0;
    let gone = 0;
    let unreadable = 0;
    let stoppedBy: string | undefined;
    for (const held of stale) {
      if (options.signal?.aborted === true) break;
      let body: Record<string, unknown>;
      try {
        body = await deps.client.call(
          'get_chat',
          { chat_id: held.chatId, thread_id: held.threadId },
          options.signal,
        );
      } catch (err) {
        if (!isAgentApiError(err)) throw err;
        if (err.code === 'AGENT_API_NOT_FOUND') {
          // Deleted at LiveChat: stop asking (kept as not active).
          await store.recordThreads(tenant.id, [{ ...held, active: false }]);
          gone += 1;
          continue;
        }
        if (err.retryable) {
          // Rate limited or unavailable after the client's retries: the rest waits for the next pass (oldest first).
          stoppedBy = err.code;
          break;
        }
        // This thread cannot be read with this token (authorization: outside the user's groups; validation; another
        // refusal): counted and not asked again, so one thread never blocks the others.
        options.onRejected?.({ threadId: held.threadId, code: err.code });
        await store.recordThreads(tenant.id, [{ ...held, active: false }]);
        unreadable += 1;
        continue;
      }
      if (!isArchiveRow(body)) {
        options.onRejected?.({ threadId: held.threadId, code: 'AGENT_API_RESPONSE_INVALID' });
        await store.recordThreads(tenant.id, [{ ...held, active: false }]);
        unreadable += 1;
        continue;
      }
      const row = body;
      fetched += 1;
      if (row.thread.restricted_access !== undefined) {
        await store.recordThreads(tenant.id, [{ ...held, active: false }]);
        gone += 1;
        continue;
      }
      const print = fingerprintOf(row);
      if (print.fingerprint !== held.fingerprint) {
        const { rejected } = await deps.sink.write(tenant.organizationId, [row], {
          method: 'get_chat',
          pageId: null,
          pageNumber: null,
          readAt: deps.now?.() ?? new Date(),
        });
        for (const r of rejected) options.onRejected?.(r);
        if (rejected.length === 0) {
          recovered += 1;
          eventsRecovered += row.thread.events?.length ?? 0;
        }
      }
      // Recorded even when unchanged: its written_at moves, so it is asked again only after openThreadSeconds.
      await store.recordThreads(tenant.id, [print]);
    }
    return {
      outcome: 'done',
      ...base,
      threadsChecked: base.threadsChecked + fetched,
      threadsRecovered: base.threadsRecovered + recovered,
      eventsRecovered,
      openThreadsFetched: fetched,
      gone: base.gone + gone,
      unreadable,
      ...(stoppedBy === undefined
        ? {}
        : { code: stoppedBy, message: 'threads left open: stopped early, the rest waits for the next pass' }),
    };
  }
}
