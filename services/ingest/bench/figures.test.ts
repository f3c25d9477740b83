import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  NPM_START_NODE_FLAGS,
  benchIngestEnv,
  configDifferences,
  exitCodeOf,
  ingestFigureRows,
  percentile,
  privacyFigureRow,
  renderFigureTable,
  summarizeRun,
  type IngestMeasurement,
  type RunSummary,
} from './figures.js';

const DEADLINE = 10_000;
const ms = (n: number, value: number): number[] => Array.from({ length: n }, () => value);
const clean = (rps: number, p99 = 5): RunSummary =>
  summarizeRun(
    { okLatenciesMs: [...ms(98, 1), ...ms(2, p99)], non2xx: 0, errors: 0, timeouts: 0, seconds: 100 / rps },
    DEADLINE,
  );

function measurement(overrides: Partial<IngestMeasurement> = {}): IngestMeasurement {
  return {
    bare: clean(20_000),
    peak: clean(9_000),
    half: clean(4_500, 12),
    halfRate: 4_500,
    peakRssMb: 140,
    deadlineMs: DEADLINE,
    configDifferences: [],
    targets: { ratio: 0.5, p99Ms: 20, rssMb: 150 },
    ...overrides,
  };
}

describe('a load run', () => {
  it('counts errors and timeouts at the deadline in the percentiles, never leaves them out', () => {
    // 98 answers in 1 ms, one connection error, one timeout: left out, p99 would be 1 ms.
    const run = summarizeRun(
      { okLatenciesMs: ms(98, 1), non2xx: 0, errors: 1, timeouts: 1, seconds: 1 },
      DEADLINE,
    );
    expect(run.p99).toBe(DEADLINE);
    expect(run.p50).toBe(1);
    expect(run.failed).toBe(2);
    expect(run.max).toBe(DEADLINE);
  });

  it('counts a non-2xx answer as a failure: at the deadline, and not in the rate', () => {
    const run = summarizeRun(
      { okLatenciesMs: ms(98, 2), non2xx: 50, errors: 0, timeouts: 0, seconds: 2 },
      DEADLINE,
    );
    expect(run.rps).toBe(49);
    expect(run.ok).toBe(98);
    expect(run.p99).toBe(DEADLINE);
  });

  it('keeps the answered latencies when failures stay under 1 %', () => {
    const run = summarizeRun(
      { okLatenciesMs: [...ms(980, 3), ...ms(19, 15)], non2xx: 0, errors: 1, timeouts: 0, seconds: 1 },
      DEADLINE,
    );
    expect(run.p99).toBe(15);
    expect(run.max).toBe(DEADLINE);
  });

  it('takes nearest-rank percentiles', () => {
    expect(percentile([1, 2, 3, 4], 0.5)).toBe(2);
    expect(percentile([1, 2, 3, 4], 0.99)).toBe(4);
    expect(percentile([], 0.5)).toBeNaN();
  });
});

describe('the ingest figures', () => {
  it('compares 2xx rates and gives MET or MISSED on a clean run', () => {
    const rows = ingestFigureRows(measurement());
    expect(rows.map((r) => [r.figure, r.value, r.verdict])).toEqual([
      ['ingest / bare fastify (2xx req/s)', '0.45x', 'MISSED'],
      ['ingest p99 at half its peak', '12.0 ms', 'MET'],
      ['ingest peak RSS', '140.0 MB', 'MET'],
    ]);
    expect(exitCodeOf(rows)).toBe(0);
  });

  it('marks the ratio INVALID when a peak run had a non-2xx or an error, and asks for exit code 1', () => {
    const peak = summarizeRun(
      { okLatenciesMs: ms(10_000, 1), non2xx: 1, errors: 0, timeouts: 0, seconds: 1 },
      DEADLINE,
    );
    const rows = ingestFigureRows(measurement({ peak }));
    expect(rows[0]).toMatchObject({ verdict: 'INVALID' });
    expect(rows[0]?.reason).toContain('ingest: 1 non-2xx, 0 errors, 0 timeouts');
    expect(exitCodeOf(rows)).toBe(1);
    const bare = summarizeRun(
      { okLatenciesMs: ms(10_000, 1), non2xx: 0, errors: 0, timeouts: 2, seconds: 1 },
      DEADLINE,
    );
    expect(ingestFigureRows(measurement({ bare }))[0]?.verdict).toBe('INVALID');
  });

  it('misses the p99 target when failures at half rate push it to the deadline', () => {
    const half = summarizeRun(
      { okLatenciesMs: ms(97, 2), non2xx: 0, errors: 3, timeouts: 0, seconds: 1 },
      DEADLINE,
    );
    const row = ingestFigureRows(measurement({ half }))[1];
    expect(row).toMatchObject({ value: '10000.0 ms', verdict: 'MISSED' });
    expect(row?.anchor).toContain('3 failed counted at 10000 ms');
  });

  it('marks every figure INVALID when the ingest did not run with the configuration npm start uses', () => {
    const rows = ingestFigureRows(
      measurement({ configDifferences: ['INGEST_PRODUCERS=2 (BENCH_PRODUCERS)'] }),
    );
    expect(rows.map((r) => r.verdict)).toEqual(['INVALID', 'INVALID', 'INVALID']);
    expect(rows[2]?.reason).toContain('INGEST_PRODUCERS=2');
  });

  it('prints one table with the verdicts, the INVALID reasons and the load before and after', () => {
    const rows = ingestFigureRows(
      measurement({
        peak: summarizeRun(
          { okLatenciesMs: ms(10, 1), non2xx: 0, errors: 1, timeouts: 0, seconds: 1 },
          DEADLINE,
        ),
      }),
    );
    const lines = renderFigureTable(rows, { cores: 2, loadavg: [1, 2, 3] }, { cores: 2, loadavg: [4, 5, 6] });
    expect(lines[0]).toMatch(/^figure +\| value +\| target +\| anchor +\| verdict$/);
    expect(lines.some((l) => /^ingest \/ bare fastify \(2xx req\/s\) \|.*\| INVALID$/.test(l))).toBe(true);
    expect(lines).toContain(
      'INVALID ingest / bare fastify (2xx req/s): failed requests in the peak runs (bare: 0 non-2xx, 0 errors, 0 timeouts; ingest: 0 non-2xx, 1 errors, 0 timeouts)',
    );
    expect(lines.slice(-2)).toEqual([
      'load average (1/5/15 min) before: 1.00 / 2.00 / 3.00 on 2 cores',
      'load average (1/5/15 min) after : 4.00 / 5.00 / 6.00 on 2 cores',
    ]);
  });
});

