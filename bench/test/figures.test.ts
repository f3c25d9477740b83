import { describe, expect, it } from 'vitest';
import { exitCodeOf, renderFigureTable, verdictOf, type FigureRow } from '../lib/figures.js';
import { partitionOfKey, planStatements, streamsOf, type TableRows } from '../lib/baseline.js';
import { chainFigureRows, chainRates, privacyFigureRow, type ChainMeasurement } from '../chain/verdict.js';

const quiet = { cores: 2, loadavg: [0.5, 0.25, 0.125] };
const busy = { cores: 2, loadavg: [6.5, 4, 3.25] };

/** A run like the one issue 18 found flattering: 14,600 records/s on the topic, of which 10,950 distinct. */
function measurement(overrides: Partial<ChainMeasurement> = {}): ChainMeasurement {
  return {
    distinctEvents: 109_500,
    rawEvents: 146_000,
    seconds: 10,
    baseline: { seconds: 4, rows: 50_000, connections: 6, partitions: 6 },
    projection: { poolSize: 6, partitions: 6 },
    deadLetters: { normalizer: 0, transcripts: 0, analytics: 0 },
    targets: { eventsPerS: 20_000, ratio: 0.5 },
    ...overrides,
  };
}

const byFigure = (rows: readonly FigureRow[], prefix: string): FigureRow => {
  const row = rows.find((r) => r.figure.startsWith(prefix));
  if (row === undefined) throw new Error(`no row ${prefix}`);
  return row;
};

describe('the closing table', () => {
  it('prints figure, value, target, anchor and verdict per row, the INVALID reasons, and the load before and after', () => {
    const lines = renderFigureTable(
      [
        { figure: 'rate', value: '12', target: '>= 10', anchor: 'same run', verdict: 'MET' },
        { figure: 'ratio of something', value: '0.3x', target: '>= 0.5x', anchor: 'bare', verdict: 'MISSED' },
        {
          figure: 'p99',
          value: '9 ms',
          target: '<= 20 ms',
          anchor: 'x',
          verdict: 'INVALID',
          reason: '3 non-2xx',
        },
      ],
      quiet,
      busy,
    );
    expect(lines[0]).toBe('figure             | value | target   | anchor   | verdict');
    expect(lines[2]).toBe('rate               | 12    | >= 10    | same run | MET');
    expect(lines[3]).toBe('ratio of something | 0.3x  | >= 0.5x  | bare     | MISSED');
    expect(lines).toContain('INVALID p99: 3 non-2xx');
    expect(lines).toContain('load average (1/5/15 min) before: 0.50 / 0.25 / 0.13 on 2 cores');
    expect(lines).toContain('load average (1/5/15 min) after : 6.50 / 4.00 / 3.25 on 2 cores');
  });

  it('is INVALID whenever there is a reason, met or not, and asks for exit code 1', () => {
    expect(verdictOf(true, 'errors')).toBe('INVALID');
    expect(verdictOf(true)).toBe('MET');
    expect(verdictOf(false)).toBe('MISSED');
    const row = { figure: 'f', value: 'v', target: 't', anchor: 'a' };
    expect(
      exitCodeOf([
        { ...row, verdict: 'MET' },
        { ...row, verdict: 'MISSED' },
      ]),
    ).toBe(0);
    expect(
      exitCodeOf([
        { ...row, verdict: 'MET' },
        { ...row, verdict: 'INVALID' },
      ]),
    ).toBe(1);
  });
});

describe('the chain headline', () => {
  it('counts distinct events applied, the topic records only beside it', () => {
    const rates = chainRates(measurement());
    expect(rates.distinctPerS).toBe(10_950);
    expect(rates.rawPerS).toBe(14_600);
    // 21,000 records/s would meet 20,000; the 15,000 distinct events/s behind them do not.
    const rows = chainFigureRows(measurement({ distinctEvents: 150_000, rawEvents: 210_000 }));
    const headline = byFigure(rows, 'chain distinct events applied/s');
    expect(headline.verdict).toBe('MISSED');
    expect(headline.value).toBe('15,000 (raw 21,000)');
    expect(headline.anchor).toContain('150000 distinct ids applied of 210000 chat-events records');
  });

  it('compares with the baseline over the same distinct events', () => {
    const rows = chainFigureRows(measurement());
    // Chain 10 s, baseline 4 s for the same 109,500 events: 0.4x.
    expect(byFigure(rows, 'chain / equal-parallelism baseline')).toMatchObject({
      value: '0.400x',
      verdict: 'MISSED',
    });
    expect(byFigure(rows, 'goal')).toMatchObject({ value: 'neither', verdict: 'MISSED' });
    const faster = chainFigureRows(measurement({ seconds: 7 }));
    expect(byFigure(faster, 'chain / equal-parallelism baseline').verdict).toBe('MET');
    expect(byFigure(faster, 'goal')).toMatchObject({ value: 'ratio', verdict: 'MET' });
  });

  it('does not compare with a baseline of other parallelism than the projection', () => {
    const oneConnection = measurement({
      seconds: 7,
      baseline: { seconds: 4, rows: 50_000, connections: 1, partitions: 6 },
    });
    const rows = chainFigureRows(oneConnection);
    const ratio = byFigure(rows, 'chain / equal-parallelism baseline');
    expect(ratio.verdict).toBe('INVALID');
    expect(ratio.reason).toContain('1 connections / 6 partitions, the projection with a pool of 6');
    expect(byFigure(rows, 'goal').verdict).toBe('MISSED');
    expect(exitCodeOf(rows)).toBe(1);
  });

  it('marks every figure INVALID when anything was dead-lettered', () => {
    const rows = chainFigureRows(
      measurement({ deadLetters: { normalizer: 0, transcripts: 3, analytics: 0 }, seconds: 1 }),
    );
    expect(rows.map((r) => r.verdict)).toEqual(['INVALID', 'INVALID', 'INVALID']);
    expect(rows[0]?.reason).toContain('transcripts 3');
  });
});

