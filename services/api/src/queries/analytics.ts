import type { ApiDeps } from '../deps.js';

/** The period and group of an analytics call: local days of the tenant (its time zone), both inclusive. */
export interface AnalyticsScope {
  readonly tenant: string;
  readonly from: string;
  readonly to: string;
  readonly group?: number | undefined;
}

/** The aggregates a support dashboard shows, over a set of threads (`f` = local_thread_facts rows). */
const MEASURES = `
  count(*)::int as chats,
  (count(*) filter (where f.first_response_seconds is not null))::int as chats_with_reply,
  percentile_cont(0.5) within group (order by f.first_response_seconds) as first_response_median_seconds,
  percentile_cont(0.9) within group (order by f.first_response_seconds) as first_response_p90_seconds,
  avg(f.first_response_seconds)::float8 as first_response_avg_seconds,
  percentile_cont(0.5) within group (order by f.duration_seconds) as duration_median_seconds,
  avg(f.duration_seconds)::float8 as duration_avg_seconds,
  (count(*) filter (where f.rating = 'good'))::int as rated_good,
  (count(*) filter (where f.rating = 'bad'))::int as rated_bad,
  (count(*) filter (where f.rating = 'good'))::float8 / nullif(count(*) filter (where f.rating is not null), 0)
    as good_share,
  (count(*) filter (where f.queued))::int as queued,
  (count(*) filter (where f.left_queue))::int as left_queue,
  (count(*) filter (where f.left_queue))::float8 / nullif(count(*) filter (where f.queued), 0) as abandonment_rate,
  percentile_cont(0.5) within group (order by f.queued_seconds) filter (where f.queued and f.queued_seconds is not null)
    as queue_wait_median_seconds,
  percentile_cont(0.9) within group (order by f.queued_seconds) filter (where f.queued and f.queued_seconds is not null)
    as queue_wait_p90_seconds`;

export interface MeasureRow {
  chats: number;
  chats_with_reply: number;
  first_response_median_seconds: number | null;
  first_response_p90_seconds: number | null;
  first_response_avg_seconds: number | null;
  duration_median_seconds: number | null;
  duration_avg_seconds: number | null;
  rated_good: number;
  rated_bad: number;
  good_share: number | null;
  queued: number;
  left_queue: number;
  abandonment_rate: number | null;
  queue_wait_median_seconds: number | null;
  queue_wait_p90_seconds: number | null;
}

function scoped(deps: ApiDeps, scope: AnalyticsScope): { from: string; values: unknown[] } {
  const values: unknown[] = [scope.tenant, scope.from, scope.to];
  let where = 'f.tenant = $1 and f.day between $2::date and $3::date';
  if (scope.group !== undefined) {
    values.push(scope.group);
    where += ` and $4::bigint = any(f.group_ids)`;
  }
  return { from: `${deps.sql.analytics}.local_thread_facts f where ${where}`, values };
}

export async function tenantTimeZone(deps: ApiDeps, tenant: string): Promise<string> {
  const { rows } = await deps.pool.query<{ time_zone: string }>(
    `select coalesce((select time_zone from ${deps.sql.analytics}.tenant_settings where tenant = $1), 'UTC') as time_zone`,
    [tenant],
  );
  return rows[0]?.time_zone ?? 'UTC';
}

/** Today in the tenant's time zone (the default end of a period). */
export async function tenantToday(deps: ApiDeps, tenant: string): Promise<string> {
  const { rows } = await deps.pool.query<{ today: string }>(
    `select (now() at time zone coalesce((select time_zone from ${deps.sql.analytics}.tenant_settings where tenant = $1),
                                         'UTC'))::date::text as today`,
    [tenant],
  );
  return rows[0]!.today;
}

export async function dailyMeasures(
  deps: ApiDeps,
  scope: AnalyticsScope,
): Promise<{ days: (MeasureRow & { day: string })[]; totals: MeasureRow }> {
  const q = scoped(deps, scope);
  const [days, totals] = await Promise.all([
    deps.pool.query<MeasureRow & { day: string }>(
      `select f.day::text as day, ${MEASURES} from ${q.from} group by f.day order by f.day`,
      q.values,
    ),
    deps.pool.query<MeasureRow>(`select ${MEASURES} from ${q.from}`, q.values),
  ]);
  return { days: days.rows, totals: totals.rows[0]! };
}

