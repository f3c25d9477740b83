import type { TranscriptRowChanges } from './rows.js';

/**
 * One upsert per table. Rows arrive as one JSON array (`jsonb_to_recordset`), so a batch of any
 * size costs one round trip per table. The ON CONFLICT clauses are the projection's merge rules:
 * each is commutative (min/max/or, or last-writer-wins by LiveChat's time), so the outcome does not
 * depend on the order in which LiveChat delivered the webhooks.
 */
export interface TableStatement<K extends keyof TranscriptRowChanges> {
  readonly table: K;
  readonly key: (row: TranscriptRowChanges[K][number]) => string;
  readonly sql: (schema: string) => string;
}

const k = (...parts: (string | number)[]) => parts.join('\u001f');

export const statements: { [K in keyof TranscriptRowChanges]: TableStatement<K> } = {
  chats: {
    table: 'chats',
    key: (r) => k(r.tenant, r.chat_id),
    sql: (s) => `
      insert into ${s}.chats as c (tenant, chat_id, first_thread_id, first_thread_started_us, last_thread_id,
                                   last_thread_started_us, customer_id, group_ids)
      select tenant, chat_id, thread_id, thread_started_us, thread_id, thread_started_us, customer_id, coalesce(group_ids, '{}')
      from jsonb_to_recordset($1::jsonb) as x(tenant text, chat_id text, thread_id text, thread_started_us bigint,
                                             customer_id text, group_ids int[])
      on conflict (tenant, chat_id) do update set
        first_thread_id = case
          when excluded.first_thread_started_us is not null
               and (c.first_thread_started_us is null or excluded.first_thread_started_us < c.first_thread_started_us)
            then excluded.first_thread_id
          else coalesce(c.first_thread_id, excluded.first_thread_id) end,
        first_thread_started_us = least(c.first_thread_started_us, excluded.first_thread_started_us),
        last_thread_id = case
          when excluded.last_thread_started_us is not null
               and (c.last_thread_started_us is null or excluded.last_thread_started_us > c.last_thread_started_us)
            then excluded.last_thread_id
          else coalesce(c.last_thread_id, excluded.last_thread_id) end,
        last_thread_started_us = greatest(c.last_thread_started_us, excluded.last_thread_started_us),
        customer_id = coalesce(c.customer_id, excluded.customer_id),
        group_ids = array(select distinct g from unnest(c.group_ids || excluded.group_ids) as g order by g)`,
  },
  threads: {
    table: 'threads',
    key: (r) => k(r.tenant, r.chat_id, r.thread_id),
    sql: (s) => `
      insert into ${s}.threads as t (tenant, chat_id, thread_id, started_us, closed_us, closed_by_user_id, closed_by_kind,
                                     queue_wait_seconds, queued_at_us, summary_status, summary_text, summary_updated_us,
                                     tags_snapshot, tags_snapshot_us, archive_tags, archive_tags_us)
      select * from jsonb_to_recordset($1::jsonb) as x(tenant text, chat_id text, thread_id text, started_us bigint,
             closed_us bigint, closed_by_user_id text, closed_by_kind text, queue_wait_seconds int, queued_at_us bigint,
             summary_status text, summary_text text, summary_updated_us bigint, tags_snapshot text[], tags_snapshot_us bigint,
             archive_tags text[], archive_tags_us bigint)
      on conflict (tenant, chat_id, thread_id) do update set
        started_us = least(t.started_us, excluded.started_us),
        -- the earliest close is the close; later ones would be redeliveries in another format
        closed_by_user_id = case when excluded.closed_us is not null and (t.closed_us is null or excluded.closed_us < t.closed_us)
                                 then excluded.closed_by_user_id else t.closed_by_user_id end,
        closed_by_kind = case when excluded.closed_us is not null and (t.closed_us is null or excluded.closed_us < t.closed_us)
                              then excluded.closed_by_kind else t.closed_by_kind end,
        closed_us = least(t.closed_us, excluded.closed_us),
        queue_wait_seconds = case when excluded.queued_at_us is not null and (t.queued_at_us is null or excluded.queued_at_us > t.queued_at_us)
                                  then excluded.queue_wait_seconds else coalesce(t.queue_wait_seconds, excluded.queue_wait_seconds) end,
        queued_at_us = greatest(t.queued_at_us, excluded.queued_at_us),
        summary_status = case when excluded.summary_updated_us is not null and (t.summary_updated_us is null or excluded.summary_updated_us >= t.summary_updated_us)
                              then excluded.summary_status else t.summary_status end,
        summary_text = case when excluded.summary_updated_us is not null and (t.summary_updated_us is null or excluded.summary_updated_us >= t.summary_updated_us)
                            then excluded.summary_text else t.summary_text end,
        summary_updated_us = greatest(t.summary_updated_us, excluded.summary_updated_us),
        tags_snapshot = case when excluded.tags_snapshot_us is not null and (t.tags_snapshot_us is null or excluded.tags_snapshot_us > t.tags_snapshot_us)
                             then excluded.tags_snapshot else t.tags_snapshot end,
        tags_snapshot_us = greatest(t.tags_snapshot_us, excluded.tags_snapshot_us),
        archive_tags = case when excluded.archive_tags_us is not null
                             and (t.archive_tags_us is null or excluded.archive_tags_us > t.archive_tags_us
                                  or (excluded.archive_tags_us = t.archive_tags_us
                                      and excluded.archive_tags::text > t.archive_tags::text))
                            then excluded.archive_tags else t.archive_tags end,
        archive_tags_us = greatest(t.archive_tags_us, excluded.archive_tags_us)`,
  },
  threadTags: {
    table: 'threadTags',
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
    table: 'entries',
    key: (r) => k(r.tenant, r.chat_id, r.thread_id, r.entry_id),
    sql: (s) => `
      insert into ${s}.entries as e (tenant, chat_id, thread_id, entry_id, event_id, kind, author_kind, author_id, author_name,
                                     visibility, text, system_message_type, content, created_us, transcript_position, edited_us, deleted_us)
      select tenant, chat_id, thread_id, entry_id, event_id, kind, author_kind, author_id, author_name, visibility, text,
             system_message_type, content, created_us, transcript_position, edited_us, deleted_us
      from jsonb_to_recordset($1::jsonb) as x(tenant text, chat_id text, thread_id text, entry_id text, event_id text,
             kind text, author_kind text, author_id text, author_name text, visibility text, text text,
             system_message_type text, content jsonb, created_us bigint, transcript_position int, edited_us bigint, deleted_us bigint)
      on conflict (tenant, chat_id, thread_id, entry_id) do update set
        event_id = coalesce(e.event_id, excluded.event_id),
        kind = coalesce(e.kind, excluded.kind),
        author_kind = case when e.author_kind is null or e.author_kind = 'unknown' then excluded.author_kind else e.author_kind end,
        author_id = coalesce(e.author_id, excluded.author_id),
        author_name = coalesce(e.author_name, excluded.author_name),
        visibility = coalesce(e.visibility, excluded.visibility),
        system_message_type = coalesce(e.system_message_type, excluded.system_message_type),
        -- the newest edit's text wins; the original posting never overwrites an edit
        text = case when excluded.edited_us is not null
                      then case when e.edited_us is null or excluded.edited_us >= e.edited_us then excluded.text else e.text end
                    when e.edited_us is not null then e.text
                    else coalesce(e.text, excluded.text) end,
        content = case when excluded.edited_us is not null
                         then case when e.edited_us is null or excluded.edited_us >= e.edited_us then excluded.content else e.content end
                       when e.edited_us is not null then e.content
                       else coalesce(e.content, excluded.content) end,
        created_us = coalesce(e.created_us, excluded.created_us),
        transcript_position = coalesce(e.transcript_position, excluded.transcript_position),
        edited_us = greatest(e.edited_us, excluded.edited_us),
        deleted_us = least(e.deleted_us, excluded.deleted_us)`,
  },
  participants: {
    table: 'participants',
    key: (r) => k(r.tenant, r.chat_id, r.user_id),
    sql: (s) => `
      insert into ${s}.participants as p (tenant, chat_id, user_id, kind, name, email)
      select * from jsonb_to_recordset($1::jsonb) as x(tenant text, chat_id text, user_id text, kind text, name text, email text)
      on conflict (tenant, chat_id, user_id) do update set
        kind = case when p.kind = 'unknown' then excluded.kind else p.kind end,
        name = coalesce(p.name, excluded.name),
        email = coalesce(p.email, excluded.email)`,
  },
  customers: {
    table: 'customers',
    key: (r) => k(r.tenant, r.customer_id),
    sql: (s) => `
      insert into ${s}.customers as c (tenant, customer_id, name, email, session_fields, visit, updated_us)
      select * from jsonb_to_recordset($1::jsonb) as x(tenant text, customer_id text, name text, email text,
             session_fields jsonb, visit jsonb, updated_us bigint)
      on conflict (tenant, customer_id) do update set
        name = case when excluded.name is not null and (c.name is null or excluded.updated_us >= c.updated_us) then excluded.name else c.name end,
        email = case when excluded.email is not null and (c.email is null or excluded.updated_us >= c.updated_us) then excluded.email else c.email end,
        session_fields = case when excluded.session_fields is not null and (c.session_fields is null or excluded.updated_us >= c.updated_us)
                              then excluded.session_fields else c.session_fields end,
        visit = case when excluded.visit is not null and (c.visit is null or excluded.updated_us >= c.updated_us) then excluded.visit else c.visit end,
        updated_us = greatest(c.updated_us, excluded.updated_us)`,
  },
  agents: {
    table: 'agents',
    key: (r) => k(r.tenant, r.agent_id),
    sql: (s) => `
      insert into ${s}.agents as a (tenant, agent_id, name, email)
      select * from jsonb_to_recordset($1::jsonb) as x(tenant text, agent_id text, name text, email text)
      on conflict (tenant, agent_id) do update set name = coalesce(a.name, excluded.name), email = coalesce(a.email, excluded.email)`,
  },
  surveyAnswers: {
    table: 'surveyAnswers',
    key: (r) => k(r.tenant, r.chat_id, r.thread_id, r.entry_id, r.position),
    sql: (s) => `
      insert into ${s}.survey_answers as a (tenant, chat_id, thread_id, entry_id, position, form_type, field_id, label, answer, answers)
      select tenant, chat_id, thread_id, entry_id, position, form_type, field_id, label, answer, coalesce(answers, '{}')
      from jsonb_to_recordset($1::jsonb) as x(tenant text, chat_id text, thread_id text, entry_id text, position int,
             form_type text, field_id text, label text, answer text, answers text[])
      on conflict (tenant, chat_id, thread_id, entry_id, position) do update set
        -- the first copy stands; a copy whose answers were erased (null, []) leaves them to a later opened copy
        answer = coalesce(a.answer, excluded.answer),
        answers = case when a.answers = '{}' then excluded.answers else a.answers end`,
  },
  tickets: {
    table: 'tickets',
    key: (r) => k(r.tenant, r.ticket_id),
    sql: (s) => `
      insert into ${s}.tickets as t (tenant, ticket_id, status, subject, requester_name, requester_email, assignee_id, tags,
                               group_ids, source_chat_id, body, created_us)
      select tenant, ticket_id, status, subject, requester_name, requester_email, assignee_id, coalesce(tags, '{}'),
             coalesce(group_ids, '{}'), source_chat_id, body, created_us
      from jsonb_to_recordset($1::jsonb) as x(tenant text, ticket_id text, status text, subject text, requester_name text,
             requester_email text, assignee_id text, tags text[], group_ids int[], source_chat_id text, body jsonb, created_us bigint)
      on conflict (tenant, ticket_id) do update set
        -- the first copy stands; personal values erased in it (null, body {}) are taken from a later opened copy
        subject = coalesce(t.subject, excluded.subject),
        requester_name = coalesce(t.requester_name, excluded.requester_name),
        requester_email = coalesce(t.requester_email, excluded.requester_email),
        body = case when t.body is null or t.body = '{}' then excluded.body else t.body end`,
  },
  cannedResponses: {
    table: 'cannedResponses',
    key: (r) => k(r.tenant, r.canned_response_id),
    sql: (s) => `
      insert into ${s}.canned_responses as c (tenant, canned_response_id, group_id, text, tags, updated_us)
      select tenant, canned_response_id, group_id, text, coalesce(tags, '{}'), updated_us
      from jsonb_to_recordset($1::jsonb) as x(tenant text, canned_response_id bigint, group_id int, text text, tags text[], updated_us bigint)
      on conflict (tenant, canned_response_id) do update set
        group_id = case when excluded.updated_us >= c.updated_us then excluded.group_id else c.group_id end,
        text = case when excluded.updated_us >= c.updated_us then excluded.text else c.text end,
        tags = case when excluded.updated_us >= c.updated_us then excluded.tags else c.tags end,
        updated_us = greatest(c.updated_us, excluded.updated_us)`,
  },
};

