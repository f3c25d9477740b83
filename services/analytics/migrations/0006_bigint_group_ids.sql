-- Up Migration
-- Group ids are Avro longs: int[] refused an id above 2^31 - 1 (the event was dead-lettered). The views over the
-- columns are dropped and created again as they were (thread_facts as in 0004, the aggregates as in 0002), with
-- bigint group ids.
drop view thread_facts cascade;

alter table threads alter column group_ids type bigint[], alter column group_ids set default '{}';
alter table chat_groups alter column group_ids type bigint[], alter column group_ids set default '{}';
alter table transfers alter column to_group_ids type bigint[], alter column to_group_ids set default '{}';

create view thread_facts as
  with msg as (
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
    where m.side = 'agent' and m.automatic is null and (m.created_us, m.position) > (fc.created_us, fc.position)
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
    -- a chat-level fact rates the chat's latest thread started at or before it (else its first thread): a
    -- thread started later (the customer came back) does not take it
    select l.tenant, l.chat_id, l.thread_id, r.fact_id, r.dated, r.at_us, r.kind, r.score, r.comment
    from ratings r
    cross join lateral (
      select t.tenant, t.chat_id, t.thread_id from threads t
      where t.tenant = r.tenant and t.chat_id = r.chat_id
      order by (t.started_us <= r.at_us) desc nulls last,
               case when t.started_us <= r.at_us then -t.started_us else t.started_us end nulls last, t.thread_id
      limit 1) l
    where r.thread_id = ''
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
    -- v2 visitor_queued names a visitor, not a chat, and carries no time: it marks the visitor's first chat
    -- started at or after its receipt, less a minute (the chat's start is LiveChat's clock, the receipt ours)
    select distinct q.tenant, q.chat_id, q.thread_id
    from visitor_queues v
    cross join lateral (
      select t.tenant, t.chat_id, t.thread_id from threads t
      where t.tenant = v.tenant and t.customer_id = v.visitor_id and t.started_us >= v.received_us - 60000000
      order by t.started_us, t.chat_id, t.thread_id
      limit 1) q
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

create view local_thread_facts as
  select f.*, z.time_zone,
         (f.started_at at time zone z.time_zone)::date as day,
         date_trunc('hour', f.started_at at time zone z.time_zone) as hour
  from thread_facts f
  cross join lateral (select coalesce((select s.time_zone from tenant_settings s where s.tenant = f.tenant), 'UTC')
                      as time_zone) z
  where f.started_at is not null;

create view thread_groups as
  select f.*, g as group_id
  from local_thread_facts f
  cross join lateral unnest(case when cardinality(f.group_ids) = 0 then array[null::bigint] else f.group_ids end) g;

create view daily as
  select tenant, day, group_id,
         count(*)::int as chats,
         (count(*) filter (where first_response_seconds is not null))::int as chats_with_reply,
         avg(first_response_seconds) as avg_first_response_seconds,
         percentile_cont(0.9) within group (order by first_response_seconds) as p90_first_response_seconds,
         avg(duration_seconds) as avg_duration_seconds,
         (count(*) filter (where rating = 'good'))::int as rated_good,
         (count(*) filter (where rating = 'bad'))::int as rated_bad,
         (count(*) filter (where queued))::int as queued,
         (count(*) filter (where left_queue))::int as left_queue
  from thread_groups
  group by tenant, day, group_id;

create view hourly as
  select tenant, hour, group_id,
         count(*)::int as chats,
         (count(*) filter (where first_response_seconds is not null))::int as chats_with_reply,
         avg(first_response_seconds) as avg_first_response_seconds,
         percentile_cont(0.9) within group (order by first_response_seconds) as p90_first_response_seconds,
         avg(duration_seconds) as avg_duration_seconds,
         (count(*) filter (where rating = 'good'))::int as rated_good,
         (count(*) filter (where rating = 'bad'))::int as rated_bad,
         (count(*) filter (where queued))::int as queued,
         (count(*) filter (where left_queue))::int as left_queue
  from thread_groups
  group by tenant, hour, group_id;

-- Per agent and day: the threads the agent wrote in (customer-visible), the ones the agent answered first, every
-- reply's response time, and the ratings of those threads (a rating counts for every agent who wrote in the thread).
create view agent_daily as
  with agent_responses as (
    select tenant, chat_id, thread_id, agent_id, sum(response_seconds) as response_sum, count(*) as response_count
    from responses group by tenant, chat_id, thread_id, agent_id
  )
  select f.tenant, f.day, a as agent_id,
         count(*)::int as chats,
         (count(*) filter (where f.first_responder_id = a))::int as first_responses,
         avg(f.first_response_seconds) filter (where f.first_responder_id = a) as avg_first_response_seconds,
         sum(r.response_sum) / nullif(sum(r.response_count), 0) as avg_response_seconds,
         (count(*) filter (where f.rating = 'good'))::int as rated_good,
         (count(*) filter (where f.rating = 'bad'))::int as rated_bad
  from local_thread_facts f
  cross join lateral unnest(f.agent_ids) a
  left join agent_responses r on r.tenant = f.tenant and r.chat_id = f.chat_id and r.thread_id = f.thread_id
                             and r.agent_id = a
  group by f.tenant, f.day, a;

-- LiveChat's Ranking report over all time; for a period, sum agent_daily and call wilson_score (README).
create view agent_ranking as
  select tenant, agent_id, sum(rated_good)::int as good, sum(rated_bad)::int as bad,
         (sum(rated_good) + sum(rated_bad))::int as total,
         wilson_score(sum(rated_good)::bigint, sum(rated_bad)::bigint) as score
  from agent_daily
  group by tenant, agent_id
  having sum(rated_good) + sum(rated_bad) > 0;

create view tag_daily as
  select f.tenant, f.day, t as tag, count(*)::int as chats
  from local_thread_facts f
  cross join lateral unnest(f.tags) t
  group by f.tenant, f.day, t;
