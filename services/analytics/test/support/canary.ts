import type pg from 'pg';
import type { ChatDomainEvent } from '@livechat-pipeline/livechat';
import { quoteIdent } from '../../src/facts/apply.js';
import { AT, event, message } from './events.js';

/**
 * One rated chat whose every personal value carries `canary`: the customer's name, e-mail and texts (which analytics
 * never stores), the rating comments (system message and chat and thread properties) and a transfer's free-text
 * reason (which it does); a second transfer has an enum reason, which stays.
 */
export function canaryChat(tenant: string, id: string, canary: string): ChatDomainEvent[] {
  const chat = `chat-${id}`;
  const thread = `thread-${id}`;
  const customer = `cust-${id}`;
  const env = (n: string, extra: Partial<ChatDomainEvent> = {}) => ({
    event_id: `ev-${id}-${n}`,
    tenant,
    chat_id: chat,
    thread_id: thread,
    ...extra,
  });
  const msg = (n: string, at: number, fields: Parameters<typeof message>[0]) =>
    event(
      'message_posted',
      { message: message({ livechat_event_id: `lc-${id}-${n}`, created_at: at, ...fields }) },
      env(n, { occurred_at: at }),
    );
  return [
    event(
      'thread_started',
      {
        users: [
          {
            id: customer,
            kind: 'customer',
            name: `${canary} name`,
            email: `${canary}@example.com`,
            present: true,
          },
          {
            id: 'agent-1@example.com',
            kind: 'agent',
            name: 'Agent One',
            email: 'agent-1@example.com',
            present: true,
          },
        ],
        group_ids: [0],
        tags: ['sales'],
        previous_thread_id: null,
        active: true,
        chat_properties_json: JSON.stringify({ rating: { comment: `${canary} chat comment` } }),
        thread_properties_json: null,
        queue: null,
      },
      env('start'),
    ),
    msg('hello', AT + 1_000_000, {
      author_id: customer,
      author_name: `${canary} author`,
      text: `${canary} hello`,
    }),
    msg('answer', AT + 3_000_000, {
      author_id: 'agent-1@example.com',
      author_kind: 'agent',
      author_name: 'Agent One',
      text: 'hi',
    }),
    msg('rated', AT + 5_000_000, {
      kind: 'system_message',
      author_id: null,
      author_kind: 'system',
      author_name: null,
      system_message_type: 'rating.chat_rated',
      text: `${canary} rated the chat as good`,
      text_vars_json: JSON.stringify({ score: 'good' }),
    }),
    msg('commented', AT + 6_000_000, {
      kind: 'system_message',
      author_id: null,
      author_kind: 'system',
      author_name: null,
      system_message_type: 'rating.chat_commented',
      text: `${canary} left a comment`,
      text_vars_json: JSON.stringify({ comment: `${canary} system comment` }),
    }),
    event(
      'properties_changed',
      {
        scope: 'thread',
        change: 'updated',
        livechat_event_id: null,
        properties_json: JSON.stringify({
          rating: { score: { value: 1 }, comment: { value: `${canary} thread comment` } },
        }),
      },
      env('props', { occurred_at: null }),
    ),
    event(
      'chat_transferred',
      {
        requester_id: 'agent-1@example.com',
        reason: `${canary} transfer reason`,
        transferred_to_group_ids: [1],
        transferred_to_agent_ids: ['agent-2@example.com'],
        queue: null,
      },
      env('transfer', { occurred_at: AT + 7_000_000 }),
    ),
    event(
      'chat_transferred',
      {
        requester_id: null,
        reason: 'assigned',
        transferred_to_group_ids: [],
        transferred_to_agent_ids: ['agent-1@example.com'],
        queue: null,
      },
      env('assigned', { occurred_at: AT + 8_000_000 }),
    ),
    event(
      'thread_closed',
      { closed_by_user_id: customer, closed_by_kind: 'customer' },
      env('close', { occurred_at: AT + 9_000_000 }),
    ),
  ];
}

/** Every text, json, jsonb and array column of every table of the schema, read from the catalogue. */
export async function textColumns(
  pool: pg.Pool,
  schema: string,
): Promise<{ table: string; column: string }[]> {
  const { rows } = await pool.query<{ table: string; column: string }>(
    `select c.table_name as table, c.column_name as column
       from information_schema.columns c
       join information_schema.tables t on t.table_schema = c.table_schema and t.table_name = c.table_name
      where c.table_schema = $1 and t.table_type = 'BASE TABLE'
        and c.data_type in ('text', 'character varying', 'character', 'json', 'jsonb', 'ARRAY', 'USER-DEFINED')
      order by 1, 2`,
    [schema],
  );
  return rows;
}