/**
 * Splits rows so that no statement touches one key twice (Postgres refuses that in one
 * INSERT … ON CONFLICT): identical rows collapse, the n-th distinct row of a key goes to layer n.
 * Each layer is in key order: transactions of partitions applied concurrently upsert shared rows
 * (agents, customers) and so take their locks in the same order, waiting instead of deadlocking.
 * Returns each layer as the JSON array the statement takes: each row is serialised once, for the
 * comparison and the parameter alike.
 */
export function layerRows<T>(rows: readonly T[], key: (row: T) => string): string[] {
  const layers: { id: string; json: string }[][] = [];
  const seen = new Map<string, Set<string>>();
  for (const row of rows) {
    const id = key(row);
    const json = JSON.stringify(row);
    let bodies = seen.get(id);
    if (bodies === undefined) seen.set(id, (bodies = new Set()));
    if (bodies.has(json)) continue;
    const layer = bodies.size;
    bodies.add(json);
    (layers[layer] ??= []).push({ id, json });
  }
  return layers.map(
    (layer) =>
      `[${layer
        .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
        .map((entry) => entry.json)
        .join(',')}]`,
  );
}

/** Tables in the order their rows are written (parents first, so a reader never sees an orphan). */
export const tableOrder: readonly (keyof TranscriptRowChanges)[] = [
  'chats',
  'threads',
  'threadTags',
  'entries',
  'participants',
  'customers',
  'agents',
  'surveyAnswers',
  'tickets',
  'cannedResponses',
];
