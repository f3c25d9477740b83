/**
 * The closing table of a benchmark: one row per figure with its value, its target, what it is measured against
 * (the anchor) and a verdict, then the machine's load before and after the run. Pure apart from `machineLoad()`.
 * (services/ingest/bench/figures.ts has the same table for the ingest benchmark: a service cannot import this
 * folder.)
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
