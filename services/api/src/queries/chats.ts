import type { ApiDeps } from '../deps.js';
import { prepared } from './prepared.js';

export interface ChatFilters {
  /** Epoch microseconds, inclusive. */
  readonly fromUs?: number | undefined;
  /** Epoch microseconds, exclusive. */
  readonly toUs?: number | undefined;
  readonly tag?: string | undefined;
  readonly agent?: string | undefined;
  readonly group?: number | undefined;
  readonly customerEmail?: string | undefined;
  readonly customerId?: string | undefined;
  readonly q?: string | undefined;
}

export interface ChatSummaryRow {
  chat_id: string;
  started_at: string | null;
  ended_at: string | null;
  customer_id: string | null;
  customer_name: string | null;
  customer_email: string | null;
  agent_ids: string[];
  group_ids: number[];
  tags: string[];
  message_count: number;
  thread_count: number;
}

/** A page position: the chat's sort time (µs, -1 when unknown) and its id. */
export type ChatPosition = readonly [number, string];

/**
 * One page of a tenant's chats, newest first. Paging and the time filters run on the chats table's sort key
 * (first thread's start, index chats_api_list from transcripts migration 0003); the summaries of the page's
 * chats come from the public chat_summary view.
 */
export async function listChats(
  deps: ApiDeps,
  tenant: string,
  filters: ChatFilters,
  limit: number,
  after: ChatPosition | null,
): Promise<{ rows: ChatSummaryRow[]; last: ChatPosition | null; more: boolean }> {
  const t = deps.sql.transcripts;
  const values: unknown[] = [tenant];
  const param = (value: unknown): string => {
    values.push(value);
    return `$${values.length}`;
  };
  const sortKey = 'coalesce(c.first_thread_started_us, -1)';
  const where = ['c.tenant = $1'];
  if (filters.fromUs !== undefined) where.push(`${sortKey} >= ${param(filters.fromUs)}`);
  if (filters.toUs !== undefined) where.push(`${sortKey} < ${param(filters.toUs)}`);
  if (filters.group !== undefined) where.push(`${param(filters.group)}::bigint = any(c.group_ids)`);
  if (filters.customerId !== undefined) where.push(`c.customer_id = ${param(filters.customerId)}`);
  if (filters.tag !== undefined) {
    // thread_effective_tags for one tag, written out: the view is a UNION the planner evaluates for every thread
    const tag = param(filters.tag);
    where.push(`(exists (select 1 from ${t}.threads th where th.tenant = c.tenant and th.chat_id = c.chat_id
                         and ${tag} = any(coalesce(th.tags_snapshot, '{}'))
                         and not exists (select 1 from ${t}.thread_tags u where u.tenant = th.tenant
                                         and u.chat_id = th.chat_id and u.thread_id = th.thread_id
                                         and u.tag = ${tag} and u.untagged))
                 or exists (select 1 from ${t}.thread_tags g where g.tenant = c.tenant and g.chat_id = c.chat_id
                            and g.tag = ${tag} and g.tagged and not g.untagged))`);
  }
  if (filters.agent !== undefined) {
    const agent = param(filters.agent);
    where.push(`(exists (select 1 from ${t}.participants p where p.tenant = c.tenant and p.chat_id = c.chat_id
                         and p.kind = 'agent' and (p.user_id = ${agent} or lower(p.email) = lower(${agent})))
                 or exists (select 1 from ${t}.entries e where e.tenant = c.tenant and e.chat_id = c.chat_id
                            and e.author_kind = 'agent' and e.author_id = ${agent}))`);
  }
  if (filters.customerEmail !== undefined)
    // the customers with that e-mail first (customers_api_email), then their chats: a rare e-mail does not walk
    // the tenant's whole chat history
    where.push(`c.customer_id in (select cu.customer_id from ${t}.customers cu
                                  where cu.tenant = $1 and lower(cu.email) = lower(${param(filters.customerEmail)}))`);
  // q: the chats with a matching entry, found through the words index first (entries_api_words); left to
  // itself the planner may walk every chat and compute each entry's words when it expects many matches
  const ctes: string[] = [];
  if (filters.q !== undefined) {
    ctes.push(`matching as materialized (
      select distinct e.chat_id from ${t}.entries e
      where e.tenant = $1 and to_tsvector('simple', coalesce(e.text, '')) @@ plainto_tsquery('simple', ${param(filters.q)}))`);
    where.push('c.chat_id in (select chat_id from matching)');
  }
  if (after !== null)
    where.push(`(${sortKey}, c.chat_id) < (${param(after[0])}::bigint, ${param(after[1])}::text)`);
  ctes.push(`page as (
    select c.chat_id, ${sortKey} as sort_us from ${t}.chats c
    where ${where.join(' and ')}
    order by ${sortKey} desc, c.chat_id desc
    limit ${param(limit + 1)})`);
  // one statement: the page's positions, then the public summaries of its chats only
  const page = await deps.pool.query<ChatSummaryRow & { sort_us: number }>(
    prepared(
      `with ${ctes.join(',\n')}
       select p.sort_us, s.chat_id, s.started_at, s.ended_at, s.customer_id, s.customer_name, s.customer_email,
              s.agent_ids, s.group_ids, s.tags, s.message_count, s.thread_count
       from page p join ${t}.chat_summary s on s.tenant = $1 and s.chat_id = p.chat_id
       order by p.sort_us desc, p.chat_id desc`,
      values,
    ),
  );
  const more = page.rows.length > limit;
  const ids = page.rows.slice(0, limit);
  if (ids.length === 0) return { rows: [], last: null, more: false };
  const rows = ids.map(({ sort_us: _position, ...summary }) => summary);
  const lastRow = ids[ids.length - 1]!;
  return { rows, last: [Number(lastRow.sort_us), lastRow.chat_id], more };
}
