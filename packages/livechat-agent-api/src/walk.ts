import type { AgentChatClient } from './client.js';
import { AgentApiError } from './errors.js';

/** One `list_archives` row: a chat with one thread (reference A.4). Kept as LiveChat sent it. */
export interface ArchiveRow {
  readonly id: string;
  readonly thread: {
    readonly id: string;
    readonly created_at: string;
    readonly active?: boolean;
    readonly restricted_access?: string;
    readonly events?: readonly unknown[];
    readonly [field: string]: unknown;
  };
  readonly [field: string]: unknown;
}

export interface ArchivePage {
  readonly rows: readonly ArchiveRow[];
  /** Rows without id, thread.id or thread.created_at: left out (the caller counts them), never a reason to stall. */
  readonly invalidRows: number;
  /** The page_id this page was read with (null: the first request, with filters). */
  readonly pageId: string | null;
  /** Where the walk goes on from; null after the last page. */
  readonly nextPageId: string | null;
  /** LiveChat's estimate of the rows matching the filters: progress only, never a completeness check. */
  readonly foundChats: number | null;
}

/** Where a walk starts: a first request (filters, ascending, 100 per page) or a page_id alone (resume). */
export type WalkStart =
  | { readonly filters: Readonly<Record<string, unknown>>; readonly limit?: number }
  | { readonly pageId: string };

/** RFC 3339 with microseconds and an explicit offset, as list_archives' filters.from / filters.to want. */
export function archiveTime(date: Date): string {
  return date.toISOString().replace(/\.(\d{3})Z$/, '.$1000+00:00');
}

/** A row the walk can use: a chat id, and a thread with an id and a created_at. */
export function isArchiveRow(c: unknown): c is ArchiveRow {
  const row = c as Partial<ArchiveRow> | null;
  return (
    typeof row === 'object' &&
    row !== null &&
    typeof row.id === 'string' &&
    typeof row.thread === 'object' &&
    row.thread !== null &&
    typeof row.thread.id === 'string' &&
    typeof row.thread.created_at === 'string'
  );
}

function parsePage(body: Record<string, unknown>, pageId: string | null): ArchivePage {
  const chats = body['chats'];
  if (!Array.isArray(chats))
    throw new AgentApiError('AGENT_API_RESPONSE_INVALID', 'list_archives: the response has no chats array', {
      method: 'list_archives',
    });
  const rows = chats.filter(isArchiveRow);
  const next = body['next_page_id'];
  const found = body['found_chats'];
  return {
    rows,
    invalidRows: chats.length - rows.length,
    pageId,
    nextPageId: typeof next === 'string' && next !== '' ? next : null,
    foundChats: typeof found === 'number' ? found : null,
  };
}

/**
 * Walks list_archives ascending from `start`, one page at a time: `onPage` runs (and must finish: write the rows,
 * move the checkpoint) before the next page is asked for, so a crash repeats at most the page in hand. Later
 * requests carry only the page_id (LiveChat rejects filters beside it). A page that fails after the client's retries
 * throws: the walk stops there and resumes from the same page_id, a page is never skipped.
 */
export async function walkArchives(
  client: AgentChatClient,
  start: WalkStart,
  onPage: (page: ArchivePage) => Promise<void>,
  signal?: AbortSignal,
): Promise<{ pages: number; rows: number }> {
  let pages = 0;
  let rows = 0;
  let request: Record<string, unknown> =
    'pageId' in start
      ? { page_id: start.pageId }
      : { filters: start.filters, sort_order: 'asc', limit: start.limit ?? 100 };
  let pageId: string | null = 'pageId' in start ? start.pageId : null;
  for (;;) {
    if (signal?.aborted === true) break;
    const page = parsePage(await client.call('list_archives', request, signal), pageId);
    await onPage(page);
    pages += 1;
    rows += page.rows.length;
    if (page.nextPageId === null) break;
    pageId = page.nextPageId;
    request = { page_id: page.nextPageId };
  }
  return { pages, rows };
}
