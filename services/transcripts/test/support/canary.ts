import type pg from 'pg';
import type { ChatDomainEvent } from '@livechat-pipeline/livechat';
import { quoteIdent } from '../../src/projection/apply.js';
import { AT, event, message } from './events.js';

/**
 * One chat whose every personal value carries `canary` (name, e-mail, texts, file, form answers, rich content,
 * session fields, visit, summary, ticket, queued visitor), with ids derived from `id`. Ids are not personal and are
 * kept by an erasure; the values are what must go.
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
  const msg = (n: string, fields: Parameters<typeof message>[0]) =>
    event('message_posted', { message: message({ livechat_event_id: `lc-${id}-${n}`, ...fields }) }, env(n));
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
    event(
      'customer_identified',
      {
        customer_id: customer,
        name: `${canary} identified`,
        email: `${canary}.identified@example.com`,
        session_fields_json: JSON.stringify([{ note: `${canary} session` }]),
        visit_json: JSON.stringify({ ip: '203.0.113.7', referrer: `https://example.com/${canary}` }),
      },
      env('customer'),
    ),
    event(
      'participant_added',
      {
        user_id: `${customer}-2`,
        user_kind: 'customer',
        user: {
          id: `${customer}-2`,
          kind: 'customer',
          name: `${canary} second`,
          email: `${canary}.second@example.com`,
          present: true,
        },
        reason: null,
        requester_id: null,
      },
      env('participant'),
    ),
    msg('text', { author_id: customer, author_name: `${canary} author`, text: `${canary} says hello` }),
    msg('file', {
      kind: 'file',
      author_id: customer,
      text: null,
      file: {
        name: `${canary}.pdf`,
        url: `https://cdn.example.com/${canary}.pdf`,
        content_type: 'application/pdf',
        size: 10,
        width: null,
        height: null,
        thumbnail_url: `https://cdn.example.com/${canary}-thumb.png`,
      },
    }),
    msg('form', {
      kind: 'filled_form',
      author_id: customer,
      text: null,
      form: {
        form_id: 'prechat',
        form_type: 'prechat',
        fields: [
          { id: 'f1', type: 'name', label: 'Name', answer: `${canary} answer`, answers: [] },
          { id: 'f2', type: 'checkbox', label: 'Topics', answer: null, answers: [`${canary} choice`] },
        ],
      },
    }),
    msg('rich', {
      kind: 'rich_message',
      author_id: 'agent-1@example.com',
      author_kind: 'agent',
      author_name: 'Agent One',
      text: null,
      content_json: JSON.stringify({ elements: [{ title: `${canary} card` }] }),
    }),
    event(
      'event_edited',
      {
        message: message({
          livechat_event_id: `lc-${id}-text`,
          author_id: customer,
          author_name: `${canary} author`,
          text: `${canary} edited`,
          properties_json: JSON.stringify({ lc2: { edited_at: AT } }),
        }),
      },
      env('edit', { occurred_at: AT + 5_000_000 }),
    ),
    event(
      'thread_summary_set',
      { status: 'done', text: `${canary} summary`, updated_at: AT + 9_000_000 },
      env('summary'),
    ),
    event(
      'ticket_created',
      {
        ticket_id: `ticket-${id}`,
        status: 'open',
        subject: `${canary} subject`,
        requester_name: `${canary} requester`,
        requester_email: `${canary}.requester@example.com`,
        assignee_id: null,
        tags: [],
        group_ids: [0],
        source_chat_id: chat,
        ticket_json: JSON.stringify({ body: `${canary} ticket body` }),
      },
      env('ticket', { chat_id: null, thread_id: null }),
    ),
    // A ticket outside the chat (its scope is ticket:<id>) and a queued visitor (visitor:<id>).
    event(
      'ticket_created',
      {
        ticket_id: `ticket-${id}-mail`,
        status: 'open',
        subject: `${canary} mailed subject`,
        requester_name: `${canary} mailer`,
        requester_email: `${canary}.mailer@example.com`,
        assignee_id: null,
        tags: [],
        group_ids: [],
        source_chat_id: null,
        ticket_json: JSON.stringify({ body: `${canary} mailed body` }),
      },
      env('ticket-mail', { chat_id: null, thread_id: null }),
    ),
    event(
      'visitor_queued',
      { visitor_id: `visitor-${id}`, name: `${canary} visitor`, email: `${canary}.visitor@example.com` },
      env('visitor', { chat_id: null, thread_id: null }),
    ),
  ];
}

/**
 * The key scopes an erasure of `canaryChat(…, id, …)` names (what the privacy service finds through the chat→customer
 * index): the chat, the ticket made from it, and the scopes outside it.
 */
export function canaryScopes(id: string): string[] {
  return [`chat-${id}`, `ticket:ticket-${id}`, `ticket:ticket-${id}-mail`, `visitor:visitor-${id}`];
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
 * too, even when no fixture fills it, and an erasure that misses it leaves the canary.
 * Returns the `table.column` list planted.
 */
export async function plantCanaryEverywhere(
  pool: pg.Pool,
  schema: string,
  where: { tenant: string; chatId: string },
  canary: string,
  notPersonal: readonly string[],
  rowsOf: Readonly<Record<string, string>> = {},
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
          where tenant = $1 and (${rowsOf[table] ?? 'chat_id = $2'})`,
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
