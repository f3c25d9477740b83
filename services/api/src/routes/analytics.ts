import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { ApiDeps } from '../deps.js';
import { ApiError } from '../errors.js';
import { sendCsv, wantsCsv } from '../http/csv.js';
import { defineRoute } from '../http/route.js';
import {
  agentMeasures,
  dailyMeasures,
  hourOfWeek,
  tagMeasures,
  tenantTimeZone,
  tenantToday,
  type AnalyticsScope,
} from '../queries/analytics.js';

/** Longest period one call may cover. */
const MAX_DAYS = 366;
const DEFAULT_DAYS = 30;

const localDate = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, 'must be a date, YYYY-MM-DD')
  .refine(
    (v) =>
      !Number.isNaN(Date.parse(`${v}T00:00:00Z`)) && new Date(`${v}T00:00:00Z`).toISOString().startsWith(v),
    'must be a real date',
  )
  .meta({ format: 'date' });

const analyticsQuery = z.object({
  from: localDate
    .optional()
    .describe(
      `First day (RFC 3339 full-date, the tenant's local day); default ${DEFAULT_DAYS - 1} days before \`to\``,
    ),
  to: localDate.optional().describe("Last day, inclusive; default today in the tenant's time zone"),
  group: z
    .number()
    .int()
    .min(0)
    .max(9_007_199_254_740_991)
    .optional()
    .describe('Only threads in this group id'),
});

const num = z.number().nullable();
const measures = {
  chats: z
    .number()
    .int()
    .describe('Threads started (each thread of a chat counts, as in the analytics views)'),
  chats_with_reply: z.number().int(),
  first_response_median_seconds: num,
  first_response_p90_seconds: num,
  first_response_avg_seconds: num,
  duration_median_seconds: num,
  duration_avg_seconds: num,
  rated_good: z.number().int(),
  rated_bad: z.number().int(),
  good_share: num.describe('rated_good / (rated_good + rated_bad)'),
  queued: z.number().int(),
  left_queue: z.number().int().describe('Queued threads closed before an agent took them (abandoned)'),
  abandonment_rate: num.describe('left_queue / queued'),
  queue_wait_median_seconds: num,
  queue_wait_p90_seconds: num,
};
const day = z.string().meta({ format: 'date' });
const period = {
  from: day.describe('First day'),
  to: day.describe('Last day (inclusive)'),
  time_zone: z.string().describe("The tenant's time zone (days and hours are local)"),
  group: z.number().int().nullable(),
};

const dailyAnswer = z.object({
  ...period,
  days: z.array(z.object({ day, ...measures })).describe('Days with at least one thread'),
  totals: z.object(measures),
});
const hourlyAnswer = z.object({
  ...period,
  hours: z
    .array(
      z.object({
        day_of_week: z.number().int().describe('ISO: 1 = Monday … 7 = Sunday'),
        hour: z.number().int().describe('0–23, local'),
        chats: z.number().int(),
        first_response_median_seconds: num,
      }),
    )
    .describe('All 168 hours of the week, empty ones included'),
});
const agentsAnswer = z.object({
  ...period,
  agents: z.array(
    z.object({
      rank: z.number().int().describe('By score, then chats'),
      agent_id: z.string(),
      name: z.string().nullable(),
      chats: z.number().int().describe('Threads the agent wrote in'),
      first_responses: z.number().int(),
      first_response_median_seconds: num,
      first_response_p90_seconds: num,
      rated_good: z.number().int(),
      rated_bad: z.number().int(),
      score: num.describe("Wilson score of the ratings (LiveChat's Ranking report); null when none"),
      accepting_chats_seconds: z.number().describe('Time in the accepting-chats status (all groups)'),
    }),
  ),
});
const tagsAnswer = z.object({
  ...period,
  tags: z.array(
    z.object({
      tag: z.string(),
      chats: z.number().int(),
      share: z.number().describe('Of the threads in the period'),
    }),
  ),
});

