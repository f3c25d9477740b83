-- Up Migration
-- Archives (threads read from the Agent Chat API) carry a thread's tags as of their read, not its tag changes: the
-- newest read's list supersedes the tag changes received before it, those received after apply on top of it. Tag
-- facts stored before this migration have no receipt time: any archive read supersedes them. thread_facts is 0007's
-- but for its tags.
alter table thread_tags add column tagged_us bigint, add column untagged_us bigint;
alter table threads add column archive_tags text[], add column archive_tags_us bigint;

create or replace view thread_facts as
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
  ), archived as (
    -- LiveChat's archiving system message (manual_archived_agent, manual_archived_customer, auto_archived, …)
    -- is the close: later system messages (a transcript sent) do not stretch the thread
    select tenant, chat_id, thread_id, min(created_us) as at_us
    from entries
    where kind = 'system_message' and system_message_type like '%archived%' and created_us is not null
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
  ), archive_tags as (
    -- per tag the latest fact wins: the newest archive read's list unless a tag change was received after it, then
    -- the later of tag and untag (an untag at the same microsecond wins); transcripts 0003 says why
    select t.tenant, t.chat_id, t.thread_id,
           array(select x.tag from (
                   select a.tag from unnest(t.archive_tags) as a(tag)
                   where not exists (select 1 from thread_tags u
                                     where u.tenant = t.tenant and u.chat_id = t.chat_id and u.thread_id = t.thread_id
                                       and u.tag = a.tag and u.untagged and u.untagged_us > t.archive_tags_us
                                       and not (u.tagged and coalesce(u.tagged_us, -1) > u.untagged_us))
                   union
                   select g.tag from thread_tags g
                   where g.tenant = t.tenant and g.chat_id = t.chat_id and g.thread_id = t.thread_id
                     and g.tagged and g.tagged_us > t.archive_tags_us
                     and not (g.untagged and coalesce(g.untagged_us, -1) >= g.tagged_us)) x
                 order by x.tag) as tags
    from threads t where t.archive_tags_us is not null
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
           case when t.closed then coalesce(t.close_dated_us, ar.at_us,
                                            case when le.at_us is not null then greatest(le.at_us, t.started_us) end,
                                            t.close_received_us)
           end as end_us,
           fr.first_customer_us, msg.customer_messages, msg.agent_messages, msg.agent_ids,
           fr.author_id as first_responder_id, fr.created_us as first_reply_us,
           o.side as opener_side, g.thread_id is not null as greeted,
           r.kind as rating_kind, r.score as rating_score, rc.comment as rating_comment,
           coalesce(tr.transfers, 0) as transfers, tr.group_ids as transfer_group_ids,
           cg.group_ids as chat_group_ids,
           q.queued_at_us,
           qv.thread_id is not null as visitor_queued,
           coalesce(atg.tags, case when t.tags_snapshot_us is not null then t.tags_snapshot end, tg.tags, '{}') as tags
    from threads t
    left join msg on msg.tenant = t.tenant and msg.chat_id = t.chat_id and msg.thread_id = t.thread_id
    left join first_reply fr on fr.tenant = t.tenant and fr.chat_id = t.chat_id and fr.thread_id = t.thread_id
    left join opener o on o.tenant = t.tenant and o.chat_id = t.chat_id and o.thread_id = t.thread_id
    left join greeted g on g.tenant = t.tenant and g.chat_id = t.chat_id and g.thread_id = t.thread_id
    left join last_event le on le.tenant = t.tenant and le.chat_id = t.chat_id and le.thread_id = t.thread_id
    left join archived ar on ar.tenant = t.tenant and ar.chat_id = t.chat_id and ar.thread_id = t.thread_id
    left join rating r on r.tenant = t.tenant and r.chat_id = t.chat_id and r.thread_id = t.thread_id
    left join rating_comment rc on rc.tenant = t.tenant and rc.chat_id = t.chat_id and rc.thread_id = t.thread_id
    left join transfer tr on tr.tenant = t.tenant and tr.chat_id = t.chat_id and tr.thread_id = t.thread_id
    left join chat_groups cg on cg.tenant = t.tenant and cg.chat_id = t.chat_id
    left join queue q on q.tenant = t.tenant and q.chat_id = t.chat_id and q.thread_id = t.thread_id
    left join tags tg on tg.tenant = t.tenant and tg.chat_id = t.chat_id and tg.thread_id = t.thread_id
    left join archive_tags atg on atg.tenant = t.tenant and atg.chat_id = t.chat_id and atg.thread_id = t.thread_id
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
