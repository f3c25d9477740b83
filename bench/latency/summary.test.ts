import { describe, expect, it } from 'vitest';
import { exitCodeOf } from '../lib/figures.js';
import {
  achievedRate,
  latencyFigureRows,
  latencyWithMissing,
  percentile,
  type LatencyMeasurement,
} from './summary.js';

function measurement(overrides: Partial<LatencyMeasurement> = {}): LatencyMeasurement {
  return {
    targetRate: 1000,
    durationS: 60,
    sent: 60_000,
    sendSeconds: 60,
    connections: 40,
    non2xx: 0,
    errors: 0,
    unanswered: 0,
    visibleMs: Array.from({ length: 1000 }, (_, i) => i + 1), // 1 … 1000 ms
    missing: 0,
    deadlineMs: 30_000,
    targetP99Ms: 1000,
    ...overrides,
  };
}

const verdicts = (m: LatencyMeasurement): string[] => latencyFigureRows(m).map((r) => r.verdict);

describe('the latency figures', () => {
  it('takes nearest-rank percentiles', () => {
    const sorted = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(sorted, 50)).toBe(50);
    expect(percentile(sorted, 99)).toBe(99);
    expect(percentile(sorted, 100)).toBe(100);
    expect(percentile([], 99)).toBeNaN();
  });

  it('meets the goal when the rate is held and p99 is within 1 s', () => {
    expect(verdicts(measurement())).toEqual(['MET', 'MET', 'MET']);
    expect(exitCodeOf(latencyFigureRows(measurement()))).toBe(0);
  });

  it('counts a missing row as the deadline, so a few missing push p99 past the goal', () => {
    const m = measurement({ missing: 20 });
    expect(latencyWithMissing(m).p99).toBe(30_000);
    expect(latencyWithMissing(m).count).toBe(1020);
    expect(verdicts(m)).toEqual(['MET', 'MISSED', 'MISSED']);
  });

  it('misses the rate when sending took longer than the duration (a backlog or a lagging pacer)', () => {
    const m = measurement({ sendSeconds: 75 });
    expect(achievedRate(m)).toBe(800);
    expect(verdicts(m)[0]).toBe('MISSED');
  });

  it('holds the rate when the window ran a few ms past the duration, and misses it beyond 1 %', () => {
    expect(verdicts(measurement({ sendSeconds: 60.05 }))[0]).toBe('MET');
    expect(verdicts(measurement({ sendSeconds: 60.7 }))[0]).toBe('MISSED');
  });

  it('is INVALID, with the reason, when any answer was not a 2xx or a request was lost or unanswered', () => {
    for (const bad of [{ non2xx: 1 }, { errors: 1 }, { unanswered: 1 }]) {
      const rows = latencyFigureRows(measurement(bad));
      expect(rows.every((r) => r.verdict === 'INVALID')).toBe(true);
      expect(rows[0]?.reason).toMatch(/non-2xx/);
      expect(exitCodeOf(rows)).toBe(1);
    }
  });

  it('is INVALID when a service exited during the run', () => {
    expect(latencyFigureRows(measurement({ crashed: 'normalizer (1)' }))[0]?.reason).toMatch(/normalizer/);
  });
});
