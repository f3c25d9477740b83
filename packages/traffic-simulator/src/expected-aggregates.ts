import type { ExpectedThreadFacts } from './expected-report.js';

/**
 * The report aggregates (services/analytics views `daily`, `hourly`, `agent_daily`, `tag_daily`) recomputed in
 * TypeScript from per-thread facts (the simulator's expectations), to check the views against sums computed
 * independently of their SQL. Days and hours are UTC here (the tests' tenants
 * have no time zone configured unless a test says otherwise, and then passes `dayOf`).
 */
export interface DailyRow {
  tenant: string;
  day: string;
  group_id: number | null;
  chats: number;
  chats_with_reply: number;
  avg_first_response_seconds: number | null;
  p90_first_response_seconds: number | null;
  avg_duration_seconds: number | null;
  rated_good: number;
  rated_bad: number;
  queued: number;
  left_queue: number;
}

export interface AgentDailyRow {
  tenant: string;
  day: string;
  agent_id: string;
  chats: number;
  first_responses: number;
  avg_first_response_seconds: number | null;
  rated_good: number;
  rated_bad: number;
}

export interface TagDailyRow {
  tenant: string;
  day: string;
  tag: string;
  chats: number;
}

const utcDay = (micros: number) => new Date(Math.floor(micros / 1000)).toISOString().slice(0, 10);
const utcHour = (micros: number) => `${new Date(Math.floor(micros / 1000)).toISOString().slice(0, 13)}:00:00`;

const avg = (xs: readonly number[]) => (xs.length === 0 ? null : xs.reduce((a, b) => a + b, 0) / xs.length);

/** Postgres' percentile_cont: linear interpolation between the closest ranks. */
export function percentileCont(xs: readonly number[], p: number): number | null {
  if (xs.length === 0) return null;
  const sorted = [...xs].sort((a, b) => a - b);
  const rank = p * (sorted.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (rank - lo);
}

function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const item of items) out.set(key(item), [...(out.get(key(item)) ?? []), item]);
  return out;
}

function periodRows(
  facts: readonly ExpectedThreadFacts[],
  periodOf: (micros: number) => string,
): (Omit<DailyRow, 'day'> & { period: string })[] {
  const perGroup = facts.flatMap((f) =>
    (f.groupIds.length === 0 ? [null] : f.groupIds).map((group) => ({ f, group })),
  );
  return [
    ...groupBy(perGroup, ({ f, group }) => `${f.tenant}|${periodOf(f.startedAtMicros)}|${group}`).values(),
  ].map((rows) => {
    const threads = rows.map((r) => r.f);
    const frts = threads.flatMap((f) => (f.firstResponseSeconds === null ? [] : [f.firstResponseSeconds]));
    return {
      tenant: threads[0]!.tenant,
      period: periodOf(threads[0]!.startedAtMicros),
      group_id: rows[0]!.group,
      chats: threads.length,
      chats_with_reply: frts.length,
      avg_first_response_seconds: avg(frts),
      p90_first_response_seconds: percentileCont(frts, 0.9),
      avg_duration_seconds: avg(threads.map((f) => f.durationSeconds)),
      rated_good: threads.filter((f) => f.rating === 'good').length,
      rated_bad: threads.filter((f) => f.rating === 'bad').length,
      queued: threads.filter((f) => f.queued).length,
      left_queue: threads.filter((f) => f.leftQueue).length,
    };
  });
}

export function expectedDaily(facts: readonly ExpectedThreadFacts[], dayOf = utcDay): DailyRow[] {
  return periodRows(facts, dayOf).map(({ period, ...row }) => ({ ...row, day: period }));
}

export function expectedHourly(facts: readonly ExpectedThreadFacts[], hourOf = utcHour) {
  return periodRows(facts, hourOf).map(({ period, ...row }) => ({ ...row, hour: period }));
}

export function expectedAgentDaily(facts: readonly ExpectedThreadFacts[], dayOf = utcDay): AgentDailyRow[] {
  const perAgent = facts.flatMap((f) => f.agentIds.map((agent) => ({ f, agent })));
  return [
    ...groupBy(perAgent, ({ f, agent }) => `${f.tenant}|${dayOf(f.startedAtMicros)}|${agent}`).values(),
  ].map((rows) => {
    const agent = rows[0]!.agent;
    const threads = rows.map((r) => r.f);
    const answered = threads.filter((f) => f.firstResponderId === agent);
    return {
      tenant: threads[0]!.tenant,
      day: dayOf(threads[0]!.startedAtMicros),
      agent_id: agent,
      chats: threads.length,
      first_responses: answered.length,
      avg_first_response_seconds: avg(answered.map((f) => f.firstResponseSeconds!)),
      rated_good: threads.filter((f) => f.rating === 'good').length,
      rated_bad: threads.filter((f) => f.rating === 'bad').length,
    };
  });
}

export function expectedTagDaily(facts: readonly ExpectedThreadFacts[], dayOf = utcDay): TagDailyRow[] {
  const perTag = facts.flatMap((f) => f.tags.map((tag) => ({ f, tag })));
  return [...groupBy(perTag, ({ f, tag }) => `${f.tenant}|${dayOf(f.startedAtMicros)}|${tag}`).values()].map(
    (rows) => ({
      tenant: rows[0]!.f.tenant,
      day: dayOf(rows[0]!.f.startedAtMicros),
      tag: rows[0]!.tag,
      chats: rows.length,
    }),
  );
}

/** LiveChat's ranking score: the Wilson score lower bound at z = 2.69 (13 good / 6 bad → 0.423267, 36 / 174 → 0.114734). */
export function wilsonScore(good: number, bad: number): number | null {
  const n = good + bad;
  if (n === 0) return null;
  const z = 2.69;
  const p = good / n;
  return (
    (p + (z * z) / (2 * n) - z * Math.sqrt((p * (1 - p) + (z * z) / (4 * n * n)) / n)) / (1 + (z * z) / n)
  );
}

/** Sorts rows by their JSON with sorted keys, so two lists compare regardless of row and key order. */
export function sortRows<T extends object>(rows: readonly T[]): T[] {
  const text = (row: T) => JSON.stringify(Object.entries(row).sort(([a], [b]) => a.localeCompare(b)));
  return [...rows].sort((a, b) => (text(a) < text(b) ? -1 : text(a) > text(b) ? 1 : 0));
}

/** Rounds every number of every row (float sums differ in the last bits between SQL and JS). */
export function rounded<T extends object>(rows: readonly T[], digits = 6): T[] {
  return rows.map(
    (row) =>
      Object.fromEntries(
        Object.entries(row).map(([k, v]) => [
          k,
          typeof v === 'number' && !Number.isInteger(v) ? Number(v.toFixed(digits)) : v,
        ]),
      ) as T,
  );
}
