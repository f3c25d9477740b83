import { createHash } from 'node:crypto';
import { archiveTime, isAgentApiError, walkArchives } from '@livechat-pipeline/livechat-agent-api';
import type { AgentChatClient, ArchivePage, ArchiveRow } from '@livechat-pipeline/livechat-agent-api';
import type { ArchiveStore, ArchiveWalk, ThreadFingerprint } from './store.js';

/** Where an archive thread was read: carried into its raw record. */
export interface ArchiveSource {
  readonly method: 'list_archives' | 'get_chat';
  readonly pageId: string | null;
  /** 1-based page of the walk (null for get_chat). */
  readonly pageNumber: number | null;
  readonly readAt: Date;
}

/** Writes archive threads to the raw topic and resolves once Kafka acknowledged every record (acks=all). */
export interface ArchiveSink {
  /** Threads that cannot become a record (too large even alone, malformed) come back in `rejected`, not thrown. */
  write(
    organizationId: string,
    rows: readonly ArchiveRow[],
    source: ArchiveSource,
  ): Promise<{ readonly rejected: readonly { readonly threadId: string; readonly code: string }[] }>;
}

export interface WalkProgress {
  readonly walk: ArchiveWalk;
  readonly pages: number;
  readonly threads: number;
  readonly written: number;
  readonly restricted: number;
  readonly foundChats: number | null;
}

export type WalkOutcome =
  /** Every page read and acknowledged. */
  | { readonly status: 'done'; readonly walk: ArchiveWalk }
  /** Another process holds the walk's lease. */
  | { readonly status: 'busy'; readonly walk: ArchiveWalk }
  /** Stopped by the caller (Ctrl-C, shutdown) or by LiveChat's limits / outages after every retry: resumable. */
  | { readonly status: 'paused'; readonly walk: ArchiveWalk; readonly code: string; readonly message: string }
  /** Cannot go on without a person (no scope, credentials refused): the walk is marked failed. */
  | {
      readonly status: 'failed';
      readonly walk: ArchiveWalk;
      readonly code: string;
      readonly message: string;
    };

/**
 * A thread's fingerprint: what makes a new version worth writing (its events and their deletion, state, tags,
 * properties, the users' names and e-mails), not the fields that change on every read (who is present, what they have
 * seen, is_followed).
 */
export function threadFingerprint(row: ArchiveRow): string {
  const { thread } = row;
  const events = (thread.events ?? []) as readonly Record<string, unknown>[];
  return createHash('sha256')
    .update(
      JSON.stringify([
        thread.active ?? null,
        thread['tags'] ?? null,
        thread['properties'] ?? null,
        row['properties'] ?? null,
        row['access'] ?? null,
        ((row['users'] ?? []) as readonly Record<string, unknown>[]).map((u) => [
          u['id'],
          u['name'] ?? null,
          u['email'] ?? null,
        ]),
        events.map((e) => [
          e['id'],
          e['type'],
          e['text'] ?? null,
          e['properties'] ?? null,
          e['deleted'] ?? null,
        ]),
      ]),
    )
    .digest('hex');
}

export const fingerprintOf = (row: ArchiveRow): ThreadFingerprint => ({
  threadId: row.thread.id,
  chatId: row.id,
  fingerprint: threadFingerprint(row),
  active: row.thread.active === true,
  createdAt: row.thread.created_at,
});

export interface WalkRunnerDeps {
  readonly client: AgentChatClient;
  readonly store: ArchiveStore;
  readonly sink: ArchiveSink;
  readonly now?: () => Date;
}

/**
 * Runs (or resumes) one archive walk for a tenant: list_archives ascending over [since, until], each page's new or
 * changed threads written to the raw topic and acknowledged, then the checkpoint moved (with the fingerprints) under
 * the walk's lease. Threads whose fingerprint we already hold are not written again (a resumed, repeated or
 * overlapping walk costs reads, not records). Threads beyond the plan's history (`restricted_access`, no events) are
 * counted, not written.
 */
