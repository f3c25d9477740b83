/**
 * The chain benchmark's figures on stdout: the details, then one table (figure, value, target, anchor, verdict) and
 * the machine's load before and after. Rates count distinct events applied; topic records are printed beside them.
 */
import os from 'node:os';
import { fmt, rate } from '../lib/report.js';
import { exitCodeOf, machineLoad, renderFigureTable, type MachineLoad } from '../lib/figures.js';
import { PRIVACY_TARGET_RATIO, TARGET_EVENTS_PER_S, TARGET_RATIO, settings } from './settings.js';
import {
  chainFigureRows,
  chainRates,
  privacyFigureRow,
  type ChainMeasurement,
  type PrivacyModeRun,
} from './verdict.js';
import type { PrivacyMode } from './privacy.js';
import type { AnalyticsRebuild, Baseline, ChainPhase, Preloaded, StagesAlone } from './phases.js';

export interface RunFigures {
  /** performance.now() when the run started. */
  readonly started: number;
  /** The load average and cores when the run started. */
  readonly loadBefore: MachineLoad;
  readonly preloaded: Preloaded;
  readonly chained: ChainPhase;
  readonly stages: StagesAlone;
  readonly baselined: Baseline;
  readonly analyticsRebuild: AnalyticsRebuild | undefined;
  /** Encryption of the run above (the first of --privacy's modes). */
  readonly privacy: PrivacyMode;
  /** With --privacy both: the chain again with the other mode (off after on), on a pre-load of its own. */
  readonly second?: {
    readonly mode: PrivacyMode;
    readonly preloaded: Preloaded;
    readonly chained: ChainPhase;
    /** The first records of the encrypted run's chat-events topic: how many carry an envelope. */
    readonly sample: { readonly read: number; readonly sealed: number };
  };
}

/** The on/off comparison's inputs: a chain phase's distinct events, time and dead letters. */
export function privacyModeRun(chained: ChainPhase): PrivacyModeRun {
  return {
    distinctEvents: chained.transcriptsDistinct,
    seconds: chained.chain.seconds,
    deadLetters: chained.normalizerDlq + chained.txDlq + chained.analyticsDlq,
  };
}

/** The measurement the verdicts are computed from. */
export function measurementOf(figures: RunFigures): ChainMeasurement {
  const { chain, txDlq, normalizerDlq, analyticsDlq, transcriptsDistinct, projection } = figures.chained;
  const { baseline, parallelism } = figures.baselined;
  return {
    distinctEvents: transcriptsDistinct,
    rawEvents: chain.chatEvents,
    seconds: chain.seconds,
    baseline: { seconds: baseline.seconds, rows: baseline.rows, ...parallelism },
    projection,
    deadLetters: { normalizer: normalizerDlq, transcripts: txDlq, analytics: analyticsDlq },
    targets: { eventsPerS: TARGET_EVENTS_PER_S, ratio: TARGET_RATIO },
  };
}

