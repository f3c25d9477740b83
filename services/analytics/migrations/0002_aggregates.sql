-- Up Migration
-- The report aggregates: views over thread_facts (see README "Views, not tables"). A day or an hour is the
-- tenant's local one (tenant_settings.time_zone, UTC unless configured); a thread counts on the day it started,
-- in each of its groups (a thread without a group under group_id null).

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
  cross join lateral unnest(case when cardinality(f.group_ids) = 0 then array[null::int] else f.group_ids end) g;

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

-- Routing status intervals: each status lasts until the agent's next status (by time, then fact id); the last one
-- lasts until now (unless it is offline). Times are LiveChat's when given, else the receipt time (routing_status_set carries none).
create view agent_status_intervals as
  select tenant, agent_id, status, us_to_ts(at_us) as from_at,
         coalesce(us_to_ts(lead(at_us) over w),
                  case when status = 'offline' then us_to_ts(at_us) else greatest(now(), us_to_ts(at_us)) end) as to_at
  from agent_statuses
  window w as (partition by tenant, agent_id order by at_us, fact_id);

-- Per agent and local day: seconds in each routing status (intervals split at the tenant's midnights).
create view agent_availability as
  with zoned as (
    select i.*, coalesce((select s.time_zone from tenant_settings s where s.tenant = i.tenant), 'UTC') as time_zone
    from agent_status_intervals i
    where i.to_at > i.from_at
  ), split as (
    select z.tenant, z.agent_id, z.status, d::date as day,
           extract(epoch from least(z.to_at, (d + interval '1 day') at time zone z.time_zone)
                              - greatest(z.from_at, d at time zone z.time_zone)) as seconds
    from zoned z
    cross join lateral generate_series(date_trunc('day', z.from_at at time zone z.time_zone),
                                       z.to_at at time zone z.time_zone, interval '1 day') d
  )
  select tenant, day, agent_id,
         coalesce(sum(seconds) filter (where status = 'accepting_chats'), 0) as accepting_chats_seconds,
         coalesce(sum(seconds) filter (where status = 'not_accepting_chats'), 0) as not_accepting_chats_seconds,
         coalesce(sum(seconds) filter (where status not in ('accepting_chats', 'not_accepting_chats')), 0)
           as other_status_seconds
  from split
  where seconds > 0
  group by tenant, day, agent_id;