export async function runWalk(
  deps: WalkRunnerDeps,
  walk: ArchiveWalk,
  tenant: { readonly id: string; readonly organizationId: string },
  options: {
    signal?: AbortSignal;
    onProgress?: (p: WalkProgress) => void;
    /** A thread that could not become a record (counted, never stalls the walk). */
    onRejected?: (r: { readonly threadId: string; readonly code: string }) => void;
  } = {},
): Promise<WalkOutcome> {
  const { store } = deps;
  if (!(await store.claim(walk.id))) return { status: 'busy', walk };
  // Keeps the lease while a page waits out LiveChat's rate limit (the checkpoint renews it too).
  const renew = setInterval(
    () => {
      store.renew(walk.id).catch(() => undefined);
    },
    Math.max(1000, (store.leaseSeconds * 1000) / 3),
  ).unref();
  const progress = {
    pages: walk.pages,
    threads: walk.threads,
    written: walk.written,
    restricted: walk.restricted,
    foundChats: walk.foundChats,
  };
  let current = walk;
  let restarted = false;
  try {
    for (;;) {
      const fromLast = current.lastThreadCreatedAt;
      const start =
        current.pageId !== null
          ? { pageId: current.pageId }
          : {
              filters: {
                from: fromLast === null ? archiveTime(current.since) : fromLast.replace(/Z$/, '+00:00'),
                to: archiveTime(current.until),
              },
            };
      try {
        await walkArchives(
          deps.client,
          start,
          async (page: ArchivePage) => {
            const readAt = deps.now?.() ?? new Date();
            const readable = page.rows.filter((r) => r.thread.restricted_access === undefined);
            const prints = readable.map(fingerprintOf);
            const held = await store.fingerprints(
              tenant.id,
              prints.map((p) => p.threadId),
            );
            const changed = readable.filter(
              (_, i) => held.get(prints[i]!.threadId) !== prints[i]!.fingerprint,
            );
            const changedPrints = prints.filter((p) => held.get(p.threadId) !== p.fingerprint);
            const { rejected } =
              changed.length > 0
                ? await deps.sink.write(tenant.organizationId, changed, {
                    method: 'list_archives',
                    pageId: page.pageId,
                    pageNumber: progress.pages + 1,
                    readAt,
                  })
                : { rejected: [] };
            for (const r of rejected) options.onRejected?.(r);
            for (let i = 0; i < page.invalidRows; i++)
              options.onRejected?.({ threadId: '(unknown)', code: 'AGENT_API_RESPONSE_INVALID' });
            const rejectedIds = new Set(rejected.map((r) => r.threadId));
            const written = changedPrints.filter((p) => !rejectedIds.has(p.threadId));
            const last = page.rows[page.rows.length - 1];
            const moved = await store.checkpoint(current.id, tenant.id, {
              nextPageId: page.nextPageId,
              threads: page.rows.length,
              written,
              restricted: page.rows.length - readable.length,
              foundChats: page.foundChats,
              lastThreadCreatedAt: last?.thread.created_at ?? null,
            });
            if (!moved) throw new LeaseLost();
            progress.pages += 1;
            progress.threads += page.rows.length;
            progress.written += written.length;
            progress.restricted += page.rows.length - readable.length;
            progress.foundChats = page.foundChats ?? progress.foundChats;
            options.onProgress?.({ walk: current, ...progress });
          },
          options.signal,
        );
        const after = (await store.getWalk(current.id)) ?? current;
        if (after.status === 'running') {
          // Aborted between pages: the checkpoint is where the next run goes on.
          await store.release(current.id);
          return {
            status: 'paused',
            walk: after,
            code: 'AGENT_API_ABORTED',
            message: 'stopped by the caller',
          };
        }
        return { status: 'done', walk: after };
      } catch (err) {
        if (err instanceof LeaseLost)
          return {
            status: 'busy',
            walk: (await store.getWalk(current.id)) ?? current,
          };
        if (!isAgentApiError(err)) {
          // The raw topic refused the page for now (Kafka down after kafkajs's retries, the registry away): pause,
          // the page is read again from the same checkpoint later. Threads Kafka refuses for good never get here
          // (the sink rejects them one by one).
          await store.release(current.id);
          return {
            status: 'paused',
            walk: (await store.getWalk(current.id)) ?? current,
            code: 'APP_ARCHIVE_WRITE_FAILED',
            message: err instanceof Error ? err.message.slice(0, 300) : String(err).slice(0, 300),
          };
        }
        // A page_id LiveChat no longer takes (expired after a month, or foreign): go on from the last thread
        // acknowledged with a new first request (its threads already written are recognised by fingerprint).
        if (err.code === 'AGENT_API_VALIDATION' && 'pageId' in start && !restarted) {
          restarted = true;
          await store.restartFromLastThread(current.id);
          current = (await store.getWalk(current.id)) ?? current;
          continue;
        }
        if (
          err.code === 'AGENT_API_AUTHORIZATION' ||
          err.code === 'AGENT_API_AUTHENTICATION' ||
          err.code === 'AGENT_API_VALIDATION' ||
          err.code === 'AGENT_API_REJECTED'
        ) {
          const message =
            err.code === 'AGENT_API_AUTHORIZATION'
              ? `the token of ${tenant.organizationId} lacks the scope chats--all:ro (or chats--access:ro): reconnect the app after adding it in the Developer Console`
              : err.message;
          await store.finish(current.id, { status: 'failed', code: err.code, message });
          return {
            status: 'failed',
            walk: (await store.getWalk(current.id)) ?? current,
            code: err.code,
            message,
          };
        }
        // Rate limited or unavailable after every retry, or aborted mid-call: the page is not skipped, the walk
        // resumes from it.
        await store.release(current.id);
        return {
          status: 'paused',
          walk: (await store.getWalk(current.id)) ?? current,
          code: err.code,
          message: err.message,
        };
      }
    }
  } finally {
    clearInterval(renew);
  }
}

class LeaseLost extends Error {
  constructor() {
    super('another process took over the walk');
  }
}
