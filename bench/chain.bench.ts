/**
 * Benchmark (not a test): raw webhooks -> normalizer -> chat-events -> transcripts and analytics projections
 * -> Postgres, the services in this process on the real stack, beside a baseline of plain batched INSERTs of
 * the same rows in the same run; then a rebuild of the analytics schema from the chain's chat events.
 *
 *   pnpm bench:chain [--webhooks 200000] [--timeout-s 900] [--no-stages] [--privacy both|on|off] …   (--help for all flags)
 *
 * Phases: 1. generate realistic webhooks (traffic simulator) and pre-load them on a fresh raw topic
 * (untimed); 2. the chain, timed from the normalizer's start until the projection's stored offsets
 * (`<schema>._offsets`) reach the chat-events high watermarks; 3. each stage alone (normalizer on a
 * fresh output topic; projection on the chain's full chat-events topic), to show which one limits;
 * 4. the baseline: the rows the projection wrote, re-inserted with multi-row INSERTs into fresh tables with the
 * projection's parallelism (as many connections as its pool, the rows split into its partitions).
 * The headline counts distinct events applied (the projection's `_dedup` rows), the topic's records beside it; the
 * run ends with one table (figure, value, target, anchor, MET/MISSED/INVALID) and the load before and after, and
 * exits 1 when a figure is INVALID (dead letters, an unequal baseline). Encryption is on by default (issue 19, as
 * `npm start` runs); with --privacy both, phases 1 and 2 run once more with it off, and the table gets the on/off ratio.
 * Figures go to stdout; progress to stderr. Uses KAFKA_BROKERS, SCHEMA_REGISTRY_URL and DATABASE_URL
 * when all are set, else brings the local stack up (and down again at the end if it started it).
 */
import { readFileSync } from 'node:fs';
import pg from 'pg';
import type { Admin, Kafka } from 'kafkajs';
import { benchKafka } from './lib/kafka.js';
import { fmt } from './lib/report.js';
import { machineLoad } from './lib/figures.js';
import { BenchTimeout, logger, progress, settings } from './chain/settings.js';
import { endpoints } from './chain/runtime.js';
import {
  analyticsRebuildPhase,
  baselinePhase,
  chainPhase,
  preload,
  stagesPhase,
  type Names,
} from './chain/phases.js';
import { printSummary, type RunFigures } from './chain/summary.js';
import {
  privacyOff,
  privacyOn,
  sampleSealedEvents,
  type PrivacyMode,
  type PrivacyRun,
} from './chain/privacy.js';

// Settings (chain/settings.ts) are read from the command line when it loads; phases in chain/phases.ts.
/** Returns the exit code: 1 when a figure of the closing table is INVALID. */
async function main(): Promise<number> {
  const started = performance.now();
  const loadBefore = machineLoad();
  const stack = await endpoints();
  const e = stack.endpoints;
  const kafka: Kafka = benchKafka(e.kafkaBrokers, 'bench-chain', logger);
  const admin: Admin = kafka.admin();
  await admin.connect();
  const db = new pg.Pool({ connectionString: e.databaseUrl, max: 3 });
  const running: { stop(): Promise<void> }[] = [];
  const privacyRuns: PrivacyRun[] = [];
  const privacyFor = async (mode: PrivacyMode, suffix: string): Promise<PrivacyRun> => {
    const run = mode === 'on' ? await privacyOn(e, suffix) : privacyOff();
    privacyRuns.push(run);
    return run;
  };
  const out: string[] = [];
  const print = (line = ''): void => {
    out.push(line);
    process.stdout.write(`${line}\n`);
  };
  try {
    const suffix = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
    const [firstMode = 'on', secondMode] = settings.privacyModes;
    const names: Names = {
      suffix,
      rawTopic: `bench.webhooks.raw.${suffix}`,
      privacy: await privacyFor(firstMode, suffix),
    };
    const preloaded = await preload(e, kafka, admin, names);
    const chained = await chainPhase(e, kafka, admin, db, names, preloaded.rawHigh, running);
    const analyticsRebuild = await analyticsRebuildPhase(e, db, names, chained);
    const stages = await stagesPhase(e, kafka, admin, db, names, preloaded.rawHigh, chained);
    const baselined = await baselinePhase(e, db, names, chained);
    let secondRun: RunFigures['second'];
    if (secondMode !== undefined) {
      // The same input generated again (same seed and count) on topics of its own, through the same chain.
      const secondSuffix = `${suffix}pv`;
      const secondNames: Names = {
        suffix: secondSuffix,
        rawTopic: `bench.webhooks.raw.${secondSuffix}`,
        privacy: await privacyFor(secondMode, secondSuffix),
      };
      const secondPreloaded = await preload(e, kafka, admin, secondNames);
      const secondChained = await chainPhase(
        e,
        kafka,
        admin,
        db,
        secondNames,
        secondPreloaded.rawHigh,
        running,
      );
      // Proof that the run with encryption on sealed what it produced.
      const sealedTopic = (secondMode === 'on' ? secondChained : chained).chainTopic;
      const sample = await sampleSealedEvents(kafka, e.schemaRegistryUrl, sealedTopic);
      secondRun = { mode: secondMode, preloaded: secondPreloaded, chained: secondChained, sample };
    }
    return printSummary(print, {
      privacy: firstMode,
      ...(secondRun === undefined ? {} : { second: secondRun }),
      started,
      loadBefore,
      preloaded,
      chained,
      stages,
      baselined,
      analyticsRebuild,
    });
  } finally {
    for (const r of running) await r.stop().catch(() => undefined);
    await admin.disconnect().catch(() => undefined);
    for (const run of privacyRuns) await run.close().catch(() => undefined);
    await db.end().catch(() => undefined);
    await stack.stop();
  }
}

function readVmHwmMb(): number {
  const kb = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
  return kb === undefined ? Number.NaN : Number(kb) / 1024;
}

main().then(
  (code) => {
    progress(
      `done (VmHWM ${fmt(readVmHwmMb(), 0)} MiB)${code === 0 ? '' : '; a figure is INVALID (see the table)'}`,
    );
    process.exit(code);
  },
  (error: unknown) => {
    const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    process.stderr.write(`\nchain benchmark FAILED: ${message}\n`);
    if (!(error instanceof BenchTimeout) && error instanceof Error && error.stack)
      process.stderr.write(`${error.stack}\n`);
    process.exit(1);
  },
);
