-- Up Migration
-- The analytics projection. Tables hold FACTS (internal, may change): immutable facts keyed by the event that
-- carried them, or rows merged with commutative rules (least, or, union, coalesce). Every number is computed by
-- the views from these facts, so a late, duplicated or reordered event gives the numbers in-order delivery
-- gives. Times are epoch microseconds as LiveChat gave them; the views expose timestamptz and seconds.

create function us_to_ts(us bigint) returns timestamptz
  language sql immutable parallel safe
  return case when us is null then null else timestamptz 'epoch' + us * interval '1 microsecond' end;

-- Wilson score lower bound of good out of good + bad at z = 2.69 (LiveChat's ranking); null without ratings.
create function wilson_score(good bigint, bad bigint) returns double precision
  language sql immutable parallel safe
  return case when coalesce(good, 0) + coalesce(bad, 0) = 0 then null else
    (good::double precision / (good + bad) + 2.69 ^ 2 / (2 * (good + bad))
     - 2.69 * sqrt((good::double precision / (good + bad) * (1 - good::double precision / (good + bad))
                    + 2.69 ^ 2 / (4 * (good + bad))) / (good + bad)))
    / (1 + 2.69 ^ 2 / (good + bad)) end;

create table threads (
  tenant            text not null,
  chat_id           text not null,
  thread_id         text not null,
  started_us        bigint,
  source_format     text,
  closed            boolean not null default false,
  close_dated_us    bigint,
  close_received_us bigint,
  customer_id       text,
  group_ids         int[] not null default '{}',
  tags_snapshot     text[],
  tags_snapshot_us  bigint,
  primary key (tenant, chat_id, thread_id)
);
create index threads_started on threads (tenant, started_us);

create table chat_groups (
  tenant    text not null,
  chat_id   text not null,
  group_ids int[] not null default '{}',
  primary key (tenant, chat_id)
);

create table thread_tags (
  tenant    text not null,
  chat_id   text not null,
  thread_id text not null,
  tag       text not null,
  tagged    boolean not null,
  untagged  boolean not null,
  primary key (tenant, chat_id, thread_id, tag)
);

create table entries (
  tenant              text not null,
  chat_id             text not null,
  thread_id           text not null,
  entry_id            text not null,
  kind                text,
  author_kind         text,
  author_id           text,
  visibility          text,
  created_us          bigint,
  -- v2: the message's place in the transcript (v2 times are whole seconds); null for v3
  position            int,
  system_message_type text,
  automatic           text,
  deleted             boolean not null default false,
  primary key (tenant, chat_id, thread_id, entry_id)
);

create table participants (
  tenant  text not null,
  chat_id text not null,
  user_id text not null,
  kind    text not null,
  primary key (tenant, chat_id, user_id)
);

create table ratings (
  tenant    text not null,
  chat_id   text not null,
  thread_id text not null, -- '' = a chat-level fact, applied to the chat's latest thread
  fact_id   text not null,
  dated     boolean not null,
  at_us     bigint not null,
  kind      text not null,  -- score | cancel | comment
  score     smallint,
  comment   text,
  primary key (tenant, chat_id, thread_id, fact_id)
);

create table transfers (
  tenant       text not null,
  chat_id      text not null,
  thread_id    text not null,
  fact_id      text not null,
  to_group_ids int[] not null default '{}',
  to_agent_ids text[] not null default '{}',
  reason       text,
  primary key (tenant, chat_id, thread_id, fact_id)
);

create table queues (
  tenant       text not null,
  chat_id      text not null,
  thread_id    text not null,
  fact_id      text not null,
  queued_at_us bigint,
  wait_seconds bigint,
  primary key (tenant, chat_id, thread_id, fact_id)
);

create table visitor_queues (
  tenant      text not null,
  visitor_id  text not null,
  fact_id     text not null,
  received_us bigint not null,
  primary key (tenant, visitor_id, fact_id)
);

create table agent_statuses (
  tenant   text not null,
  agent_id text not null,
  fact_id  text not null,
  at_us    bigint not null,
  status   text not null,
  primary key (tenant, agent_id, fact_id)
);

-- Configuration, not facts: a rebuild keeps it (the consumer declares its fact tables).
create table tenant_settings (
  tenant    text primary key,
  time_zone text not null default 'UTC'
);

-- Entries with the author's kind resolved (an id's shape gives way to the chat's user list) and its side.
create view thread_entries as
  select e.tenant, e.chat_id, e.thread_id, e.entry_id, e.kind, e.visibility, e.created_us,
         coalesce(e.position, 0) as position, e.system_message_type,
         e.automatic, e.author_id, k.author_kind,
         case when k.author_kind = 'customer' then 'customer'
              when k.author_kind in ('agent', 'bot') then 'agent' end as side
  from entries e
  left join participants p on p.tenant = e.tenant and p.chat_id = e.chat_id and p.user_id = e.author_id
  cross join lateral (select case when e.author_kind is null or e.author_kind = 'unknown'
                                  then coalesce(p.kind, e.author_kind) else e.author_kind end as author_kind) k
  where not e.deleted and e.kind is not null;

-- Messages in the reports' sense: customer-visible messages, files and rich messages by a customer or an agent.
create view thread_messages as
  select * from thread_entries
  where kind in ('message', 'file', 'rich_message') and visibility = 'all' and side is not null
    and created_us is not null;

-- Every agent reply to a customer: from the first customer message after the previous agent message.
create view responses as
  with ordered as (
    select *, count(*) filter (where side = 'agent')
                over (partition by tenant, chat_id, thread_id order by created_us, position, entry_id) as agent_turn
    from thread_messages where automatic is null
  ), waiting as (
    select tenant, chat_id, thread_id, agent_turn, min(created_us) as since_us
    from ordered where side = 'customer' group by tenant, chat_id, thread_id, agent_turn
  )
  select a.tenant, a.chat_id, a.thread_id, a.entry_id, a.author_id as agent_id, w.since_us, a.created_us,
         (a.created_us - w.since_us) / 1e6 as response_seconds
  from ordered a
  join waiting w on w.tenant = a.tenant and w.chat_id = a.chat_id and w.thread_id = a.thread_id
                and w.agent_turn = a.agent_turn - 1
  where a.side = 'agent';

create view thread_facts as
  with last_threads as (
    select distinct on (tenant, chat_id) tenant, chat_id, thread_id
    from threads order by tenant, chat_id, started_us desc nulls last, thread_id desc
  ), msg as (
    select tenant, chat_id, thread_id,
           count(*) filter (where side = 'customer') as customer_messages,
           count(*) filter (where side = 'agent') as agent_messages,
           array_agg(distinct author_id) filter (where side = 'agent' and author_id is not null) as agent_ids,
           min(created_us) as first_message_us
    from thread_messages group by tenant, chat_id, thread_id
  ), first_customer as (
    select distinct on (tenant, chat_id, thread_id) tenant, chat_id, thread_id, created_us, position
    from thread_messages where side = 'customer'
    order by tenant, chat_id, thread_id, created_us, position, entry_id
  ), first_reply as (
    -- "after" by time, then (v2, whole seconds) by the place in the transcript
    select distinct on (m.tenant, m.chat_id, m.thread_id) m.tenant, m.chat_id, m.thread_id, m.author_id,
           m.created_us, fc.created_us as first_customer_us
    from thread_messages m
    join first_customer fc on fc.tenant = m.tenant and fc.chat_id = m.chat_id and fc.thread_id = m.thread_id
    where m.side = 'agent' and (m.created_us, m.position) > (fc.created_us, fc.position)
    order by m.tenant, m.chat_id, m.thread_id, m.created_us, m.position, m.entry_id
  ), opener as (
    select distinct on (tenant, chat_id, thread_id) tenant, chat_id, thread_id, side, automatic
    from thread_messages
    order by tenant, chat_id, thread_id, (automatic is not null and side = 'agent'), created_us, position, entry_id
  ), greeted as (
    select distinct tenant, chat_id, thread_id from thread_messages where automatic = 'greeting'
  ), last_event as (
    select tenant, chat_id, thread_id, max(created_us) as at_us
    from entries
    where created_us is not null and coalesce(kind, '') not in ('filled_form', 'form')
      and coalesce(system_message_type, '') not like 'rating.%'
    group by tenant, chat_id, thread_id
  ), rating_facts as (
    select t.tenant, t.chat_id, t.thread_id, r.fact_id, r.dated, r.at_us, r.kind, r.score, r.comment
    from threads t
    join ratings r on r.tenant = t.tenant and r.chat_id = t.chat_id and r.thread_id = t.thread_id
    union all
    select l.tenant, l.chat_id, l.thread_id, r.fact_id, r.dated, r.at_us, r.kind, r.score, r.comment
    from last_threads l
    join ratings r on r.tenant = l.tenant and r.chat_id = l.chat_id and r.thread_id = ''
  ), rating as (
    select distinct on (tenant, chat_id, thread_id) tenant, chat_id, thread_id, kind, score
    from rating_facts where kind in ('score', 'cancel')
    order by tenant, chat_id, thread_id, dated desc, at_us desc, (kind = 'cancel') desc, fact_id desc
  ), rating_comment as (
    select distinct on (tenant, chat_id, thread_id) tenant, chat_id, thread_id, comment
    from rating_facts where kind = 'comment'
    order by tenant, chat_id, thread_id, dated desc, at_us desc, fact_id desc
  ), transfer as (
    -- the router's own assignments (reason assigned / unassigned, e.g. into a queue) are not transfers
    select tenant, chat_id, thread_id, count(*) filter (where reason is null or reason not in ('assigned', 'unassigned'))
             as transfers,
           array_agg(g) filter (where g is not null) as group_ids
    from transfers left join lateral unnest(to_group_ids) g on true
    group by tenant, chat_id, thread_id
  ), queue as (
    select tenant, chat_id, thread_id, min(queued_at_us) as queued_at_us
    from queues group by tenant, chat_id, thread_id
  ), tags as (
    select tenant, chat_id, thread_id, array_agg(tag order by tag) as tags
    from thread_tags where tagged and not untagged group by tenant, chat_id, thread_id
  ), queued_visitors as (
    -- v2 visitor_queued names a visitor, not a chat: it marks the visitor's first chat (by start)
    select distinct on (t.tenant, t.customer_id) t.tenant, t.chat_id, t.thread_id
    from threads t
    where exists (select 1 from visitor_queues v where v.tenant = t.tenant and v.visitor_id = t.customer_id)
    order by t.tenant, t.customer_id, t.started_us nulls last, t.chat_id, t.thread_id
  ), base as (
    select t.*,
           coalesce(t.started_us, msg.first_message_us) as start_us,
           case when t.closed then coalesce(t.close_dated_us, greatest(le.at_us, t.started_us), t.close_received_us)
           end as end_us,
           fr.first_customer_us, msg.customer_messages, msg.agent_messages, msg.agent_ids,
           fr.author_id as first_responder_id, fr.created_us as first_reply_us,
           o.side as opener_side, g.thread_id is not null as greeted,
           r.kind as rating_kind, r.score as rating_score, rc.comment as rating_comment,
           coalesce(tr.transfers, 0) as transfers, tr.group_ids as transfer_group_ids,
           cg.group_ids as chat_group_ids,
           q.queued_at_us,
           qv.thread_id is not null as visitor_queued,
           coalesce(case when t.tags_snapshot_us is not null then t.tags_snapshot end, tg.tags, '{}') as tags
    from threads t
    left join msg on msg.tenant = t.tenant and msg.chat_id = t.chat_id and msg.thread_id = t.thread_id
    left join first_reply fr on fr.tenant = t.tenant and fr.chat_id = t.chat_id and fr.thread_id = t.thread_id
    left join opener o on o.tenant = t.tenant and o.chat_id = t.chat_id and o.thread_id = t.thread_id
    left join greeted g on g.tenant = t.tenant and g.chat_id = t.chat_id and g.thread_id = t.thread_id
    left join last_event le on le.tenant = t.tenant and le.chat_id = t.chat_id and le.thread_id = t.thread_id
    left join rating r on r.tenant = t.tenant and r.chat_id = t.chat_id and r.thread_id = t.thread_id
    left join rating_comment rc on rc.tenant = t.tenant and rc.chat_id = t.chat_id and rc.thread_id = t.thread_id
    left join transfer tr on tr.tenant = t.tenant and tr.chat_id = t.chat_id and tr.thread_id = t.thread_id
    left join chat_groups cg on cg.tenant = t.tenant and cg.chat_id = t.chat_id
    left join queue q on q.tenant = t.tenant and q.chat_id = t.chat_id and q.thread_id = t.thread_id
    left join tags tg on tg.tenant = t.tenant and tg.chat_id = t.chat_id and tg.thread_id = t.thread_id
    left join queued_visitors qv on qv.tenant = t.tenant and qv.chat_id = t.chat_id and qv.thread_id = t.thread_id
  ), queue_end as (
    select b.tenant, b.chat_id, b.thread_id,
           (select min(e.created_us) from thread_entries e
            where e.tenant = b.tenant and e.chat_id = b.chat_id and e.thread_id = b.thread_id
              and e.created_us >= b.queued_at_us
              and ((e.side = 'agent' and e.visibility = 'all' and e.automatic is null
                    and e.kind in ('message', 'file', 'rich_message'))
                   or e.system_message_type like 'routing.assigned%')) as assigned_us
    from base b where b.queued_at_us is not null
  )
  select b.tenant, b.chat_id, b.thread_id,
         us_to_ts(b.start_us) as started_at,
         us_to_ts(b.end_us) as ended_at,
         (b.end_us - b.start_us) / 1e6 as duration_seconds,
         (b.first_reply_us - b.first_customer_us) / 1e6 as first_response_seconds,
         coalesce(b.customer_messages, 0)::int as customer_messages,
         coalesce(b.agent_messages, 0)::int as agent_messages,
         coalesce(array(select a from unnest(b.agent_ids) a order by a), '{}') as agent_ids,
         b.first_responder_id,
         array(select distinct g from unnest(b.group_ids || coalesce(b.chat_group_ids, '{}')
                                             || coalesce(b.transfer_group_ids, '{}')) g order by g) as group_ids,
         b.tags,
         case when b.rating_kind = 'score' then case b.rating_score when 1 then 'good' else 'bad' end end as rating,
         case when b.rating_kind is distinct from 'cancel' then b.rating_comment end as rating_comment,
         (coalesce(qe.assigned_us, b.end_us) - b.queued_at_us) / 1e6 as queued_seconds,
         (b.queued_at_us is not null or b.visitor_queued) as queued,
         (b.queued_at_us is not null and b.closed and qe.assigned_us is null) as left_queue,
         case when b.opener_side = 'agent' then 'agent' when b.opener_side = 'customer' then 'customer' end
           as started_by,
         b.greeted as started_from_greeting,
         b.transfers::int as transfers,
         b.closed,
         b.source_format
  from base b
  left join queue_end qe on qe.tenant = b.tenant and qe.chat_id = b.chat_id and qe.thread_id = b.thread_id;
