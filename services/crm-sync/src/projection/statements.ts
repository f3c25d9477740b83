import type { CrmRowChanges } from './rows.js';

type Tables = Exclude<keyof CrmRowChanges, 'touchedThreads'>;

/**
 * One upsert per table, rows as one JSON array. The ON CONFLICT clauses are the merge rules, the same as
 * services/transcripts' (commutative: earliest close, LiveChat's newest time for customer facts and ratings,
 * tagged/untagged flags, the newest edit's text), so the outcome does not depend on the order of arrival.
 */
export interface TableStatement<K extends Tables> {
  readonly key: (row: CrmRowChanges[K][number]) => string;
  readonly sql: (schema: string) => string;
}

const k = (...parts: (string | number)[]) => parts.join('\u001f');

export const statements: { [K in Tables]: TableStatement<K> } = {
  // Returns the chats that got their customer now: their earlier closed threads may qualify from now on.
  chats: {
    key: (r) => k(r.tenant, r.chat_id),
    sql: (s) => `
      with x as (select * from jsonb_to_recordset($1::jsonb) as x(tenant text, chat_id text, customer_id text)),
      old as (select c.tenant, c.chat_id, c.customer_id from ${s}.chats c join x using (tenant, chat_id)),
      up as (
        insert into ${s}.chats as c (tenant, chat_id, customer_id)
        select x.tenant, x.chat_id, x.customer_id from x
        on conflict (tenant, chat_id) do update set customer_id = coalesce(c.customer_id, excluded.customer_id)
        returning c.tenant, c.chat_id, c.customer_id)
      select up.tenant, up.chat_id, up.customer_id from up left join old using (tenant, chat_id)
      where up.customer_id is not null and old.customer_id is null`,
  },
  // Returns the customers whose name or e-mail changed (the CTE "old" sees the rows as before the statement):
  // every note of theirs shows them, so all their closed threads are synced again.
  customers: {
    key: (r) => k(r.tenant, r.customer_id),
    sql: (s) => `
      with x as (select * from jsonb_to_recordset($1::jsonb) as x(tenant text, customer_id text, name text, email text,
             session_fields jsonb, updated_us bigint)),
      old as (select c.tenant, c.customer_id, c.name, c.email from ${s}.customers c join x using (tenant, customer_id)),
      up as (
      insert into ${s}.customers as c (tenant, customer_id, name, email, session_fields, updated_us)
      select x.tenant, x.customer_id, x.name, x.email, x.session_fields, x.updated_us from x
      on conflict (tenant, customer_id) do update set
        name = case when excluded.name is not null and (c.name is null or excluded.updated_us >= c.updated_us) then excluded.name else c.name end,
        email = case when excluded.email is not null and (c.email is null or excluded.updated_us >= c.updated_us) then excluded.email else c.email end,
        session_fields = case when excluded.session_fields is not null and (c.session_fields is null or excluded.updated_us >= c.updated_us)
                              then excluded.session_fields else c.session_fields end,
        updated_us = greatest(c.updated_us, excluded.updated_us)
      returning c.tenant, c.customer_id, c.name, c.email)
      select up.tenant, up.customer_id from up left join old using (tenant, customer_id)
      where up.name is distinct from old.name or up.email is distinct from old.email`,
  },
  participants: {
    key: (r) => k(r.tenant, r.chat_id, r.user_id),
    sql: (s) => `
      insert into ${s}.participants as p (tenant, chat_id, user_id, kind, name)
      select * from jsonb_to_recordset($1::jsonb) as x(tenant text, chat_id text, user_id text, kind text, name text)
      on conflict (tenant, chat_id, user_id) do update set
        kind = case when p.kind = 'unknown' then excluded.kind else p.kind end,
        name = coalesce(p.name, excluded.name)`,
  },
  threads: {
    key: (r) => k(r.tenant, r.chat_id, r.thread_id),
    sql: (s) => `
      insert into ${s}.threads as t (tenant, chat_id, thread_id, started_us, closed_us, tags_snapshot, tags_snapshot_us,
                                     rating_score, rating_comment, rating_us, archive_tags, archive_tags_us)
      select * from jsonb_to_recordset($1::jsonb) as x(tenant text, chat_id text, thread_id text, started_us bigint,
             closed_us bigint, tags_snapshot text[], tags_snapshot_us bigint, rating_score int, rating_comment text, rating_us bigint,
             archive_tags text[], archive_tags_us bigint)
      on conflict (tenant, chat_id, thread_id) do update set
        started_us = least(t.started_us, excluded.started_us),
        closed_us = least(t.closed_us, excluded.closed_us),
        tags_snapshot = case when excluded.tags_snapshot_us is not null and (t.tags_snapshot_us is null or excluded.tags_snapshot_us > t.tags_snapshot_us)
                             then excluded.tags_snapshot else t.tags_snapshot end,
        tags_snapshot_us = greatest(t.tags_snapshot_us, excluded.tags_snapshot_us),
        rating_score = case when excluded.rating_us is not null and (t.rating_us is null or excluded.rating_us >= t.rating_us)
                            then excluded.rating_score else t.rating_score end,
        rating_comment = case when excluded.rating_us is not null and (t.rating_us is null or excluded.rating_us >= t.rating_us)
                              then excluded.rating_comment else t.rating_comment end,
        rating_us = greatest(t.rating_us, excluded.rating_us),
        archive_tags = case when excluded.archive_tags_us is not null
                             and (t.archive_tags_us is null or excluded.archive_tags_us > t.archive_tags_us
                                  or (excluded.archive_tags_us = t.archive_tags_us
                                      and excluded.archive_tags::text > t.archive_tags::text))
                            then excluded.archive_tags else t.archive_tags end,
        archive_tags_us = greatest(t.archive_tags_us, excluded.archive_tags_us)`,
  },
  threadTags: {
    key: (r) => k(r.tenant, r.chat_id, r.thread_id, r.tag),
    sql: (s) => `
      insert into ${s}.thread_tags as t (tenant, chat_id, thread_id, tag, tagged, untagged, tagged_us, untagged_us)
      select * from jsonb_to_recordset($1::jsonb) as x(tenant text, chat_id text, thread_id text, tag text, tagged boolean, untagged boolean,
             tagged_us bigint, untagged_us bigint)
      on conflict (tenant, chat_id, thread_id, tag) do update set
        tagged = t.tagged or excluded.tagged,
        untagged = t.untagged or excluded.untagged,
        tagged_us = greatest(t.tagged_us, excluded.tagged_us),
        untagged_us = greatest(t.untagged_us, excluded.untagged_us)`,
  },
  entries: {
    key: (r) => k(r.tenant, r.chat_id, r.thread_id, r.entry_id),
    sql: (s) => `
      insert into ${s}.entries as e (tenant, chat_id, thread_id, entry_id, kind, author_kind, author_id, author_name,
                                     visibility, text, file_name, file_url, created_us, transcript_position, edited_us, deleted_us)
      select * from jsonb_to_recordset($1::jsonb) as x(tenant text, chat_id text, thread_id text, entry_id text,
             kind text, author_kind text, author_id text, author_name text, visibility text, text text, file_name text,
             file_url text, created_us bigint, transcript_position int, edited_us bigint, deleted_us bigint)
      on conflict (tenant, chat_id, thread_id, entry_id) do update set
        kind = coalesce(e.kind, excluded.kind),
        author_kind = case when e.author_kind is null or e.author_kind = 'unknown' then excluded.author_kind else e.author_kind end,
        author_id = coalesce(e.author_id, excluded.author_id),
        author_name = coalesce(e.author_name, excluded.author_name),
        visibility = coalesce(e.visibility, excluded.visibility),
        -- the newest edit's text wins; the original posting never overwrites an edit
        text = case when excluded.edited_us is not null
                      then case when e.edited_us is null or excluded.edited_us >= e.edited_us then excluded.text else e.text end
                    when e.edited_us is not null then e.text
                    else coalesce(e.text, excluded.text) end,
        file_name = coalesce(e.file_name, excluded.file_name),
        file_url = coalesce(e.file_url, excluded.file_url),
        created_us = coalesce(e.created_us, excluded.created_us),
        transcript_position = coalesce(e.transcript_position, excluded.transcript_position),
        edited_us = greatest(e.edited_us, excluded.edited_us),
        deleted_us = least(e.deleted_us, excluded.deleted_us)`,
  },
};