async function resolveScope(
  deps: ApiDeps,
  tenant: string,
  query: z.output<typeof analyticsQuery>,
): Promise<AnalyticsScope & { time_zone: string }> {
  const to = query.to ?? (await tenantToday(deps, tenant));
  const toMs = Date.parse(`${to}T00:00:00Z`);
  const from = query.from ?? new Date(toMs - (DEFAULT_DAYS - 1) * 86_400_000).toISOString().slice(0, 10);
  const days = (toMs - Date.parse(`${from}T00:00:00Z`)) / 86_400_000 + 1;
  if (days < 1) throw new ApiError('API_BAD_PARAMETER', 'from must not be after to');
  if (days > MAX_DAYS)
    throw new ApiError('API_BAD_PARAMETER', `from..to spans ${days} days; at most ${MAX_DAYS}`);
  return { tenant, from, to, group: query.group, time_zone: await tenantTimeZone(deps, tenant) };
}

const periodBody = (scope: AnalyticsScope & { time_zone: string }) => ({
  from: scope.from,
  to: scope.to,
  time_zone: scope.time_zone,
  group: scope.group ?? null,
});

/** Tabular answers also come as CSV (small: bounded by the period), columns as in the JSON rows. */
function csvColumns<Row extends object>(item: z.ZodObject): { name: string; value: (row: Row) => unknown }[] {
  return Object.keys(item.shape).map((name) => ({ name, value: (row: Row) => row[name as keyof Row] }));
}

async function* once<T>(rows: readonly T[]): AsyncGenerator<readonly T[]> {
  yield rows;
}

export function registerAnalyticsRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const common = { tag: 'analytics', query: analyticsQuery, csv: true } as const;

  defineRoute(
    app,
    deps,
    {
      ...common,
      url: '/v1/analytics/daily',
      operationId: 'analyticsDaily',
      summary: 'Per day: chats, first response, duration, ratings, queues',
      description:
        'Per local day of the period and in total: threads started, first response time (median, p90, mean), duration, ' +
        'ratings (good, bad, share), queued threads, abandonment and queue waits. Over analytics.thread_facts.',
      response: dailyAnswer,
    },
    async (request, reply, { query }) => {
      const scope = await resolveScope(deps, request.principal.tenant, query);
      const { days, totals } = await dailyMeasures(deps, scope);
      if (wantsCsv(request, true))
        return sendCsv(reply, 'daily.csv', csvColumns(dailyAnswer.shape.days.element), once(days));
      return { ...periodBody(scope), days, totals };
    },
  );

  defineRoute(
    app,
    deps,
    {
      ...common,
      url: '/v1/analytics/hourly',
      operationId: 'analyticsHourly',
      summary: 'Per hour of the week: chats and first response',
      description:
        'Threads started in each local hour of the week over the period (a heatmap), with the median first response.',
      response: hourlyAnswer,
    },
    async (request, reply, { query }) => {
      const scope = await resolveScope(deps, request.principal.tenant, query);
      const hours = await hourOfWeek(deps, scope);
      if (wantsCsv(request, true))
        return sendCsv(reply, 'hourly.csv', csvColumns(hourlyAnswer.shape.hours.element), once(hours));
      return { ...periodBody(scope), hours };
    },
  );

  defineRoute(
    app,
    deps,
    {
      ...common,
      url: '/v1/analytics/agents',
      operationId: 'analyticsAgents',
      summary: 'Agents ranked: chats, first responses, ratings, score',
      description:
        'Per agent over the period: threads written in, first responses and their median/p90 time, ratings and their ' +
        'Wilson score (the ranking), and time accepting chats.',
      response: agentsAnswer,
    },
    async (request, reply, { query }) => {
      const scope = await resolveScope(deps, request.principal.tenant, query);
      const agents = await agentMeasures(deps, scope);
      if (wantsCsv(request, true))
        return sendCsv(reply, 'agents.csv', csvColumns(agentsAnswer.shape.agents.element), once(agents));
      return { ...periodBody(scope), agents };
    },
  );

  defineRoute(
    app,
    deps,
    {
      ...common,
      url: '/v1/analytics/tags',
      operationId: 'analyticsTags',
      summary: 'Tags: threads per tag',
      description:
        'Threads of the period per tag, most used first, with their share of all threads of the period.',
      response: tagsAnswer,
    },
    async (request, reply, { query }) => {
      const scope = await resolveScope(deps, request.principal.tenant, query);
      const tags = await tagMeasures(deps, scope);
      if (wantsCsv(request, true))
        return sendCsv(reply, 'tags.csv', csvColumns(tagsAnswer.shape.tags.element), once(tags));
      return { ...periodBody(scope), tags };
    },
  );
}
