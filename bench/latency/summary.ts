/**
 * The latency benchmark's figures (pure): percentiles of 200 -> visible with missing rows counted as the deadline,
 * the achieved send rate, the per-stage split, and the closing table's rows (bench/lib/figures.ts renders them).
 */
import { verdictOf, type FigureRow } from '../lib/figures.js';
import { fmt, rate } from '../lib/report.js';

/** Nearest-rank percentile of ascending-sorted values (NaN when empty). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))] ?? Number.NaN;
}

export interface Distribution {
  readonly count: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
  readonly mean: number;
}

export function distribution(values: readonly number[]): Distribution {
  const sorted = [...values].sort((a, b) => a - b);
  const mean = sorted.reduce((a, b) => a + b, 0) / Math.max(1, sorted.length);
  return {
    count: sorted.length,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: sorted[sorted.length - 1] ?? Number.NaN,
    mean: sorted.length === 0 ? Number.NaN : mean,
  };
}

export const describeMs = (d: Distribution): string =>
  `p50 ${fmt(d.p50, 0)} ms, p90 ${fmt(d.p90, 0)} ms, p99 ${fmt(d.p99, 0)} ms, max ${fmt(d.max, 0)} ms (n=${d.count})`;

export interface LatencyMeasurement {
  readonly targetRate: number;
  readonly durationS: number;
  /** Requests of the measured window and the time their sending took (s). */
  readonly sent: number;
  readonly sendSeconds: number;
  readonly connections: number;
  /** Answers of the whole run (warm-up included): any non-2xx, lost or unanswered request makes it INVALID. */
  readonly non2xx: number;
  readonly errors: number;
  readonly unanswered: number;
  /** 200 -> visible (ms) of the measured webhooks that became visible. */
  readonly visibleMs: readonly number[];
  readonly missing: number;
  readonly deadlineMs: number;
  readonly targetP99Ms: number;
  /** A service that exited during the run. */
  readonly crashed?: string;
}

/** The achieved send rate: on-time sending gives exactly the target, a lagging pacer or a backlog less. */
export const achievedRate = (m: LatencyMeasurement): number => m.sent / Math.max(m.durationS, m.sendSeconds);

/**
 * The pacer's timer tick and the last request's scheduling leave the send window a few ms past the duration even
 * when no webhook was late (2000 webhooks in 10.003 s is 199.94/s): a rate within 1 % of the target is held.
 */
export const RATE_TOLERANCE = 0.01;

/** 200 -> visible with every missing row counted at the deadline. */
export const latencyWithMissing = (m: LatencyMeasurement): Distribution =>
  distribution([...m.visibleMs, ...Array.from({ length: m.missing }, () => m.deadlineMs)]);

function invalidReason(m: LatencyMeasurement): string | undefined {
  if (m.crashed !== undefined) return `${m.crashed} exited during the run`;
  if (m.non2xx + m.errors + m.unanswered > 0)
    return `${m.non2xx} non-2xx answers, ${m.errors} requests lost with their connection, ${m.unanswered} unanswered`;
  if (m.visibleMs.length + m.missing === 0) return 'no measured webhook in the window';
  return undefined;
}

export function latencyFigureRows(m: LatencyMeasurement): FigureRow[] {
  const invalid = invalidReason(m);
  const achieved = achievedRate(m);
  const d = latencyWithMissing(m);
  const measured = d.count;
  const reason = invalid === undefined ? {} : { reason: invalid };
  const anchor = `${measured} measured webhooks (first deliveries of v3 messages) of ${m.sent} sent; ${m.missing} missing, counted as ${fmt(m.deadlineMs / 1000, 0)} s`;
  return [
    {
      figure: 'send rate (webhooks/s)',
      value: rate(achieved),
      target: `>= ${rate(m.targetRate)} (within 1 %)`,
      anchor: `${m.sent} webhooks in ${fmt(m.sendSeconds, 2)} s (paced for ${fmt(m.durationS, 0)} s, up to ${m.connections} keep-alive connections)`,
      verdict: verdictOf(achieved >= m.targetRate * (1 - RATE_TOLERANCE), invalid),
      ...reason,
    },
    {
      figure: '200 -> visible in chat_transcript p99',
      value: `${fmt(d.p99, 0)} ms`,
      target: `<= ${fmt(m.targetP99Ms, 0)} ms`,
      anchor,
      verdict: verdictOf(d.p99 <= m.targetP99Ms, invalid),
      ...reason,
    },
    {
      figure: '200 -> visible p50 / p90 / max',
      value: `${fmt(d.p50, 0)} / ${fmt(d.p90, 0)} / ${fmt(d.max, 0)} ms`,
      target: `max <= ${fmt(m.deadlineMs / 1000, 0)} s (none missing)`,
      anchor: `issue 18 item 5 asks p50 and max printed; mean ${fmt(d.mean, 0)} ms`,
      verdict: verdictOf(m.missing === 0, invalid),
      ...reason,
    },
  ];
}