describe("the ingest's configuration in the benchmark", () => {
  it("logs at the default level (info): no INGEST_LOG_LEVEL, neither the shell's nor a quieter one of its own", () => {
    const env = benchIngestEnv(
      { INGEST_LOG_LEVEL: 'warn', KAFKA_BROKERS: 'k:1' },
      { INGEST_PORT: '1234', INGEST_SPOOL_DIR: '/tmp/s' },
    );
    expect(env['INGEST_LOG_LEVEL']).toBeUndefined();
    expect(env).toMatchObject({ KAFKA_BROKERS: 'k:1', INGEST_PORT: '1234', INGEST_SPOOL_DIR: '/tmp/s' });
    expect(benchIngestEnv({}, { INGEST_LOG_LEVEL: 'warn' })['INGEST_LOG_LEVEL']).toBeUndefined();
  });

  it("uses npm start's node flags for the ingest (scripts/main.ts) and names every knob that departs from them", () => {
    const main = readFileSync(new URL('../../../scripts/main.ts', import.meta.url), 'utf8');
    const flags = /ingest: \[([^\]]*)\]/.exec(main)?.[1];
    expect(flags?.split(',').map((f) => f.trim().replace(/^'|'$/g, ''))).toEqual([...NPM_START_NODE_FLAGS]);
    expect(configDifferences({ nodeFlags: NPM_START_NODE_FLAGS })).toEqual([]);
    expect(configDifferences({ producers: '2', lingerMs: '5', nodeFlags: [], cpuProfDir: '/tmp/p' })).toEqual(
      [
        'INGEST_PRODUCERS=2 (BENCH_PRODUCERS)',
        'INGEST_BATCH_LINGER_MS=5 (BENCH_LINGER_MS)',
        'node flags "" (BENCH_NODE_FLAGS)',
        'CPU profiler on (BENCH_CPU_PROF_DIR)',
      ],
    );
  });
});

describe('encryption on / off (issue 19)', () => {
  it('is MET at 0.9x of the peak with encryption off or better, MISSED below, with both rates in the anchor', () => {
    const met = privacyFigureRow(clean(10_000), clean(9_000), 0.9);
    expect(met).toMatchObject({ value: '0.90x', target: '>= 0.9x', verdict: 'MET' });
    expect(met.anchor).toContain('on 9000 / off 10000 2xx req/s');
    expect(privacyFigureRow(clean(10_000), clean(8_900), 0.9).verdict).toBe('MISSED');
  });
  it('is INVALID with failed requests in either run or a configuration that is not npm start’s', () => {
    const failed = summarizeRun(
      { okLatenciesMs: ms(99, 1), non2xx: 1, errors: 0, timeouts: 0, seconds: 0.01 },
      DEADLINE,
    );
    const row = privacyFigureRow(clean(10_000), failed, 0.9);
    expect(row.verdict).toBe('INVALID');
    expect(row.reason).toContain('on: 1 non-2xx');
    expect(privacyFigureRow(clean(10_000), clean(9_500), 0.9, ['INGEST_PRODUCERS=2']).verdict).toBe(
      'INVALID',
    );
  });
});