export interface HourOfWeekRow {
  day_of_week: number;
  hour: number;
  chats: number;
  first_response_median_seconds: number | null;
}

/** Every hour of the week (ISO day 1 = Monday … 7, hour 0–23, local), empty hours included: a heatmap's cells. */
export async function hourOfWeek(deps: ApiDeps, scope: AnalyticsScope): Promise<HourOfWeekRow[]> {
  const q = scoped(deps, scope);
  const { rows } = await deps.pool.query<HourOfWeekRow>(
    `with cells as (
       select extract(isodow from f.hour)::int as day_of_week, extract(hour from f.hour)::int as hour,
              count(*)::int as chats,
              percentile_cont(0.5) within group (order by f.first_response_seconds) as first_response_median_seconds
       from ${q.from}
       group by 1, 2)
     select d as day_of_week, h as hour, coalesce(c.chats, 0) as chats, c.first_response_median_seconds
     from generate_series(1, 7) d cross join generate_series(0, 23) h
     left join cells c on c.day_of_week = d and c.hour = h
     order by d, h`,
    q.values,
  );
  return rows;
}

export interface AgentRow {
  rank: number;
  agent_id: string;
  name: string | null;
  chats: number;
  first_responses: number;
  first_response_median_seconds: number | null;
  first_response_p90_seconds: number | null;
  rated_good: number;
  rated_bad: number;
  score: number | null;
  accepting_chats_seconds: number;
}

/**
 * Per agent: the threads they wrote in, the ones they answered first (and how fast), the ratings of their threads
 * and the Wilson score of those (LiveChat's Ranking report, see services/analytics), ranked by score.
 */
export async function agentMeasures(deps: ApiDeps, scope: AnalyticsScope): Promise<AgentRow[]> {
  const q = scoped(deps, scope);
  const a = deps.sql.analytics;
  const { rows } = await deps.pool.query<AgentRow>(
    `with per_agent as (
       select x.agent_id, count(*)::int as chats,
              (count(*) filter (where f.first_responder_id = x.agent_id))::int as first_responses,
              percentile_cont(0.5) within group (order by f.first_response_seconds)
                filter (where f.first_responder_id = x.agent_id) as first_response_median_seconds,
              percentile_cont(0.9) within group (order by f.first_response_seconds)
                filter (where f.first_responder_id = x.agent_id) as first_response_p90_seconds,
              (count(*) filter (where f.rating = 'good'))::int as rated_good,
              (count(*) filter (where f.rating = 'bad'))::int as rated_bad
       from ${q.from.replace(' f where ', ' f cross join lateral unnest(f.agent_ids) x(agent_id) where ')}
       group by x.agent_id)
     select (row_number() over (order by s.score desc nulls last, p.chats desc, p.agent_id))::int as rank,
            p.*, s.score,
            coalesce((select max(n.name) from ${deps.sql.transcripts}.agents n
                      where n.tenant = $1 and n.agent_id = p.agent_id), null) as name,
            coalesce((select sum(v.accepting_chats_seconds) from ${a}.agent_availability v
                      where v.tenant = $1 and v.agent_id = p.agent_id and v.day between $2::date and $3::date), 0)::float8
              as accepting_chats_seconds
     from per_agent p
     cross join lateral (select case when p.rated_good + p.rated_bad > 0
                                     then ${a}.wilson_score(p.rated_good::bigint, p.rated_bad::bigint) end as score) s
     order by rank`,
    q.values,
  );
  return rows;
}

export interface TagRow {
  tag: string;
  chats: number;
  share: number;
}

export async function tagMeasures(deps: ApiDeps, scope: AnalyticsScope): Promise<TagRow[]> {
  const q = scoped(deps, scope);
  const { rows } = await deps.pool.query<TagRow>(
    `with scoped as (select f.tags from ${q.from}),
          total as (select count(*) as n from scoped)
     select t.tag, count(*)::int as chats, (count(*)::float8 / nullif((select n from total), 0)) as share
     from scoped cross join lateral unnest(scoped.tags) t(tag)
     group by t.tag
     order by chats desc, t.tag`,
    q.values,
  );
  return rows;
}
