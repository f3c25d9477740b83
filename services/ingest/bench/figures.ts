/**
 * The ingest benchmark's figures and verdicts, and its closing table: one row per figure with its value, its
 * target, what it is measured against (the anchor) and a verdict, then the machine's load before and after the run.
 * Pure apart from `machineLoad()`. (bench/lib/figures.ts has the same table for the chain benchmark: a service
 * cannot import that folder.)
 */
import os from 'node:os';

/** INVALID: the run did not measure what the figure claims (failed requests, dead letters…); see `reason`. */
export type Verdict = 'MET' | 'MISSED' | 'INVALID';

export interface FigureRow {
  readonly figure: string;
  readonly value: string;
  readonly target: string;
  /** What the value is measured against or over, so a reader can check it. */
  readonly anchor: string;
  readonly verdict: Verdict;
  /** Why the verdict is INVALID (printed under the table). */
  readonly reason?: string;
}

/** INVALID whenever a reason is given, whatever the value; otherwise MET or MISSED. */
export function verdictOf(met: boolean, invalidBecause?: string): Verdict {
  if (invalidBecause !== undefined) return 'INVALID';
  return met ? 'MET' : 'MISSED';
}

export interface MachineLoad {
  readonly cores: number;
  /** 1, 5 and 15 minute load averages. */
  readonly loadavg: readonly number[];
}

export function machineLoad(): MachineLoad {
  return { cores: os.cpus().length, loadavg: os.loadavg() };
}

const describeLoad = (load: MachineLoad): string =>
  `${load.loadavg.map((l) => l.toFixed(2)).join(' / ')} on ${load.cores} cores`;

/** The table as lines (columns padded to the widest cell), the INVALID reasons, then the load lines. */
export function renderFigureTable(
  rows: readonly FigureRow[],
  before: MachineLoad,
  after: MachineLoad,
): string[] {
  const header = ['figure', 'value', 'target', 'anchor', 'verdict'] as const;
  const cells = rows.map((r) => [r.figure, r.value, r.target, r.anchor, r.verdict]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]?.length ?? 0)));
  const line = (c: readonly string[]): string =>
    c
      .map((cell, i) => (i === c.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join(' | ')
      .trimEnd();
  const out = [line(header), widths.map((w) => '-'.repeat(w)).join('-|-'), ...cells.map(line)];
  for (const r of rows)
    if (r.verdict === 'INVALID') out.push(`INVALID ${r.figure}: ${r.reason ?? 'no reason given'}`);
  out.push(`load average (1/5/15 min) before: ${describeLoad(before)}`);
  out.push(`load average (1/5/15 min) after : ${describeLoad(after)}`);
  return out;
}

/** The process exit code a table asks for: 1 when any figure is INVALID. */
export const exitCodeOf = (rows: readonly FigureRow[]): number =>
  rows.some((r) => r.verdict === 'INVALID') ? 1 : 0;

/** The ingest's node flags under `npm start` (scripts/main.ts `nodeFlags`): young generation capped, for peak RSS. */
export const NPM_START_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=4'];

/**
 * The ingest's environment in the benchmark: the shell's, then the bench's own settings (ports, spool directory,
 * secret, topic), without INGEST_LOG_LEVEL: the ingest logs at npm start's default, info (its per-webhook line is
 * part of the cost users pay).
 */
export function benchIngestEnv(
  inherited: NodeJS.ProcessEnv,
  bench: Readonly<Record<string, string>>,
): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...inherited, ...bench };
  delete env['INGEST_LOG_LEVEL'];
  return env;
}

/** The BENCH_* knobs that change the ingest away from what `npm start` runs: each difference, named. */
export function configDifferences(knobs: {
  readonly producers?: string | undefined;
  readonly lingerMs?: string | undefined;
  readonly nodeFlags: readonly string[];
  readonly cpuProfDir?: string | undefined;
}): string[] {
  return [
    ...(knobs.producers === undefined ? [] : [`INGEST_PRODUCERS=${knobs.producers} (BENCH_PRODUCERS)`]),
    ...(knobs.lingerMs === undefined ? [] : [`INGEST_BATCH_LINGER_MS=${knobs.lingerMs} (BENCH_LINGER_MS)`]),
    ...(knobs.nodeFlags.join(' ') === NPM_START_NODE_FLAGS.join(' ')
      ? []
      : [`node flags "${knobs.nodeFlags.join(' ')}" (BENCH_NODE_FLAGS)`]),
    ...(knobs.cpuProfDir === undefined ? [] : ['CPU profiler on (BENCH_CPU_PROF_DIR)']),
  ];
}

/** What one load run saw. Answers with a 2xx status are the only successes. */
export interface LoadSample {
  /** Latencies (ms) of the requests answered with a 2xx status. */
  readonly okLatenciesMs: readonly number[];
  readonly non2xx: number;
  /** Connection errors (a request lost with its connection). */
  readonly errors: number;
  /** Requests not answered in time (autocannon's timeout; paced-load: unanswered when the run ended). */
  readonly timeouts: number;
  /** The run's length: the request rate's denominator. */
  readonly seconds: number;
}

export interface RunSummary {
  /** 2xx answers per second: non-2xx, errors and timeouts are not requests served. */
  readonly rps: number;
  readonly ok: number;
  /** Non-2xx answers, errors and timeouts: each counts at the deadline in the percentiles. */
  readonly failed: number;
  readonly non2xx: number;
  readonly errors: number;
  readonly timeouts: number;
  readonly p50: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
}

/** Nearest-rank percentile of an ascending array (NaN when empty). */
export function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/**
 * The run's rate and percentiles. A request that failed (non-2xx, connection error, timeout, never answered) is a
 * webhook LiveChat has to send again: it counts in the percentiles at the deadline (LiveChat's timeout), never
 * left out, and not in the rate.
 */