/** Parents first. */
export const tableOrder: readonly Tables[] = [
  'chats',
  'customers',
  'participants',
  'threads',
  'threadTags',
  'entries',
];

/**
 * Splits rows so that no statement touches one key twice (Postgres refuses that in one INSERT … ON CONFLICT);
 * each layer in key order, so concurrent partitions take row locks in the same order.
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

/**
 * Records the intent to sync every closed thread with a customer e-mail among the threads this batch touched,
 * the threads of chats that got their customer in it, and every thread of a customer whose name or e-mail it
 * changed (their notes show them): one outbox row per thread, its version bumped. Other threads of the chat are
 * left alone: a returning customer's new thread does not send their old notes again (HubSpot's daily limit). Runs in the consumer's
 * transaction, after the projection's upserts, so the intent commits with the offsets. A thread whose intent is
 * still waiting keeps its place; a new change pushes the attempt to `settle` from now, so a burst of late events
 * (tags after the close) makes one update, not one per event. Erased chats (crm.erase_chats) are left out, and an
 * `erased` row stays so.
 */
export const outboxSql = (s: string) => `
  insert into ${s}.outbox as o (tenant, chat_id, thread_id, first_closed_us, next_attempt_at)
  select t.tenant, t.chat_id, t.thread_id, t.closed_us, now() + make_interval(secs => $4::double precision / 1000)
  from ${s}.threads t
  join ${s}.chats c on c.tenant = t.tenant and c.chat_id = t.chat_id
  join ${s}.customers u on u.tenant = c.tenant and u.customer_id = c.customer_id
  where t.closed_us is not null and u.email is not null
    -- an erased chat never gets an intent again (a late or replayed event of it)
    and not exists (select 1 from ${s}.erased_chats e where e.tenant = t.tenant and e.chat_id = t.chat_id)
    and ((t.tenant, t.chat_id, t.thread_id) in (select x.tenant, x.chat_id, x.thread_id
                                                 from jsonb_to_recordset($1::jsonb) as x(tenant text, chat_id text, thread_id text))
         or (t.tenant, t.chat_id) in (select y.tenant, y.chat_id from jsonb_to_recordset($2::jsonb) as y(tenant text, chat_id text))
         or (c.tenant, c.customer_id) in (select z.tenant, z.customer_id from jsonb_to_recordset($3::jsonb) as z(tenant text, customer_id text)))
  order by t.tenant, t.chat_id, t.thread_id
  on conflict (tenant, chat_id, thread_id) do update set
    version = o.version + 1,
    status = case when o.status in ('dead', 'erased') then o.status else 'pending' end,
    next_attempt_at = greatest(o.next_attempt_at, excluded.next_attempt_at),
    first_closed_us = least(o.first_closed_us, excluded.first_closed_us),
    updated_at = now()`;
