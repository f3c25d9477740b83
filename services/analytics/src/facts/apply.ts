import type { ChatDomainEvent } from '@livechat-pipeline/livechat';
import { replaceNul } from './nul.js';
import { analyticsRowChanges, type AnalyticsRowChanges } from './rows.js';

/** The part of a pg client the projection needs (a transaction's client). */
export interface SqlExecutor {
  query(sql: string, params?: unknown[]): Promise<unknown>;
}

interface TableStatement {
  readonly key: (row: Record<string, unknown>) => string;
  readonly sql: (schema: string) => string;
}

const k = (row: Record<string, unknown>, ...names: string[]) =>
  names.map((n) => String(row[n])).join('\u001f');
const union = (column: string, alias: string) =>
  `array(select distinct g from unnest(${alias}.${column} || excluded.${column}) as g order by g)`;

/**
 * One upsert per table, rows as one JSON array. The ON CONFLICT clauses are the merge rules: each is
 * commutative and idempotent (least, or, union, coalesce, insert-or-ignore of an immutable fact), so the table
 * ends the same whatever the order in which facts arrive, and a fact applied twice changes nothing.
 */
const statements: { readonly [K in keyof AnalyticsRowChanges]: TableStatement } = {
  threads: {
    key: (r) => k(r, 'tenant', 'chat_id', 'thread_id'),
    sql: (s) => `
      insert into ${s}.threads as t (tenant, chat_id, thread_id, started_us, source_format, closed, close_dated_us,
                                     close_received_us, customer_id, group_ids, tags_snapshot, tags_snapshot_us,
                                     archive_tags, archive_tags_us)
      select tenant, chat_id, thread_id, started_us, source_format, closed, close_dated_us, close_received_us,
             customer_id, coalesce(group_ids, '{}'), tags_snapshot, tags_snapshot_us, archive_tags, archive_tags_us
      from jsonb_to_recordset($1::jsonb) as x(tenant text, chat_id text, thread_id text, started_us bigint,
             source_format text, closed boolean, close_dated_us bigint, close_received_us bigint, customer_id text,
             group_ids bigint[], tags_snapshot text[], tags_snapshot_us bigint, archive_tags text[], archive_tags_us bigint)
      on conflict (tenant, chat_id, thread_id) do update set
        started_us = least(t.started_us, excluded.started_us),
        source_format = coalesce(t.source_format, excluded.source_format),
        closed = t.closed or excluded.closed,
        close_dated_us = least(t.close_dated_us, excluded.close_dated_us),
        close_received_us = least(t.close_received_us, excluded.close_received_us),
        customer_id = coalesce(t.customer_id, excluded.customer_id),
        group_ids = ${union('group_ids', 't')},
        tags_snapshot = case when excluded.tags_snapshot_us is not null
                              and (t.tags_snapshot_us is null or excluded.tags_snapshot_us > t.tags_snapshot_us
                                   or (excluded.tags_snapshot_us = t.tags_snapshot_us
                                       and excluded.tags_snapshot::text > t.tags_snapshot::text))
                             then excluded.tags_snapshot else t.tags_snapshot end,
        tags_snapshot_us = greatest(t.tags_snapshot_us, excluded.tags_snapshot_us),
        archive_tags = case when excluded.archive_tags_us is not null
                             and (t.archive_tags_us is null or excluded.archive_tags_us > t.archive_tags_us
                                  or (excluded.archive_tags_us = t.archive_tags_us
                                      and excluded.archive_tags::text > t.archive_tags::text))
                            then excluded.archive_tags else t.archive_tags end,
        archive_tags_us = greatest(t.archive_tags_us, excluded.archive_tags_us)`,
  },
  chatGroups: {
    key: (r) => k(r, 'tenant', 'chat_id'),
    sql: (s) => `
      insert into ${s}.chat_groups as c (tenant, chat_id, group_ids)
      select tenant, chat_id, coalesce(group_ids, '{}')
      from jsonb_to_recordset($1::jsonb) as x(tenant text, chat_id text, group_ids bigint[])
      on conflict (tenant, chat_id) do update set group_ids = ${union('group_ids', 'c')}`,
  },
  threadTags: {
    key: (r) => k(r, 'tenant', 'chat_id', 'thread_id', 'tag'),
    sql: (s) => `
      insert into ${s}.thread_tags as t (tenant, chat_id, thread_id, tag, tagged, untagged, tagged_us, untagged_us)
      select * from jsonb_to_recordset($1::jsonb)
             as x(tenant text, chat_id text, thread_id text, tag text, tagged boolean, untagged boolean,
                  tagged_us bigint, untagged_us bigint)
      on conflict (tenant, chat_id, thread_id, tag) do update set
        tagged = t.tagged or excluded.tagged,
        untagged = t.untagged or excluded.untagged,
        tagged_us = greatest(t.tagged_us, excluded.tagged_us),
        untagged_us = greatest(t.untagged_us, excluded.untagged_us)`,
  },
  entries: {
    key: (r) => k(r, 'tenant', 'chat_id', 'thread_id', 'entry_id'),
    sql: (s) => `
      insert into ${s}.entries as e (tenant, chat_id, thread_id, entry_id, kind, author_kind, author_id, visibility,
                                     created_us, position, system_message_type, automatic, deleted)
      select tenant, chat_id, thread_id, entry_id, kind, author_kind, author_id, visibility, created_us, position,
             system_message_type, automatic, deleted
      from jsonb_to_recordset($1::jsonb) as x(tenant text, chat_id text, thread_id text, entry_id text,
             kind text, author_kind text, author_id text, visibility text, created_us bigint, position int,
             system_message_type text, automatic text, deleted boolean)
      on conflict (tenant, chat_id, thread_id, entry_id) do update set
        kind = coalesce(e.kind, excluded.kind),
        author_kind = case when e.author_kind is null or e.author_kind = 'unknown'
                           then coalesce(excluded.author_kind, e.author_kind) else e.author_kind end,
        author_id = coalesce(e.author_id, excluded.author_id),
        visibility = coalesce(e.visibility, excluded.visibility),
        created_us = least(e.created_us, excluded.created_us),
        position = least(e.position, excluded.position),
        system_message_type = coalesce(e.system_message_type, excluded.system_message_type),
        automatic = coalesce(e.automatic, excluded.automatic),
        deleted = e.deleted or excluded.deleted`,
  },
  participants: {
    key: (r) => k(r, 'tenant', 'chat_id', 'user_id'),
    sql: (s) => `
      insert into ${s}.participants as p (tenant, chat_id, user_id, kind)
      select * from jsonb_to_recordset($1::jsonb) as x(tenant text, chat_id text, user_id text, kind text)
      on conflict (tenant, chat_id, user_id) do update set kind = least(p.kind, excluded.kind)`,
  },
  ratings: {
    key: (r) => k(r, 'tenant', 'chat_id', 'thread_id', 'fact_id'),
    sql: (s) => `
      insert into ${s}.ratings (tenant, chat_id, thread_id, fact_id, dated, at_us, kind, score, comment)
      select * from jsonb_to_recordset($1::jsonb) as x(tenant text, chat_id text, thread_id text, fact_id text,
             dated boolean, at_us bigint, kind text, score smallint, comment text)
      on conflict do nothing`,
  },
  transfers: {
    key: (r) => k(r, 'tenant', 'chat_id', 'thread_id', 'fact_id'),
    sql: (s) => `
      insert into ${s}.transfers (tenant, chat_id, thread_id, fact_id, to_group_ids, to_agent_ids, reason)
      select tenant, chat_id, thread_id, fact_id, coalesce(to_group_ids, '{}'), coalesce(to_agent_ids, '{}'), reason
      from jsonb_to_recordset($1::jsonb) as x(tenant text, chat_id text, thread_id text, fact_id text,
             to_group_ids bigint[], to_agent_ids text[], reason text)
      on conflict do nothing`,
  },
  queues: {
    key: (r) => k(r, 'tenant', 'chat_id', 'thread_id', 'fact_id'),
    sql: (s) => `
      insert into ${s}.queues (tenant, chat_id, thread_id, fact_id, queued_at_us, wait_seconds)
      select * from jsonb_to_recordset($1::jsonb) as x(tenant text, chat_id text, thread_id text, fact_id text,
             queued_at_us bigint, wait_seconds bigint)
      on conflict do nothing`,
  },
  visitorQueues: {
    key: (r) => k(r, 'tenant', 'visitor_id', 'fact_id'),
    sql: (s) => `
      insert into ${s}.visitor_queues (tenant, visitor_id, fact_id, received_us)
      select * from jsonb_to_recordset($1::jsonb) as x(tenant text, visitor_id text, fact_id text, received_us bigint)
      on conflict do nothing`,
  },
  agentStatuses: {
    key: (r) => k(r, 'tenant', 'agent_id', 'fact_id'),
    sql: (s) => `
      insert into ${s}.agent_statuses (tenant, agent_id, fact_id, at_us, status)
      select * from jsonb_to_recordset($1::jsonb) as x(tenant text, agent_id text, fact_id text, at_us bigint,
             status text)
      on conflict do nothing`,
  },
};