export function summarizeRun(sample: LoadSample, deadlineMs: number): RunSummary {
  const failed = sample.non2xx + sample.errors + sample.timeouts;
  const all = [...sample.okLatenciesMs];
  for (let i = 0; i < failed; i++) all.push(deadlineMs);
  all.sort((a, b) => a - b);
  return {
    rps: sample.okLatenciesMs.length / sample.seconds,
    ok: sample.okLatenciesMs.length,
    failed,
    non2xx: sample.non2xx,
    errors: sample.errors,
    timeouts: sample.timeouts,
    p50: percentile(all, 0.5),
    p99: percentile(all, 0.99),
    p999: percentile(all, 0.999),
    max: all[all.length - 1] ?? Number.NaN,
  };
}

export interface IngestMeasurement {
  readonly bare: RunSummary;
  readonly peak: RunSummary;
  readonly half: RunSummary;
  /** The paced rate of the half-rate run (half the ingest's 2xx peak). */
  readonly halfRate: number;
  /** VmHWM of the ingest process over the whole run. */
  readonly peakRssMb: number;
  readonly deadlineMs: number;
  /** How the ingest's configuration differs from `npm start`'s (empty: it does not). */
  readonly configDifferences: readonly string[];
  /** Processes per side (BENCH_PROCESSES: N workers behind one port each side); 1 when absent. */
  readonly processes?: number;
  readonly targets: { readonly ratio: number; readonly p99Ms: number; readonly rssMb: number };
}

const failures = (r: RunSummary): string => `${r.non2xx} non-2xx, ${r.errors} errors, ${r.timeouts} timeouts`;

export function ingestFigureRows(m: IngestMeasurement): FigureRow[] {
  const config =
    m.configDifferences.length === 0
      ? undefined
      : `not the configuration npm start uses: ${m.configDifferences.join(', ')}`;
  const failedPeak =
    m.bare.failed + m.peak.failed === 0
      ? undefined
      : `failed requests in the peak runs (bare: ${failures(m.bare)}; ingest: ${failures(m.peak)})`;
  const ratioInvalid = config ?? failedPeak;
  const ratio = m.peak.rps / m.bare.rps;
  const ms = (v: number): string => `${v.toFixed(1)} ms`;
  return [
    {
      figure: 'ingest / bare fastify (2xx req/s)',
      value: `${ratio.toFixed(2)}x`,
      target: `>= ${m.targets.ratio}x`,
      anchor: `ingest ${m.peak.rps.toFixed(0)} / bare ${m.bare.rps.toFixed(0)} 2xx req/s, same run, same body, ${(m.processes ?? 1) > 1 ? `${m.processes} workers behind one port each (node:cluster)` : 'one process each'}`,
      verdict: verdictOf(ratio >= m.targets.ratio, ratioInvalid),
      ...(ratioInvalid === undefined ? {} : { reason: ratioInvalid }),
    },
    {
      figure: 'ingest p99 at half its peak',
      value: ms(m.half.p99),
      target: `<= ${m.targets.p99Ms} ms`,
      anchor: `${m.halfRate} req/s evenly paced, ${m.half.ok + m.half.failed} requests, ${m.half.failed} failed counted at ${m.deadlineMs} ms; p50 ${ms(m.half.p50)}`,
      verdict: verdictOf(m.half.p99 <= m.targets.p99Ms, config),
      ...(config === undefined ? {} : { reason: config }),
    },
    {
      figure: 'ingest peak RSS',
      value: `${m.peakRssMb.toFixed(1)} MB`,
      target: `<= ${m.targets.rssMb} MB`,
      anchor:
        (m.processes ?? 1) > 1
          ? `VmHWM summed over the ingest's primary and ${m.processes} workers (150 MB a worker)`
          : 'VmHWM of the ingest process over the whole run',
      verdict: verdictOf(m.peakRssMb <= m.targets.rssMb, config),
      ...(config === undefined ? {} : { reason: config }),
    },
  ];
}

/**
 * The cost of encryption (issue 19): the ingest's 2xx peak with privacy on over the same with it off, two
 * processes of the same configuration but the PRIVACY_* variables, measured one after the other in the same run
 * with the same load. INVALID when either run had failed requests or the configuration is not npm start's.
 */
export function privacyFigureRow(
  off: RunSummary,
  on: RunSummary,
  target: number,
  configDifferences: readonly string[] = [],
  /** Produce batches the encrypted ingest sealed (its ingest_privacy_seal_seconds count); 0: it did not encrypt. */
  sealedBatches = Number.POSITIVE_INFINITY,
): FigureRow {
  const ratio = on.rps / off.rps;
  const invalid =
    configDifferences.length > 0
      ? `not the configuration npm start uses: ${configDifferences.join(', ')}`
      : !(sealedBatches > 0)
        ? `the ingest with encryption on sealed nothing (seal batches: ${sealedBatches})`
        : off.failed + on.failed > 0
          ? `failed requests in the peak runs (off: ${failures(off)}; on: ${failures(on)})`
          : undefined;
  return {
    figure: 'ingest with encryption on / off (2xx req/s)',
    value: `${ratio.toFixed(2)}x`,
    target: `>= ${target}x`,
    anchor: `on ${on.rps.toFixed(0)} / off ${off.rps.toFixed(0)} 2xx req/s at peak, same run, same body, p99 on ${on.p99.toFixed(1)} ms / off ${off.p99.toFixed(1)} ms`,
    verdict: verdictOf(ratio >= target, invalid),
    ...(invalid === undefined ? {} : { reason: invalid }),
  };
}
