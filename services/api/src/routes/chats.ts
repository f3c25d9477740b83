import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { ApiDeps } from '../deps.js';
import { ApiError } from '../errors.js';
import { sendCsv, wantsCsv } from '../http/csv.js';
import { decodeCursor, encodeCursor, filtersDigest, pageQuery } from '../http/pagination.js';
import { defineRoute } from '../http/route.js';
import {
  chatDetail,
  chatPage,
  dateTimeParam,
  rfc3339ToMicros,
  type chatSummary,
  type transcriptEntry,
} from '../http/schemas.js';
import { readChat, type EntryRow } from '../queries/detail.js';
import { listChats, type ChatFilters, type ChatPosition, type ChatSummaryRow } from '../queries/chats.js';

const chatListQuery = z.object({
  from: dateTimeParam.optional().describe('Chats started at or after (RFC 3339)'),
  to: dateTimeParam.optional().describe('Chats started before (RFC 3339)'),
  tag: z.string().min(1).max(200).optional().describe('Chats with this tag'),
  agent: z.string().min(1).max(320).optional().describe('Chats an agent (id or e-mail) took part in'),
  group: z.number().int().min(0).max(9_007_199_254_740_991).optional().describe('Chats in this group id'),
  customer_email: z.string().min(3).max(320).optional().describe("The customer's e-mail (case-insensitive)"),
  q: z.string().min(1).max(200).optional().describe('Words in the messages (all of them, whole words)'),
  ...pageQuery,
});

export const customerChatsQuery = z.object({ ...pageQuery });

/** A summary row as the API shows it. */
export function chatSummaryBody(row: ChatSummaryRow): z.infer<typeof chatSummary> {
  return {
    chat_id: row.chat_id,
    started_at: row.started_at,
    ended_at: row.ended_at,
    customer:
      row.customer_id === null
        ? null
        : { id: row.customer_id, name: row.customer_name, email: row.customer_email },
    agent_ids: row.agent_ids,
    group_ids: row.group_ids.map(Number),
    tags: row.tags,
    message_count: row.message_count,
    thread_count: row.thread_count,
  };
}

const CSV_COLUMNS: readonly { name: string; value: (row: ChatSummaryRow) => unknown }[] = [
  { name: 'chat_id', value: (r) => r.chat_id },
  { name: 'started_at', value: (r) => r.started_at },
  { name: 'ended_at', value: (r) => r.ended_at },
  { name: 'customer_id', value: (r) => r.customer_id },
  { name: 'customer_name', value: (r) => r.customer_name },
  { name: 'customer_email', value: (r) => r.customer_email },
  { name: 'agent_ids', value: (r) => r.agent_ids },
  { name: 'group_ids', value: (r) => r.group_ids },
  { name: 'tags', value: (r) => r.tags },
  { name: 'message_count', value: (r) => r.message_count },
  { name: 'thread_count', value: (r) => r.thread_count },
];

/**
 * A chat list answer: a JSON page, or (Accept: text/csv) every matching chat streamed page by page. Shared by
 * /v1/chats and /v1/customers/{id}/chats.
 */
export async function answerChatList(
  deps: ApiDeps,
  request: Parameters<Parameters<typeof defineRoute>[3]>[0],
  reply: Parameters<Parameters<typeof defineRoute>[3]>[1],
  filters: ChatFilters,
  page: { limit: number; cursor?: string | undefined },
  filename: string,
): Promise<unknown> {
  const tenant = request.principal.tenant;
  if (wantsCsv(request, true)) {
    async function* batches(): AsyncGenerator<ChatSummaryRow[]> {
      let after: ChatPosition | null = null;
      for (;;) {
        const result = await listChats(deps, tenant, filters, deps.config.csvBatchRows, after);
        yield result.rows;
        if (!result.more || result.last === null) return;
        after = result.last;
      }
    }
    return sendCsv(reply, filename, CSV_COLUMNS, batches());
  }
  const digest = filtersDigest({ ...filters });
  const after =
    page.cursor === undefined
      ? null
      : (decodeCursor(page.cursor, digest, ['number', 'string']) as unknown as ChatPosition);
  const result = await listChats(deps, tenant, filters, page.limit, after);
  return {
    chats: result.rows.map(chatSummaryBody),
    next_cursor: result.more && result.last !== null ? encodeCursor(result.last, digest) : null,
  };
}