/**
 * Writes a fresh canary (`canary` + a random suffix per row) into every text, json and text-array column of every
 * row of the chat, in every table of the schema, except the columns `notPersonal` names (`table.column`, or
 * `table.*` for a whole table). The columns come from the catalogue, so a personal column added later is planted
 * too, even when no fixture fills it, and an erasure that misses it leaves the canary. Throws when a planted
 * table has no chat_id column or no row of the chat (the fixture must give every such table a row to plant in).
 * Returns the `table.column` list planted.
 */
export async function plantCanaryEverywhere(
  pool: pg.Pool,
  schema: string,
  where: { tenant: string; chatId: string },
  canary: string,
  notPersonal: readonly string[],
): Promise<string[]> {
  const { rows: columns } = await pool.query<{ table: string; column: string; type: string; udt: string }>(
    `select c.table_name as table, c.column_name as column, c.data_type as type, c.udt_name as udt
       from information_schema.columns c
       join information_schema.tables t on t.table_schema = c.table_schema and t.table_name = c.table_name
      where c.table_schema = $1 and t.table_type = 'BASE TABLE'
        and (c.data_type in ('text', 'character varying', 'character', 'json', 'jsonb')
             or c.udt_name in ('_text', '_varchar'))
      order by 1, 2`,
    [schema],
  );
  const skip = new Set(notPersonal);
  const planted: string[] = [];
  const problems: string[] = [];
  for (const { table, column, type, udt } of columns) {
    if (column === 'tenant' || column === 'chat_id') continue; // the keys the rows are found by
    if (skip.has(`${table}.*`) || skip.has(`${table}.${column}`)) continue;
    const value =
      type === 'json' || type === 'jsonb'
        ? `to_json($3::text || md5(random()::text))::${type}`
        : udt.startsWith('_')
          ? `array[$3::text || md5(random()::text)]`
          : `$3::text || md5(random()::text)`;
    try {
      const result = await pool.query(
        `update ${quoteIdent(schema)}.${quoteIdent(table)} set ${quoteIdent(column)} = ${value}
          where tenant = $1 and chat_id = $2`,
        [where.tenant, where.chatId, canary],
      );
      if (result.rowCount === 0) problems.push(`${table}.${column}: no row of the chat to plant in`);
      else planted.push(`${table}.${column}`);
    } catch (error) {
      problems.push(`${table}.${column}: ${(error as Error).message}`);
    }
  }
  if (problems.length > 0) throw new Error(`cannot plant the canary:\n${problems.join('\n')}`);
  return planted;
}

/** `table.column` of every column of the schema holding a value that contains `needle` (case-insensitive). */
export async function columnsContaining(pool: pg.Pool, schema: string, needle: string): Promise<string[]> {
  const found: string[] = [];
  for (const { table, column } of await textColumns(pool, schema)) {
    const { rows } = await pool.query<{ n: number }>(
      `select count(*)::int as n from ${quoteIdent(schema)}.${quoteIdent(table)}
        where ${quoteIdent(column)}::text ilike '%' || $1 || '%'`,
      [needle],
    );
    if (rows[0]!.n > 0) found.push(`${table}.${column}`);
  }
  return found;
}

/** One checksum per table of the rows `keep` selects (a SQL condition on the row alias `r`). */
export async function tableChecksums(
  pool: pg.Pool,
  schema: string,
  keep: string,
  params: unknown[],
): Promise<Record<string, string>> {
  const { rows: tables } = await pool.query<{ table: string }>(
    `select table_name as table from information_schema.tables
      where table_schema = $1 and table_type = 'BASE TABLE' order by 1`,
    [schema],
  );
  const sums: Record<string, string> = {};
  for (const { table } of tables) {
    const { rows } = await pool.query<{ n: number; md5: string }>(
      `select count(*)::int as n, md5(coalesce(string_agg(r::text, '|' order by r::text), '')) as md5
         from ${quoteIdent(schema)}.${quoteIdent(table)} r where ${keep}`,
      params,
    );
    sums[table] = `${rows[0]!.n}:${rows[0]!.md5}`;
  }
  return sums;
}
