import type pg from 'pg';
import type { ExpectedThreadFacts } from '@livechat-pipeline/traffic-simulator';
import type { AgentDailyRow, DailyRow, TagDailyRow } from '@livechat-pipeline/traffic-simulator';

const q = (schema: string) => `"${schema.replaceAll('"', '""')}"`;

/** thread_facts as the simulator's ExpectedThreadFacts, sorted by tenant, chat, thread. */
export async function threadFactsOf(pool: pg.Pool, schema: string): Promise<ExpectedThreadFacts[]> {
  const { rows } = await pool.query(
    `select tenant, chat_id, thread_id,
            (extract(epoch from started_at) * 1e6)::bigint::float8 as started_us,
            (extract(epoch from ended_at) * 1e6)::bigint::float8 as ended_us,
            duration_seconds::float8, first_response_seconds::float8, customer_messages, agent_messages, agent_ids,
            first_responder_id, group_ids::float8[] as group_ids, tags, rating, rating_comment, queued, queued_seconds::float8, left_queue,
            started_by, started_from_greeting, transfers
     from ${q(schema)}.thread_facts order by tenant, chat_id, thread_id`,
  );
  return rows.map((r) => ({
    tenant: r.tenant,
    chatId: r.chat_id,
    threadId: r.thread_id,
    startedAtMicros: r.started_us,
    endedAtMicros: r.ended_us,
    durationSeconds: r.duration_seconds,
    firstResponseSeconds: r.first_response_seconds,
    customerMessages: r.customer_messages,
    agentMessages: r.agent_messages,
    agentIds: r.agent_ids,
    firstResponderId: r.first_responder_id,
    groupIds: r.group_ids,
    tags: r.tags,
    rating: r.rating,
    ratingComment: r.rating_comment,
    queued: r.queued,
    queuedSeconds: r.queued_seconds,
    leftQueue: r.left_queue,
    startedBy: r.started_by,
    startedFromGreeting: r.started_from_greeting,
    transfers: r.transfers,
  }));
}

export const byThread = (a: ExpectedThreadFacts, b: ExpectedThreadFacts) =>
  a.tenant.localeCompare(b.tenant) ||
  a.chatId.localeCompare(b.chatId) ||
  a.threadId.localeCompare(b.threadId);

export async function dailyOf(pool: pg.Pool, schema: string, tenant?: string): Promise<DailyRow[]> {
  const { rows } = await pool.query<DailyRow>(
    `select tenant, day::text, group_id::float8 as group_id, chats, chats_with_reply,
            avg_first_response_seconds::float8, p90_first_response_seconds::float8, avg_duration_seconds::float8,
            rated_good, rated_bad, queued, left_queue
     from ${q(schema)}.daily where $1::text is null or tenant = $1`,
    [tenant ?? null],
  );
  return rows;
}

export async function hourlyOf(pool: pg.Pool, schema: string, tenant?: string) {
  const { rows } = await pool.query(
    `select tenant, to_char(hour, 'YYYY-MM-DD"T"HH24:MI:SS') as hour, group_id::float8 as group_id, chats, chats_with_reply,
            avg_first_response_seconds::float8, p90_first_response_seconds::float8, avg_duration_seconds::float8,
            rated_good, rated_bad, queued, left_queue
     from ${q(schema)}.hourly where $1::text is null or tenant = $1`,
    [tenant ?? null],
  );
  return rows;
}

export async function agentDailyOf(pool: pg.Pool, schema: string, tenant?: string): Promise<AgentDailyRow[]> {
  const { rows } = await pool.query<AgentDailyRow>(
    `select tenant, day::text, agent_id, chats, first_responses, avg_first_response_seconds::float8,
            rated_good, rated_bad
     from ${q(schema)}.agent_daily where $1::text is null or tenant = $1`,
    [tenant ?? null],
  );
  return rows;
}

export async function tagDailyOf(pool: pg.Pool, schema: string, tenant?: string): Promise<TagDailyRow[]> {
  const { rows } = await pool.query<TagDailyRow>(
    `select tenant, day::text, tag, chats from ${q(schema)}.tag_daily where $1::text is null or tenant = $1`,
    [tenant ?? null],
  );
  return rows;
}

/** md5 of every view's whole contents (each sorted by its text), for order-independence checks. */
export async function viewChecksums(pool: pg.Pool, schema: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const view of [
    'thread_facts',
    'daily',
    'hourly',
    'agent_daily',
    'agent_ranking',
    'tag_daily',
    'agent_availability',
    'responses',
  ]) {
    const { rows } = await pool.query<{ md5: string }>(
      `select md5(coalesce(string_agg(t::text, '|' order by t::text), '')) as md5 from ${q(schema)}.${view} t`,
    );
    out[view] = rows[0]!.md5;
  }
  return out;
}