describe('the equal-parallelism baseline', () => {
  const table = (name: string, rows: unknown[][], width = 3): TableRows => ({
    table: name,
    columns: Array.from({ length: width }, (_, i) => ({ name: `c${i}`, json: false })),
    rows,
  });

  it('splits the rows by tenant and chat into the partitions, each row once, a chat in one partition', () => {
    const entries = Array.from({ length: 500 }, (_, i) => [`t${i % 3}`, `chat${i % 40}`, i]);
    const chats = Array.from({ length: 40 }, (_, i) => [`t${i % 3}`, `chat${i}`, 'x']);
    const plan = planStatements([table('chats', chats), table('entries', entries)], 7, 6);
    expect(plan).toHaveLength(6);
    const written = plan.flatMap((statements) => statements.flatMap((s) => s.rows));
    expect(written).toHaveLength(540);
    expect(new Set(written).size).toBe(540);
    plan.forEach((statements, p) => {
      for (const s of statements) {
        expect(s.rows.length).toBeLessThanOrEqual(7);
        for (const row of s.rows) expect(partitionOfKey(`${String(row[0])}|${String(row[1])}`, 6)).toBe(p);
      }
    });
    expect(plan.filter((statements) => statements.length > 0).length).toBeGreaterThan(3);
  });

  it('keeps a statement within 65,535 parameters', () => {
    const wide = table(
      'wide',
      Array.from({ length: 3000 }, (_, i) => ['t', `c${i}`]),
      40,
    );
    const plan = planStatements([wide], 10_000, 1);
    expect(Math.max(...plan[0]!.map((s) => s.rows.length * 40))).toBeLessThanOrEqual(65_535);
  });

  it("writes the partitions over as many connections as the projection's pool", () => {
    expect(streamsOf({ connections: 6, partitions: 6 })).toEqual([[0], [1], [2], [3], [4], [5]]);
    expect(streamsOf({ connections: 3, partitions: 6 })).toEqual([
      [0, 3],
      [1, 4],
      [2, 5],
    ]);
    expect(streamsOf({ connections: 6, partitions: 2 })).toEqual([[0], [1]]);
  });
});

describe('encryption on / off (issue 19)', () => {
  const off = { distinctEvents: 10_000, seconds: 10, deadLetters: 0 };
  it('is MET at 0.9x of the rate with encryption off or better, MISSED below, with both rates in the anchor', () => {
    const met = privacyFigureRow(off, { ...off, seconds: 11 }, 0.9);
    expect(met).toMatchObject({
      figure: 'chain with encryption on / off',
      value: '0.909x',
      target: '>= 0.9x',
      verdict: 'MET',
    });
    expect(met.anchor).toContain('on 909 distinct events/s');
    expect(met.anchor).toContain('off 1,000');
    expect(privacyFigureRow(off, { ...off, seconds: 11.2 }, 0.9).verdict).toBe('MISSED');
  });
  it('is INVALID when a run dead-lettered anything or the runs did not apply the same events', () => {
    const dead = privacyFigureRow(off, { ...off, deadLetters: 3 }, 0.9);
    expect(dead).toMatchObject({ verdict: 'INVALID' });
    expect(dead.reason).toContain('dead letters (off 0, on 3)');
    const unequal = privacyFigureRow(off, { ...off, distinctEvents: 9_000, seconds: 5 }, 0.9);
    expect(unequal.verdict).toBe('INVALID');
    expect(unequal.reason).toContain('different numbers of distinct events');
    const unsealed = privacyFigureRow(off, off, 0.9, { read: 500, sealed: 0 });
    expect(unsealed.verdict).toBe('INVALID');
    expect(unsealed.reason).toContain('no sealed chat event (0 of the first 500 records)');
  });
});
