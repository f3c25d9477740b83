/**
 * Benchmark (not a test): a rebuild of the transcripts schema from a chat-events topic of 1 million realistic,
 * sealed chat events, run as an operator runs it (`pnpm transcripts:rebuild`: truncate, replay from the earliest
 * offsets, the service's pool and batch settings, encryption on).
 *
 *   pnpm bench:rebuild [--events 1000000] [--interrupt-at 0.5] [--fresh] [--cpu-prof DIR]   (--help for all flags)
 *
 * 1. Pre-load (untimed, cached per seed and count on this stack): traffic-simulator webhooks, sealed as the ingest
 * seals them, through the normalizer once (rebuild/preload.ts). 2. The timed rebuild (rebuild/run.ts). 3. With
 * --interrupt-at F: the rebuild again, killed at F, resumed by the same command; its row counts must equal the
 * uninterrupted run's. Ends with one table (figure, value, target, anchor, verdict) and the load before and after.
 * Uses KAFKA_BROKERS, SCHEMA_REGISTRY_URL and DATABASE_URL when all are set, else brings the local stack up.
 */
import { mkdirSync } from 'node:fs';
import pg from 'pg';
import { loadStackSettings, stackDown, stackUp } from '@livechat-pipeline/local-stack';
import { benchKafka, highWatermarks, sum } from './lib/kafka.js';
import { machineLoad } from './lib/figures.js';
import { logger, progress, settings } from './rebuild/settings.js';
import { preload, type Endpoints } from './rebuild/preload.js';
import { rowCounts, runRebuild, type RebuildTarget } from './rebuild/run.js';
import { printSummary, type RebuildFigures } from './rebuild/summary.js';

async function endpoints(): Promise<{ endpoints: Endpoints; stop: () => Promise<void> }> {
  const env = process.env;
  if (env['KAFKA_BROKERS'] && env['SCHEMA_REGISTRY_URL'] && env['DATABASE_URL'])
    return {
      endpoints: {
        kafkaBrokers: env['KAFKA_BROKERS'],
        schemaRegistryUrl: env['SCHEMA_REGISTRY_URL'],
        databaseUrl: env['DATABASE_URL'],
      },
      stop: async () => undefined,
    };
  const stack = loadStackSettings();
  progress(
    `KAFKA_BROKERS/SCHEMA_REGISTRY_URL/DATABASE_URL not all set: bringing the local stack up (${stack.home})`,
  );
  const { endpoints: e, started } = await stackUp(stack, (line) => progress(`stack: ${line}`));
  return {
    endpoints: e,
    stop: async () => {
      if (started.length > 0) await stackDown(stack, {});
    },
  };
}

async function main(): Promise<number> {
  const stack = await endpoints();
  const e = stack.endpoints;
  const kafka = benchKafka(e.kafkaBrokers, 'bench-rebuild', logger);
  const admin = kafka.admin();
  await admin.connect();
  const db = new pg.Pool({ connectionString: e.databaseUrl, max: 2 });
  try {
    const preloaded = await preload(e, kafka, admin, db);
    await preloaded.privacy.close();
    if (settings.preloadOnly) {
      print(`pre-load ready: ${preloaded.topic} holds ${preloaded.events} chat events`);
      return 0;
    }
    const target: RebuildTarget = {
      topic: preloaded.topic,
      events: preloaded.events,
      schema: 'bench_rebuild_tr',
      consumerName: 'bench-rebuild-transcripts',
      privacyEnv: preloaded.privacy.env,
    };
    const dlq = `${target.consumerName}.dlq`;
    const deadLettered = async (): Promise<number> =>
      (await admin.listTopics()).includes(dlq) ? sum((await highWatermarks(admin, dlq)).values()) : 0;
    const dlqBefore = await deadLettered();
    if (settings.cpuProfDir !== undefined) mkdirSync(settings.cpuProfDir, { recursive: true });
    progress(`rebuild: ${target.schema} from ${target.topic} (${target.events} events); timer running`);
    const loadBefore = machineLoad();
    const timed = await runRebuild(e, db, target, {
      label: 'rebuild',
      ...(settings.cpuProfDir === undefined ? {} : { cpuProfDir: settings.cpuProfDir }),
    });
    const loadAfter = machineLoad();
    const counts = await rowCounts(db, target);
    const figures: RebuildFigures = {
      preloaded,
      timed,
      loadBefore,
      loadAfter,
      counts,
      deadLetters: (await deadLettered()) - dlqBefore,
    };
    if (settings.interruptAt !== undefined) {
      const killed = await runRebuild(e, db, target, {
        label: 'interrupted rebuild',
        killAtFraction: settings.interruptAt,
      });
      const resumed = await runRebuild(e, db, target, { label: 'resumed rebuild' });
      return printSummary(print, {
        ...figures,
        interrupted: { fraction: settings.interruptAt, killed, resumed, counts: await rowCounts(db, target) },
      });
    }
    return printSummary(print, figures);
  } finally {
    await admin.disconnect().catch(() => undefined);
    await db.end().catch(() => undefined);
    await stack.stop();
  }
}

const print = (line = ''): void => void process.stdout.write(`${line}\n`);

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(
      `\nrebuild benchmark FAILED: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(1);
  },
);