/** The fact tables (what a rebuild truncates; `tenant_settings` is configuration and is kept). */
export const FACT_TABLES: readonly string[] = [
  'threads',
  'chat_groups',
  'thread_tags',
  'entries',
  'participants',
  'ratings',
  'transfers',
  'queues',
  'visitor_queues',
  'agent_statuses',
];

const tableOrder = Object.keys(statements) as (keyof AnalyticsRowChanges)[];

/**
 * Applies a batch of (deduplicated) chat events inside the caller's transaction. U+0000 becomes U+FFFD before
 * the rows are layered by key (Postgres text refuses U+0000).
 */
export async function applyAnalyticsEvents(
  events: readonly ChatDomainEvent[],
  tx: SqlExecutor,
  schema = 'analytics',
): Promise<void> {
  const changes = analyticsRowChanges(events);
  for (const table of tableOrder) {
    const rows = replaceNul(changes[table] as unknown as Record<string, unknown>[]);
    if (rows.length === 0) continue;
    const statement = statements[table];
    const sql = statement.sql(quoteIdent(schema));
    for (const layer of layerRows(rows, statement.key)) await tx.query(sql, [JSON.stringify(layer)]);
  }
}

/**
 * Splits rows so that no statement touches one key twice (Postgres refuses that in one INSERT … ON CONFLICT):
 * identical rows collapse, the n-th distinct row of a key goes to layer n; each layer in key order, so
 * concurrent partitions take row locks in the same order.
 */
export function layerRows<T>(rows: readonly T[], key: (row: T) => string): T[][] {
  const layers: { id: string; row: T }[][] = [];
  const seen = new Map<string, Set<string>>();
  for (const row of rows) {
    const id = key(row);
    const body = JSON.stringify(row);
    let bodies = seen.get(id);
    if (bodies === undefined) seen.set(id, (bodies = new Set()));
    if (bodies.has(body)) continue;
    const layer = bodies.size;
    bodies.add(body);
    (layers[layer] ??= []).push({ id, row });
  }
  return layers.map((layer) =>
    layer.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)).map((entry) => entry.row),
  );
}

export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
