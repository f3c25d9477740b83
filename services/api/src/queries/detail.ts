import type { ApiDeps } from '../deps.js';
import { prepared } from './prepared.js';
import type { ChatSummaryRow } from './chats.js';

export interface ThreadRow {
  thread_id: string;
  started_at: string | null;
  closed_at: string | null;
  closed_by: string | null;
  queue_wait_seconds: number | null;
  tags: string[];
}

export interface EntryRow {
  thread_id: string;
  position: number;
  event_id: string;
  author_type: 'customer' | 'agent' | 'system';
  author_id: string | null;
  author_name: string | null;
  visibility: string;
  kind: string;
  text: string | null;
  file: { name?: unknown; url?: unknown; content_type?: unknown; size?: unknown } | null;
  created_at: string | null;
  edited_at: string | null;
  deleted_at: string | null;
}

export interface ThreadFactRow {
  thread_id: string;
  rating: 'good' | 'bad' | null;
  rating_comment: string | null;
}

/** A chat of the tenant with its threads, transcript entries (by position) and thread facts; null if none. */
export async function readChat(
  deps: ApiDeps,
  tenant: string,
  chatId: string,
): Promise<{
  summary: ChatSummaryRow;
  threads: ThreadRow[];
  entries: EntryRow[];
  facts: ThreadFactRow[];
} | null> {
  const t = deps.sql.transcripts;
  // all four at once: the transcript's latency is one round trip, and a chat that is not there answers null
  const [summary, threads, entries, facts] = await Promise.all([
    deps.pool.query<ChatSummaryRow>(
      prepared(
        `select chat_id, started_at, ended_at, customer_id, customer_name, customer_email, agent_ids,
            group_ids, tags, message_count, thread_count
     from ${t}.chat_summary where tenant = $1 and chat_id = $2`,
        [tenant, chatId],
      ),
    ),
    deps.pool.query<ThreadRow>(
      prepared(
        `select th.thread_id, ${t}.us_to_ts(th.started_us) as started_at, ${t}.us_to_ts(th.closed_us) as closed_at,
              th.closed_by_kind as closed_by, th.queue_wait_seconds,
              coalesce((select array_agg(g.tag order by g.tag) from ${t}.thread_effective_tags g
                        where g.tenant = th.tenant and g.chat_id = th.chat_id and g.thread_id = th.thread_id), '{}') as tags
       from ${t}.threads th where th.tenant = $1 and th.chat_id = $2
       order by th.started_us nulls last, th.thread_id`,
        [tenant, chatId],
      ),
    ),
    deps.pool.query<EntryRow>(
      prepared(
        `select tr.thread_id, tr.position::int as position, tr.event_id, tr.author_type, tr.author_id, tr.author_name,
              tr.visibility, tr.kind, tr.text, e.content -> 'file' as file,
              tr.created_at, tr.edited_at, tr.deleted_at
       from ${t}.chat_transcript tr
       join ${t}.entries e on e.tenant = tr.tenant and e.chat_id = tr.chat_id and e.thread_id = tr.thread_id
                          and e.entry_id = tr.event_id
       where tr.tenant = $1 and tr.chat_id = $2
       order by tr.position
       limit 5001`,
        [tenant, chatId],
      ),
    ),
    readThreadFacts(deps, tenant, chatId),
  ]);
  if (summary.rows[0] === undefined) return null;
  return { summary: summary.rows[0], threads: threads.rows, entries: entries.rows, facts };
}

/**
 * Each thread's rating and rating comment, as analytics.thread_facts decides them (its `rating_facts`, `rating`
 * and `rating_comment` steps, repeated here for one chat): that view aggregates every tenant's threads before a
 * filter applies, far too slow for one transcript. The e2e test compares both on simulated traffic. An empty list
 * when the analytics schema is not there (the api also serves a database with transcripts only).
 */
async function readThreadFacts(deps: ApiDeps, tenant: string, chatId: string): Promise<ThreadFactRow[]> {
  const a = deps.sql.analytics;
  try {
    const { rows } = await deps.pool.query<ThreadFactRow>(
      prepared(
        `with rating_facts as (
         select r.thread_id, r.fact_id, r.dated, r.at_us, r.kind, r.score, r.comment
         from ${a}.ratings r
         join ${a}.threads t on t.tenant = r.tenant and t.chat_id = r.chat_id and t.thread_id = r.thread_id
         where r.tenant = $1 and r.chat_id = $2
         union all
         select l.thread_id, r.fact_id, r.dated, r.at_us, r.kind, r.score, r.comment
         from ${a}.ratings r
         cross join lateral (
           select t.thread_id from ${a}.threads t
           where t.tenant = r.tenant and t.chat_id = r.chat_id
           order by (t.started_us <= r.at_us) desc nulls last,
                    case when t.started_us <= r.at_us then -t.started_us else t.started_us end nulls last, t.thread_id
           limit 1) l
         where r.tenant = $1 and r.chat_id = $2 and r.thread_id = ''
       ), rating as (
         select distinct on (thread_id) thread_id, kind, score
         from rating_facts where kind in ('score', 'cancel')
         order by thread_id, dated desc, at_us desc, (kind = 'cancel') desc, fact_id desc
       ), rating_comment as (
         select distinct on (thread_id) thread_id, comment
         from rating_facts where kind = 'comment'
         order by thread_id, dated desc, at_us desc, fact_id desc
       )
       select coalesce(r.thread_id, c.thread_id) as thread_id,
              case when r.kind = 'score' then case r.score when 1 then 'good' else 'bad' end end as rating,
              case when r.kind is distinct from 'cancel' then c.comment end as rating_comment
       from rating r full join rating_comment c on c.thread_id = r.thread_id`,
        [tenant, chatId],
      ),
    );
    return rows;
  } catch (error) {
    if ((error as { code?: unknown }).code === '42P01' || (error as { code?: unknown }).code === '3F000')
      return [];
    throw error;
  }
}

export interface CustomerRow {
  customer_id: string;
  name: string | null;
  email: string | null;
  session_fields: unknown;
  visit: unknown;
  updated_at: string | null;
  chat_count: number;
  first_chat_at: string | null;
  last_chat_at: string | null;
}

export async function readCustomer(
  deps: ApiDeps,
  tenant: string,
  customerId: string,
): Promise<CustomerRow | null> {
  const t = deps.sql.transcripts;
  const { rows } = await deps.pool.query<CustomerRow>(
    prepared(
      `select cu.customer_id, cu.name, cu.email, cu.session_fields, cu.visit, ${t}.us_to_ts(cu.updated_us) as updated_at,
            s.chat_count, ${t}.us_to_ts(s.first_us) as first_chat_at, ${t}.us_to_ts(s.last_us) as last_chat_at
     from ${t}.customers cu
     cross join lateral (select count(*)::int as chat_count, min(c.first_thread_started_us) as first_us,
                                max(c.first_thread_started_us) as last_us
                         from ${t}.chats c where c.tenant = cu.tenant and c.customer_id = cu.customer_id) s
     where cu.tenant = $1 and cu.customer_id = $2`,
      [tenant, customerId],
    ),
  );
  return rows[0] ?? null;
}