/** Prints everything; returns the exit code the run asks for (1 when a figure is INVALID). */
export function printSummary(print: (line?: string) => void, figures: RunFigures): number {
  const { started, loadBefore } = figures;
  const { generated, generateSeconds, encodeSeconds, produced, rssAfterPreload } = figures.preloaded;
  const { chain, txDlq, normalizerDlq, transcriptsDistinct, analyticsDistinct, projection } = figures.chained;
  const { normalizerAlone, projectionAlone } = figures.stages;
  const { baseline, parallelism } = figures.baselined;
  const measurement = measurementOf(figures);
  const rates = chainRates(measurement);
  const distinctPerS = (seconds: number): string => rate(transcriptsDistinct / seconds);
  const cpus = os.cpus();
  const w = (label: string, value: string): void => print(`  ${label.padEnd(44)} ${value}`);
  print('');
  print(
    '== chain benchmark: raw webhooks -> normalizer -> chat events -> transcripts (+ analytics) projection -> Postgres ==',
  );
  print('machine');
  w('cpus', `${cpus.length} x ${cpus[0]?.model.trim() ?? '?'}`);
  w('memory', `${fmt(os.totalmem() / 2 ** 30, 1)} GiB`);
  w('node', process.version);
  w('loadavg (1/5/15 min) at start', loadBefore.loadavg.map((l) => fmt(l, 2)).join(' / '));
  w(
    'loadavg (1/5/15 min) at end',
    os
      .loadavg()
      .map((l) => fmt(l, 2))
      .join(' / '),
  );
  print('input (pre-load, untimed for the chain)');
  w(
    'raw webhooks',
    `${settings.webhooks} (${generated.byFormat.v3} v3.6, ${generated.byFormat.v2} v2; ${generated.duplicates} redeliveries; ${generated.chats} chats)`,
  );
  w(
    'webhook kinds',
    [...generated.byKind]
      .sort((a, b) => b[1] - a[1])
      .map(([k, n]) => `${k} ${n}`)
      .join(', '),
  );
  w('mean body', `${fmt(generated.bodyBytes / settings.webhooks, 0)} bytes`);
  w('generate / Avro-encode', `${fmt(generateSeconds, 2)} s / ${fmt(encodeSeconds, 2)} s`);
  w(
    'chat-events topics max.message.bytes',
    settings.eventsMaxMessageBytes === 0
      ? 'broker default (created by the services)'
      : `${settings.eventsMaxMessageBytes} (pre-created by the bench; the broker default is 1 MiB)`,
  );
  w(
    'produce to raw topic',
    `${fmt(produced.seconds, 2)} s = ${rate(produced.records / produced.seconds)} webhooks/s (${fmt(produced.bytes / 1e6 / produced.seconds, 1)} MB/s)`,
  );
  print(
    `chain (timed: normalizer start -> projection offsets at the chat-events high watermarks; encryption ${figures.privacy})`,
  );
  if (figures.privacy === 'on')
    w(
      'raw bodies sealed by the pre-load',
      `${figures.preloaded.sealed} in ${fmt(figures.preloaded.sealSeconds, 2)} s (untimed, the ingest's work)`,
    );
  w('raw webhooks', String(settings.webhooks));
  w(
    'normalizer runs',
    settings.normalizerThread
      ? 'in a worker thread (own event loop)'
      : 'on the main thread, beside the projection',
  );
  w(
    'projection runtime options',
    `pool ${projection.poolSize}, ${projection.partitions} partitions, ${projection.partitionsConcurrently} consumed concurrently, fetch ${projection.fetchMaxBytes} bytes/partition` +
      (Object.values(settings.tx).some((v) => v !== undefined)
        ? ' (--tx-* flags)'
        : ' (the service defaults)'),
  );
  w(
    'chat events',
    `${transcriptsDistinct} distinct ids applied by the transcripts projection; ${chain.chatEvents} records on the topic (${fmt(chain.chatEvents / settings.webhooks, 2)} per webhook, ${chain.chatEvents - transcriptsDistinct} duplicates)`,
  );
  w('dead letters (normalizer / projection)', `${normalizerDlq} / ${txDlq}`);
  w('seconds', fmt(chain.seconds, 2));
  w('webhooks/s', rate(settings.webhooks / chain.seconds));
  w('distinct events/s  <- headline', `${rate(rates.distinctPerS)} (raw records/s ${rate(rates.rawPerS)})`);
  w(
    'normalizer done after',
    `${fmt(chain.normalizerSeconds, 2)} s (first output after ${fmt(chain.normalizerFirstOutputSeconds, 2)} s) = ${rate(settings.webhooks / chain.normalizerSeconds)} webhooks/s, ${rate(chain.chatEvents / chain.normalizerSeconds)} records/s`,
  );
  w(
    'projected when the normalizer was done',
    `${chain.projectedAtNormalizerDone} of ${chain.chatEvents} records (${fmt((100 * chain.projectedAtNormalizerDone) / chain.chatEvents, 0)} %)`,
  );
  w('projection tail after the normalizer', `${fmt(chain.seconds - chain.normalizerSeconds, 2)} s`);
  w(
    'transcripts projection done after',
    `${fmt(chain.transcriptsSeconds, 2)} s = ${distinctPerS(chain.transcriptsSeconds)} distinct events/s`,
  );
  if (chain.analyticsSeconds !== undefined)
    w(
      'analytics projection done after',
      `${fmt(chain.analyticsSeconds, 2)} s = ${rate((analyticsDistinct ?? 0) / chain.analyticsSeconds)} distinct events/s (${analyticsDistinct ?? 0} distinct ids applied; dead letters ${figures.chained.analyticsDlq}; keeps up with the normalizer: ${chain.analyticsSeconds - chain.normalizerSeconds <= Math.max(2, 0.1 * chain.normalizerSeconds) ? 'yes' : 'NO'})`,
    );
  else w('analytics projection', 'not run (--no-analytics)');
  w('cpu during the chain', chain.cpu.describe());
  w(
    'peak RSS during the chain',
    `${fmt(chain.peakRssMb, 0)} MiB (after pre-load: ${fmt(rssAfterPreload, 0)} MiB)`,
  );
  if (normalizerAlone && projectionAlone) {
    print('each stage alone (same input, nothing else running in this process)');
    w(
      'normalizer alone',
      `${fmt(normalizerAlone.seconds, 2)} s = ${rate(settings.webhooks / normalizerAlone.seconds)} webhooks/s, ${rate(normalizerAlone.chatEvents / normalizerAlone.seconds)} records/s; cpu ${normalizerAlone.cpu.describe()}`,
    );
    w(
      'projection alone',
      `${fmt(projectionAlone.seconds, 2)} s = ${distinctPerS(projectionAlone.seconds)} distinct events/s; cpu ${projectionAlone.cpu.describe()}`,
    );
  }
  const rebuilt = figures.analyticsRebuild;
  if (rebuilt) {
    print("analytics rebuild (truncate, replay the chain's chat events from the earliest offsets)");
    w(
      'rebuild',
      `${rebuilt.events} events in ${fmt(rebuilt.seconds, 2)} s = ${rate(rebuilt.events / rebuilt.seconds)} events/s (${rebuilt.threads} threads)`,
    );
  }
  print(
    `baseline (plain multi-row INSERTs of the rows the projection wrote, ${settings.baselineRows} rows/statement, autocommit, into fresh tables)`,
  );
  w(
    'rows',
    `${baseline.rows} in ${baseline.statements} statements (${[...baseline.perTable].map(([k, n]) => `${k} ${n}`).join(', ')})`,
  );
  w('seconds', fmt(baseline.seconds, 2));
  w('rows/s', rate(baseline.rows / baseline.seconds));
  w('distinct events/s equivalent', rate(rates.baselineDistinctPerS));
  print("parallelism (the baseline gets the projection's)");
  w('', `${'projection'.padEnd(22)} baseline`);
  w(
    'Postgres connections',
    `${`pool of ${projection.poolSize}`.padEnd(22)} ${parallelism.connections} (${baseline.connectionsUsed} with rows to write)`,
  );
  w(
    'partitions',
    `${String(projection.partitions).padEnd(22)} ${parallelism.partitions} (rows by tenant|chat)`,
  );
  w(
    'partitions at once',
    `${String(projection.partitionsConcurrently).padEnd(22)} ${baseline.connectionsUsed}`,
  );
  w('rows per statement', `${'a fetched batch'.padEnd(22)} ${settings.baselineRows}`);
  w('peak RSS of the process (whole run)', `${fmt(process.resourceUsage().maxRSS / 1024, 0)} MiB`);
  w('whole run', `${fmt((performance.now() - started) / 1000, 1)} s`);
  const second = figures.second;
  if (second !== undefined) {
    const c = second.chained.chain;
    const firstLabel = figures.privacy;
    print(
      second.mode === 'on'
        ? 'chain again with encryption on (issue 19: normalizer opens and seals, projections open)'
        : 'chain again with encryption off (issue 19: the cost of encryption is the ratio of the two)',
    );
    if (second.mode === 'on')
      w(
        'raw bodies sealed by the pre-load',
        `${second.preloaded.sealed} in ${fmt(second.preloaded.sealSeconds, 2)} s (untimed, the ingest's work)`,
      );
    w(
      'chat events',
      `${second.chained.transcriptsDistinct} distinct ids applied; ${c.chatEvents} records on the topic`,
    );
    w(
      'dead letters (normalizer / transcripts / analytics)',
      `${second.chained.normalizerDlq} / ${second.chained.txDlq} / ${second.chained.analyticsDlq}`,
    );
    w('seconds', fmt(c.seconds, 2));
    w(
      'distinct events/s',
      `${rate(second.chained.transcriptsDistinct / c.seconds)} (${firstLabel}: ${rate(transcriptsDistinct / chain.seconds)})`,
    );
    w(
      'normalizer done after',
      `${fmt(c.normalizerSeconds, 2)} s (${firstLabel}: ${fmt(chain.normalizerSeconds, 2)} s)`,
    );
    w('cpu during the chain', c.cpu.describe());
    w(
      'sealed chat events (sample of the run with encryption on)',
      `${second.sample.sealed} of the first ${second.sample.read} records carry an envelope`,
    );
  }
  const rows = chainFigureRows(measurement);
  if (second !== undefined) {
    const firstRun = privacyModeRun(figures.chained);
    const secondRun = privacyModeRun(second.chained);
    const [offRun, onRun] = second.mode === 'on' ? [firstRun, secondRun] : [secondRun, firstRun];
    rows.push(privacyFigureRow(offRun, onRun, PRIVACY_TARGET_RATIO, second.sample));
  }
  print('');
  print('== result ==');
  for (const line of renderFigureTable(rows, loadBefore, machineLoad())) print(line);
  return exitCodeOf(rows);
}
