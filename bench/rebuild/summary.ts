/**
 * The rebuild benchmark's figures on stdout: the details, the row counts (uninterrupted and, with --interrupt-at,
 * interrupted + resumed, side by side), then one table (figure, value, target, anchor, verdict) and the machine's
 * load before and after the timed rebuild, in the style of bench:chain (bench/chain/summary.ts).
 */
import { fmt, rate } from '../lib/report.js';
import {
  exitCodeOf,
  renderFigureTable,
  verdictOf,
  type FigureRow,
  type MachineLoad,
} from '../lib/figures.js';
import { TARGET_EVENTS_PER_S, TARGET_SECONDS_PER_MILLION, settings } from './settings.js';
import type { Preloaded } from './preload.js';
import type { RebuildRun } from './run.js';

export interface RebuildFigures {
  readonly preloaded: Preloaded;
  readonly timed: RebuildRun;
  readonly loadBefore: MachineLoad;
  readonly loadAfter: MachineLoad;
  readonly counts: ReadonlyMap<string, number>;
  /** Records the rebuild dead-lettered (its `<name>.dlq` grew by this much). */
  readonly deadLetters: number;
  readonly interrupted?: {
    readonly fraction: number;
    readonly killed: RebuildRun;
    readonly resumed: RebuildRun;
    readonly counts: ReadonlyMap<string, number>;
  };
}

/** Prints the details and the table; returns the exit code (1 when a figure is INVALID or the resume differs). */
export function printSummary(print: (line?: string) => void, f: RebuildFigures): number {
  const { preloaded, timed } = f;
  const events = preloaded.events;
  const perSecond = events / timed.seconds;
  const targetSeconds = (TARGET_SECONDS_PER_MILLION * events) / 1_000_000;
  print();
  print('=== transcripts rebuild (pnpm transcripts:rebuild, encryption on) ===');
  print(
    `input     : ${preloaded.topic}: ${events} chat events (${preloaded.chats} chats, ${preloaded.webhooks} raw webhooks through the normalizer, sealed); pre-load ${preloaded.cached ? 'cached from an earlier run' : `${fmt(preloaded.seconds, 1)} s (untimed)`}`,
  );
  print(
    `rebuild   : ${fmt(timed.seconds, 2)} s wall (process start to exit; the command printed ${timed.reportedSeconds === undefined ? '?' : fmt(timed.reportedSeconds, 2)} s), ${rate(perSecond)} events/s, peak RSS ${timed.peakRssMb === undefined ? '?' : fmt(timed.peakRssMb, 0)} MiB`,
  );
  const samples = [...timed.postgres.values()].reduce((a, b) => a + b, 0);
  print(
    `cpu       : the rebuild process ${timed.processCores === undefined ? '?' : fmt(timed.processCores, 2)} cores, the machine ${fmt(timed.machineCores, 2)} cores busy on average`,
  );
  print(
    `postgres  : the rebuild's connections (pg_stat_activity every 100 ms, ${samples} connection samples): ${[
      ...timed.postgres,
    ]
      .sort((a, b) => b[1] - a[1])
      .map(([what, n]) => `${what} ${fmt((100 * n) / Math.max(1, samples), 0)} %`)
      .join(', ')}`,
  );
  print(
    `settings  : ${
      Object.keys(settings.txEnv).length === 0
        ? "the command's defaults (TRANSCRIPTS_* unset: pool 6, every partition at once, 4 MiB fetches per partition)"
        : `the command's defaults but ${Object.entries(settings.txEnv)
            .map(([k, v]) => `${k}=${v}`)
            .join(', ')}`
    }`,
  );
  let equal = true;
  const interrupted = f.interrupted;
  if (interrupted === undefined) {
    print('rows      :');
    for (const [table, n] of f.counts) print(`  ${table.padEnd(26)} ${String(n).padStart(10)}`);
  } else {
    print(
      `resume    : killed at ${interrupted.killed.applied}/${events} (--interrupt-at ${interrupted.fraction}) after ${fmt(interrupted.killed.seconds, 2)} s; resumed${interrupted.resumed.resumed ? '' : ' (NOT reported as resumed)'} in ${fmt(interrupted.resumed.seconds, 2)} s`,
    );
    print(`  ${'table'.padEnd(26)} ${'uninterrupted'.padStart(13)} ${'killed+resumed'.padStart(14)}`);
    for (const [table, n] of f.counts) {
      const other = interrupted.counts.get(table);
      if (other !== n) equal = false;
      print(
        `  ${table.padEnd(26)} ${String(n).padStart(13)} ${String(other ?? '-').padStart(14)}${other === n ? '' : '  DIFFERENT'}`,
      );
    }
    for (const table of interrupted.counts.keys()) if (!f.counts.has(table)) equal = false;
  }
  const invalid =
    f.deadLetters > 0
      ? `the rebuild dead-lettered ${f.deadLetters} records: not every event was applied`
      : undefined;
  const rows: FigureRow[] = [
    {
      figure: 'rebuild time',
      value: `${fmt(timed.seconds, 1)} s`,
      target: `<= ${fmt(targetSeconds, 1)} s`,
      anchor: `${events} chat events, ${TARGET_SECONDS_PER_MILLION} s per million (issue 18 item 4)`,
      verdict: verdictOf(timed.seconds <= targetSeconds, invalid),
      ...(invalid === undefined ? {} : { reason: invalid }),
    },
    {
      figure: 'rebuild rate',
      value: `${rate(perSecond)} events/s`,
      target: `>= ${rate(TARGET_EVENTS_PER_S)} events/s`,
      anchor: `pnpm transcripts:rebuild, encryption on, ${Object.keys(settings.txEnv).length === 0 ? 'its defaults' : 'tuned (see settings)'}, ${settings.partitions} partitions`,
      verdict: verdictOf(perSecond >= TARGET_EVENTS_PER_S, invalid),
      ...(invalid === undefined ? {} : { reason: invalid }),
    },
  ];
  if (interrupted !== undefined)
    rows.push({
      figure: 'resumed = uninterrupted',
      value: equal ? 'row counts equal' : 'row counts DIFFER',
      target: 'equal',
      anchor: `SIGKILL at ${fmt(interrupted.fraction * 100, 0)} %, then the same command again`,
      verdict: verdictOf(equal),
    });
  print();
  for (const line of renderFigureTable(rows, f.loadBefore, f.loadAfter)) print(line);
  return equal ? exitCodeOf(rows) : 1;
}