export function registerChatRoutes(app: FastifyInstance, deps: ApiDeps): void {
  defineRoute(
    app,
    deps,
    {
      url: '/v1/chats',
      operationId: 'listChats',
      summary: 'Chat summaries, newest first',
      description:
        "Chats of the key's tenant, ordered by the start of their first thread (newest first; chats whose start is " +
        'not known yet come last). `q` finds chats whose messages contain all the words. With `Accept: text/csv` ' +
        'every matching chat is streamed as CSV (no pagination).',
      tag: 'chats',
      query: chatListQuery,
      response: chatPage,
      csv: true,
    },
    async (request, reply, { query }) => {
      const fromUs = query.from === undefined ? undefined : rfc3339ToMicros(query.from);
      const toUs = query.to === undefined ? undefined : rfc3339ToMicros(query.to);
      if (fromUs !== undefined && toUs !== undefined && fromUs >= toUs)
        throw new ApiError('API_BAD_PARAMETER', 'from must be before to');
      const filters: ChatFilters = {
        fromUs,
        toUs,
        tag: query.tag,
        agent: query.agent,
        group: query.group,
        customerEmail: query.customer_email,
        q: query.q,
      };
      return answerChatList(deps, request, reply, filters, query, 'chats.csv');
    },
  );
}

/** The most transcript entries one answer carries (what a sender writes must not make an answer unbounded). */
export const MAX_TRANSCRIPT_ENTRIES = 5_000;

export const chatIdParams = z.object({
  chat_id: z
    .string()
    .min(1)
    .max(100)
    .regex(/^[A-Za-z0-9_.:-]+$/, 'must be a chat id')
    .describe('The chat id'),
});

const nullableString = (v: unknown): string | null => (typeof v === 'string' ? v : null);

function entryBody(row: EntryRow): z.infer<typeof transcriptEntry> {
  return {
    position: row.position,
    event_id: row.event_id,
    author: { type: row.author_type, id: row.author_id, name: row.author_name },
    visibility: row.visibility,
    kind: row.kind,
    text: row.text,
    file:
      row.file === null
        ? null
        : {
            name: nullableString(row.file.name),
            url: nullableString(row.file.url),
            content_type: nullableString(row.file.content_type),
            size: typeof row.file.size === 'number' ? row.file.size : null,
          },
    created_at: row.created_at,
    edited_at: row.edited_at,
    deleted_at: row.deleted_at,
  };
}

export function registerChatDetailRoute(app: FastifyInstance, deps: ApiDeps): void {
  defineRoute(
    app,
    deps,
    {
      url: '/v1/chats/:chat_id',
      operationId: 'getChat',
      summary: 'A chat with its threads and transcript',
      description:
        "The chat's summary, its threads (oldest first) with their tags, rating and first response time, and each " +
        "thread's transcript entries in order. 404 when the key's tenant has no such chat.",
      tag: 'chats',
      params: chatIdParams,
      response: chatDetail,
    },
    async (request, _reply, { params }) => {
      wantsCsv(request, false);
      const chat = await readChat(deps, request.principal.tenant, params.chat_id);
      if (chat === null) throw new ApiError('API_NOT_FOUND', `no chat ${params.chat_id}`);
      const facts = new Map(chat.facts.map((f) => [f.thread_id, f]));
      // entries grouped by thread once; a thread whose start was never seen still shows its entries
      const truncated = chat.entries.length > MAX_TRANSCRIPT_ENTRIES;
      const byThread = new Map<string, z.infer<typeof transcriptEntry>[]>();
      for (const entry of chat.entries.slice(0, MAX_TRANSCRIPT_ENTRIES)) {
        const list = byThread.get(entry.thread_id) ?? [];
        list.push(entryBody(entry));
        byThread.set(entry.thread_id, list);
      }
      const threads = chat.threads.map((th) => {
        const fact = facts.get(th.thread_id);
        return {
          ...th,
          rating: fact?.rating ?? null,
          rating_comment: fact?.rating_comment ?? null,
          entries: byThread.get(th.thread_id) ?? [],
        };
      });
      const known = new Set(chat.threads.map((th) => th.thread_id));
      for (const [id, entries] of byThread) {
        if (known.has(id)) continue;
        threads.push({
          thread_id: id,
          started_at: null,
          closed_at: null,
          closed_by: null,
          queue_wait_seconds: null,
          tags: [],
          rating: null,
          rating_comment: null,
          entries,
        });
      }
      const rated = [...threads].reverse().find((th) => th.rating !== null);
      return {
        ...chatSummaryBody(chat.summary),
        rating: rated?.rating ?? null,
        entries_truncated: truncated,
        threads,
      };
    },
  );
}
