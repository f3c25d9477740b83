-- Up Migration
-- The transcripts projection: tables (internal, may change) and two views (the public contract).
-- Times are stored as epoch microseconds (bigint) exactly as LiveChat gave them; the views expose
-- timestamptz, which also has microsecond resolution.

create function us_to_ts(us bigint) returns timestamptz
  language sql immutable parallel safe
  return case when us is null then null else timestamptz 'epoch' + us * interval '1 microsecond' end;

create table chats (
  tenant                  text not null,
  chat_id                 text not null,
  first_thread_id         text,
  first_thread_started_us bigint,
  last_thread_id          text,
  last_thread_started_us  bigint,
  customer_id             text,
  group_ids               int[] not null default '{}',
  primary key (tenant, chat_id)
);

create table threads (
  tenant             text not null,
  chat_id            text not null,
  thread_id          text not null,
  started_us         bigint,
  closed_us          bigint,
  closed_by_user_id  text,
  -- 'agent', 'customer', 'router', 'unknown' …; null while the thread is not known to be closed
  closed_by_kind     text,
  queue_wait_seconds int,
  queued_at_us       bigint,
  summary_status     text,
  summary_text       text,
  summary_updated_us bigint,
  -- v2 sends tag lists, not changes: the newest list seen (by its time) is kept
  tags_snapshot      text[],
  tags_snapshot_us   bigint,
  primary key (tenant, chat_id, thread_id)
);

-- v3 tag changes carry no time: a tag counts when it was tagged (or listed at thread start) and
-- never untagged. Dedup keys make a re-tag after an untag indistinguishable from a redelivery.
create table thread_tags (
  tenant    text not null,
  chat_id   text not null,
  thread_id text not null,
  tag       text not null,
  tagged    boolean not null default false,
  untagged  boolean not null default false,
  primary key (tenant, chat_id, thread_id, tag)
);

-- One row per transcript entry. entry_id is LiveChat's event id (v3) or, for v2 which has none, the
-- deterministic domain event id (the same in chat_started and chat_ended).
create table entries (
  tenant              text not null,
  chat_id             text not null,
  thread_id           text not null,
  entry_id            text not null,
  event_id            text,
  kind                text,
  author_kind         text,
  author_id           text,
  author_name         text,
  visibility          text,
  text                text,
  system_message_type text,
  content             jsonb,
  created_us          bigint,
  edited_us           bigint,
  deleted_us          bigint,
  primary key (tenant, chat_id, thread_id, entry_id)
);
create index entries_by_time on entries (tenant, chat_id, created_us);

create table participants (
  tenant  text not null,
  chat_id text not null,
  user_id text not null,
  kind    text not null,
  name    text,
  email   text,
  primary key (tenant, chat_id, user_id)
);

create table customers (
  tenant         text not null,
  customer_id    text not null,
  name           text,
  email          text,
  session_fields jsonb,
  visit          jsonb,
  updated_us     bigint,
  primary key (tenant, customer_id)
);

create table agents (
  tenant   text not null,
  agent_id text not null,
  name     text,
  email    text,
  primary key (tenant, agent_id)
);

create table survey_answers (
  tenant    text not null,
  chat_id   text not null,
  thread_id text not null,
  entry_id  text not null,
  position  int not null,
  form_type text,
  field_id  text,
  label     text,
  answer    text,
  answers   text[] not null default '{}',
  primary key (tenant, chat_id, thread_id, entry_id, position)
);

create table tickets (
  tenant          text not null,
  ticket_id       text not null,
  status          text,
  subject         text,
  requester_name  text,
  requester_email text,
  assignee_id     text,
  tags            text[] not null default '{}',
  group_ids       int[] not null default '{}',
  source_chat_id  text,
  body            jsonb,
  created_us      bigint,
  primary key (tenant, ticket_id)
);

create table canned_responses (
  tenant              text not null,
  canned_response_id  bigint not null,
  group_id            int,
  text                text,
  tags                text[] not null default '{}',
  updated_us          bigint,
  primary key (tenant, canned_response_id)
);

-- Effective tags of a thread: (newest v2 list ∪ tagged) − untagged.
create view thread_effective_tags as
  select t.tenant, t.chat_id, t.thread_id, s.tag
  from threads t, unnest(coalesce(t.tags_snapshot, '{}')) as s(tag)
  where not exists (select 1 from thread_tags u where u.tenant = t.tenant and u.chat_id = t.chat_id
                    and u.thread_id = t.thread_id and u.tag = s.tag and u.untagged)
  union
  select tenant, chat_id, thread_id, tag from thread_tags where tagged and not untagged;

create view chat_transcript as
  select e.tenant,
         e.chat_id,
         e.thread_id,
         e.entry_id as event_id,
         -- the webhook's author kind is a guess from the id's shape; the chat's user list knows better
         case coalesce(nullif(e.author_kind, 'unknown'), p.kind)
              when 'customer' then 'customer'
              when 'agent' then 'agent'
              when 'bot' then 'agent'
              else 'system' end as author_type,
         e.author_id,
         coalesce(e.author_name, p.name, c.name) as author_name,
         coalesce(e.visibility, 'all') as visibility,
         e.kind,
         e.text,
         us_to_ts(e.created_us) as created_at,
         us_to_ts(e.edited_us) as edited_at,
         us_to_ts(e.deleted_us) as deleted_at,
         e.created_us
  from entries e
  left join participants p on p.tenant = e.tenant and p.chat_id = e.chat_id and p.user_id = e.author_id
  left join customers c on c.tenant = e.tenant and c.customer_id = e.author_id
  -- an edit or deletion whose message never arrived has no kind: not an entry yet
  where e.kind is not null;

create view chat_summary as
  select ch.tenant,
         ch.chat_id,
         us_to_ts(coalesce(ch.first_thread_started_us,
                           (select min(t.started_us) from threads t where t.tenant = ch.tenant and t.chat_id = ch.chat_id),
                           (select min(e.created_us) from entries e where e.tenant = ch.tenant and e.chat_id = ch.chat_id))) as started_at,
         us_to_ts((select max(t.closed_us) from threads t
                   where t.tenant = ch.tenant and t.chat_id = ch.chat_id
                     and not exists (select 1 from threads o where o.tenant = t.tenant and o.chat_id = t.chat_id
                                     and o.closed_us is null))) as ended_at,
         ch.customer_id,
         cu.name as customer_name,
         cu.email as customer_email,
         coalesce((select array_agg(distinct a order by a) from (
                     select p.user_id as a from participants p
                     where p.tenant = ch.tenant and p.chat_id = ch.chat_id and p.kind = 'agent'
                     union
                     select e.author_id from entries e
                     where e.tenant = ch.tenant and e.chat_id = ch.chat_id and e.author_kind = 'agent' and e.author_id is not null) x),
                  '{}') as agent_ids,
         ch.group_ids,
         coalesce((select array_agg(distinct tag order by tag) from thread_effective_tags t
                   where t.tenant = ch.tenant and t.chat_id = ch.chat_id), '{}') as tags,
         (select count(*) from entries e
          where e.tenant = ch.tenant and e.chat_id = ch.chat_id and e.kind in ('message', 'file', 'rich_message')
            and e.author_kind in ('customer', 'agent', 'bot') and e.deleted_us is null)::int as message_count,
         (select count(*) from threads t where t.tenant = ch.tenant and t.chat_id = ch.chat_id)::int as thread_count
  from chats ch
  left join customers cu on cu.tenant = ch.tenant and cu.customer_id = ch.customer_id;
