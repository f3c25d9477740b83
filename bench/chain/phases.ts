/**
 * The phases of the chain benchmark, each timed on its own: 1. pre-load the raw topic (untimed for the chain);
 * 2. the chain; 3. each stage alone; 4. the baseline of plain INSERTs. main (chain.bench.ts) runs them in order
 * and prints the summary (summary.ts).
 */
import pg from 'pg';
import type { Admin, Kafka } from 'kafkajs';
import {
  ConfluentAvroSerde,
  SchemaRegistryClient,
  ensureTopic,
  rawWebhookSchema,
  valueSubject,
} from '@livechat-pipeline/events';
import { migrateConsumerSchema, readAllStoredOffsets, rebuild } from '@livechat-pipeline/postgres-consumer';
import {
  ChatEventOpener,
  analyticsConsumer,
  openPrivacyVault,
  startAnalytics,
} from '@livechat-pipeline/analytics';
import { transcriptsMigrationsDir } from '@livechat-pipeline/transcripts';
import { generateRawWebhooks } from '../lib/raw-webhooks.js';
import { committedOffsets, highWatermarks, produceAll, reached, sum } from '../lib/kafka.js';
import { insertPlain, projectionTables, readTables, type Parallelism } from '../lib/baseline.js';
import { CpuSampler, fmt, type CpuShare } from '../lib/report.js';
import { logger, progress, settings } from './settings.js';
import { benchKafka } from '../lib/kafka.js';
import type { PrivacyRun } from './privacy.js';
import {
  analyticsConfigFor,
  launchNormalizer,
  partitionsOf,
  precreateChatEvents,
  projectionRuntime,
  startProjection,
  transcriptsConfigFor,
  until,
  waitJoined,
  type Endpoints,
} from './runtime.js';

export interface ChainResult {
  readonly seconds: number;
  readonly normalizerSeconds: number;
  readonly normalizerFirstOutputSeconds: number;
  readonly chatEvents: number;
  readonly projectedAtNormalizerDone: number;
  /** When the transcripts projection had stored every chat event's offset (from the normalizer's start). */
  readonly transcriptsSeconds: number;
  /** The same for the analytics projection, which runs beside it (absent with --no-analytics). */
  readonly analyticsSeconds: number | undefined;
  readonly peakRssMb: number;
  readonly cpu: CpuShare;
}

export interface Names {
  readonly suffix: string;
  readonly rawTopic: string;
  /** Encryption on or off for this run's services and pre-load (chain/privacy.ts). */
  readonly privacy: PrivacyRun;
}

/** What phase 1 leaves for the others and the summary. */
export interface Preloaded {
  readonly generated: ReturnType<typeof generateRawWebhooks>;
  readonly generateSeconds: number;
  readonly encodeSeconds: number;
  /** Raw bodies sealed by the pre-load (encryption on), and how long it took (untimed for the chain). */
  readonly sealed: number;
  readonly sealSeconds: number;
  readonly produced: Awaited<ReturnType<typeof produceAll>>;
  readonly rawHigh: Map<number, bigint>;
  readonly rssAfterPreload: number;
}

// ── 1. Pre-load (untimed for the chain) ─────────────────────────────────────────────
export async function preload(e: Endpoints, kafka: Kafka, admin: Admin, names: Names): Promise<Preloaded> {
  progress(
    `generating ${settings.webhooks} raw webhooks (v2 share ${settings.v2Share}, seed ${settings.seed})…`,
  );
  let t = performance.now();
  const generated = generateRawWebhooks({
    count: settings.webhooks,
    v2Share: settings.v2Share,
    seed: settings.seed,
  });
  const generateSeconds = (performance.now() - t) / 1000;
  const serde = new ConfluentAvroSerde(new SchemaRegistryClient({ baseUrl: e.schemaRegistryUrl }));
  await ensureTopic(kafka, {
    topic: names.rawTopic,
    numPartitions: settings.partitions,
    replicationFactor: 1,
    configs: { 'retention.ms': '-1' },
  });
  const rawSchema = await serde.register(valueSubject(names.rawTopic), rawWebhookSchema());
  t = performance.now();
  const sealed = await names.privacy.seal(generated.records);
  const sealSeconds = (performance.now() - t) / 1000;
  if (names.privacy.mode === 'on')
    progress(`pre-load: sealed ${sealed} raw bodies as the ingest would, in ${fmt(sealSeconds, 2)} s`);
  t = performance.now();
  const messages = generated.records.map((r) => ({ key: r.key, value: serde.encode(rawSchema, r.value) }));
  const encodeSeconds = (performance.now() - t) / 1000;
  progress(
    `generated ${generated.records.length} webhooks of ${generated.chats} chats in ${fmt(generateSeconds, 1)} s, encoded in ${fmt(encodeSeconds, 1)} s; producing to ${names.rawTopic}…`,
  );
  generated.records.length = 0; // the Avro bytes are all we keep
  let lastProduceLine = performance.now();
  const produced = await produceAll(kafka, names.rawTopic, messages, {
    chunk: 1000,
    inFlight: 4,
    onProgress: (done) => {
      if (performance.now() - lastProduceLine < 2000) return;
      lastProduceLine = performance.now();
      progress(`pre-load: ${done}/${messages.length} produced`);
    },
  });
  const rawHigh = await highWatermarks(admin, names.rawTopic);
  if (sum(rawHigh.values()) !== settings.webhooks)
    throw new Error(`raw topic holds ${sum(rawHigh.values())} records, expected ${settings.webhooks}`);
  messages.length = 0;
  progress(
    `pre-load done: ${produced.records} records (${fmt(produced.bytes / 1e6, 1)} MB) in ${fmt(produced.seconds, 2)} s`,
  );
  const rssAfterPreload = process.memoryUsage.rss() / 2 ** 20;
  return {
    generated,
    generateSeconds,
    encodeSeconds,
    sealed,
    sealSeconds,
    produced,
    rawHigh,
    rssAfterPreload,
  };
}

/** What phase 2 leaves for the others and the summary. */
export interface ChainPhase {
  readonly chain: ChainResult;
  readonly chainTopic: string;
  readonly txSchema: string;
  readonly txDlq: number;
  readonly normalizerDlq: number;
  readonly analyticsDlq: number;
  /** The analytics projection's name and schema (rebuilt in phase 2b). */
  readonly analytics: { readonly name: string; readonly schema: string } | undefined;
  /** Distinct event ids the transcripts projection applied (its `_dedup` rows): the headline's count. */
  readonly transcriptsDistinct: number;
  /** The same for the analytics projection (absent with --no-analytics). */
  readonly analyticsDistinct: number | undefined;
  /** The transcripts projection's runtime options in this run: the baseline gets the same parallelism. */
  readonly projection: ReturnType<typeof projectionRuntime>;
}

/** Distinct event ids a projection applied: every event it decodes is claimed once in `_dedup` (duplicates are not). */
async function distinctApplied(db: pg.Pool, schema: string, consumer: string): Promise<number> {
  const { rows } = await db.query<{ n: string }>(
    `select count(*) as n from "${schema}"._dedup where consumer = $1`,
    [consumer],
  );
  return Number(rows[0]?.n ?? 0);
}

// ── 2. The chain (timed) ────────────────────────────────────────────────────────────
/** `running` holds the projection while it runs, so that main stops it should the phase fail. */
export async function chainPhase(
  e: Endpoints,
  kafka: Kafka,
  admin: Admin,
  db: pg.Pool,
  names: Names,
  rawHigh: Map<number, bigint>,
  running: { stop(): Promise<void> }[],
): Promise<ChainPhase> {
  const { suffix } = names;
  const chainTopic = `bench.chat-events.${suffix}`;
  const txName = `bench-transcripts-${suffix}`;
  const txSchema = `bench_tr_${suffix}`;
  await precreateChatEvents(kafka, chainTopic);
  progress(`starting the projection (${txName}, schema ${txSchema}) on ${chainTopic}…`);
  const txConfig = transcriptsConfigFor(e, chainTopic, txName, txSchema, names.privacy.env);
  const projection = await startProjection(txConfig);
  running.push(projection);
  await waitJoined(projection);
  const analytics = settings.analytics
    ? { name: `bench-analytics-${suffix}`, schema: `bench_an_${suffix}` }
    : undefined;
  if (analytics) {
    progress(
      `starting the analytics projection (${analytics.name}, schema ${analytics.schema}) on ${chainTopic}…`,
    );
    const consumer = await startAnalytics(
      analyticsConfigFor(e, chainTopic, analytics.name, analytics.schema, names.privacy.env),
      logger.child({ service: 'analytics' }),
    );
    running.push(consumer);
    await waitJoined(consumer);
  }

  const chain = await runChain(e, admin, db, {
    rawTopic: names.rawTopic,
    rawHigh,
    chatEventsTopic: chainTopic,
    groupId: `bench-normalizer-${suffix}`,
    txName,
    txSchema,
    dlq: `bench.webhooks.raw.dlq.${suffix}`,
    analytics,
    privacyEnv: names.privacy.env,
  });
  for (const consumer of running) await consumer.stop();
  running.length = 0;
  const txDlq = sum((await highWatermarks(admin, `${txName}.dlq`)).values());
  const normalizerDlq = sum((await highWatermarks(admin, `bench.webhooks.raw.dlq.${suffix}`)).values());
  const analyticsDlq = analytics ? sum((await highWatermarks(admin, `${analytics.name}.dlq`)).values()) : 0;
  const transcriptsDistinct = await distinctApplied(db, txSchema, txName);
  const analyticsDistinct = analytics
    ? await distinctApplied(db, analytics.schema, analytics.name)
    : undefined;
  return {
    chain,
    chainTopic,
    txSchema,
    txDlq,
    normalizerDlq,
    analyticsDlq,
    analytics,
    transcriptsDistinct,
    analyticsDistinct,
    projection: projectionRuntime(txConfig),
  };
}

export interface AnalyticsRebuild {
  readonly events: number;
  readonly seconds: number;
  readonly threads: number;
}

// ── 2b. Rebuild of the analytics schema from the chain's chat events ─────────────────
export async function analyticsRebuildPhase(
  e: Endpoints,
  db: pg.Pool,
  names: Names,
  chained: ChainPhase,
): Promise<AnalyticsRebuild | undefined> {
  const analytics = chained.analytics;
  if (analytics === undefined) return undefined;
  const config = analyticsConfigFor(
    e,
    chained.chainTopic,
    analytics.name,
    analytics.schema,
    names.privacy.env,
  );
  progress(`analytics rebuild: truncating ${analytics.schema} and replaying ${chained.chainTopic}…`);
  // As `pnpm analytics:rebuild` does: sealed events (privacy on) are opened with the key store, else they would wait.
  const privacy = await openPrivacyVault(config.privacy);
  const opener = new ChatEventOpener(privacy?.vault ?? null, { service: 'analytics' });
  const result = await rebuild(analyticsConsumer(config, opener), {
    kafka: benchKafka(e.kafkaBrokers, 'bench-analytics-rebuild', logger),
    databaseUrl: e.databaseUrl,
    onEvent: () => undefined,
  }).finally(() => privacy?.close());
  const threads = Number(
    (await db.query<{ n: string }>(`select count(*) as n from "${analytics.schema}".threads`)).rows[0]?.n ??
      0,
  );
  progress(`analytics rebuild: ${result.total} events in ${fmt(result.durationMs / 1000, 2)} s`);
  return { events: result.total, seconds: result.durationMs / 1000, threads };
}

export interface StagesAlone {
  readonly normalizerAlone: { seconds: number; chatEvents: number; cpu: CpuShare } | undefined;
  readonly projectionAlone: { seconds: number; cpu: CpuShare } | undefined;
}

// ── 3. Each stage alone ─────────────────────────────────────────────────────────────
export async function stagesPhase(
  e: Endpoints,
  kafka: Kafka,
  admin: Admin,
  db: pg.Pool,
  names: Names,
  rawHigh: Map<number, bigint>,
  chained: ChainPhase,
): Promise<StagesAlone> {
  if (!settings.stages) return { normalizerAlone: undefined, projectionAlone: undefined };
  await precreateChatEvents(kafka, `bench.chat-events.alone.${names.suffix}`);
  const normalizerAlone = await runNormalizerAlone(e, admin, names, rawHigh);
  const projectionAlone = await runProjectionAlone(
    e,
    admin,
    db,
    chained.chainTopic,
    chained.chain.chatEvents,
    names,
  );
  return { normalizerAlone, projectionAlone };
}

export interface Baseline {
  readonly baseline: Awaited<ReturnType<typeof insertPlain>>;
  readonly parallelism: Parallelism;
}

// ── 4. Baseline: the same rows, plain multi-row INSERTs, with the projection's parallelism ──
export async function baselinePhase(
  e: Endpoints,
  db: pg.Pool,
  names: Names,
  chained: ChainPhase,
): Promise<Baseline> {
  const { txSchema } = chained;
  // As many connections as the projection's pool, the rows split into its partitions.
  const parallelism: Parallelism = {
    connections: chained.projection.poolSize,
    partitions: chained.projection.partitions,
  };
  progress('baseline: reading the rows the projection wrote…');
  const tables = await readTables(db, txSchema, await projectionTables(db, txSchema));
  const baselineSchema = `bench_base_${names.suffix}`;
  await migrateConsumerSchema({
    databaseUrl: e.databaseUrl,
    schema: baselineSchema,
    migrationsDir: transcriptsMigrationsDir,
  });
  progress(
    `baseline: inserting ${tables.reduce((n, x) => n + x.rows.length, 0)} rows into ${baselineSchema}, ${settings.baselineRows} per statement, ${parallelism.partitions} partitions over ${parallelism.connections} connections…`,
  );
  const pool = new pg.Pool({ connectionString: e.databaseUrl, max: parallelism.connections });
  try {
    const baseline = await insertPlain(pool, baselineSchema, tables, settings.baselineRows, parallelism);
    return { baseline, parallelism };
  } finally {
    await pool.end();
  }
}

export async function runChain(
  e: Endpoints,
  admin: Admin,
  db: pg.Pool,
  run: {
    rawTopic: string;
    rawHigh: Map<number, bigint>;
    chatEventsTopic: string;
    groupId: string;
    txName: string;
    txSchema: string;
    dlq: string;
    analytics: { readonly name: string; readonly schema: string } | undefined;
    privacyEnv: Readonly<Record<string, string>>;
  },
): Promise<ChainResult> {
  const normalizerEnv: NodeJS.ProcessEnv = {
    KAFKA_BROKERS: e.kafkaBrokers,
    SCHEMA_REGISTRY_URL: e.schemaRegistryUrl,
    NORMALIZER_GROUP_ID: run.groupId,
    RAW_WEBHOOK_TOPIC: run.rawTopic,
    CHAT_EVENTS_TOPIC: run.chatEventsTopic,
    CHAT_EVENTS_TOPIC_PARTITIONS: String(settings.partitions),
    NORMALIZER_DLQ_TOPIC: run.dlq,
    NORMALIZER_PORT: '0',
    LOG_LEVEL: settings.logLevel,
    ...(settings.normalizerConcurrency === undefined
      ? {}
      : { NORMALIZER_PARTITIONS_CONCURRENTLY: String(settings.normalizerConcurrency) }),
    ...run.privacyEnv,
  };
  let peakRss = 0;
  let normalized = 0;
  let events = 0;
  let projected = 0;
  let analyzed = 0;
  let transcriptsDoneAt: number | undefined;
  let analyticsDoneAt: number | undefined;
  let firstOutputAt: number | undefined;
  let normalizerDoneAt: number | undefined;
  let projectedAtNormalizerDone = 0;
  let eventsHigh = new Map<number, bigint>();
  const cpu = new CpuSampler();
  progress(`chain: starting the normalizer (group ${run.groupId}) on ${run.rawTopic}; timer running`);
  const t0 = performance.now();
  const normalizer = await launchNormalizer(normalizerEnv);
  try {
    const status = (): string =>
      `chain ${fmt((performance.now() - t0) / 1000, 1)} s: normalizer ${normalized}/${settings.webhooks} webhooks -> ${events} events; projected ${projected}/${events} events` +
      (run.analytics ? `; analytics ${analyzed}/${events}` : '');
    const seconds = await until(
      'the chain to drain',
      async () => {
        peakRss = Math.max(peakRss, process.memoryUsage.rss());
        const [committed, high, stored, storedAnalytics] = await Promise.all([
          normalizerDoneAt === undefined
            ? committedOffsets(admin, run.groupId, run.rawTopic)
            : Promise.resolve(run.rawHigh),
          highWatermarks(admin, run.chatEventsTopic),
          readAllStoredOffsets(db, run.txSchema, run.txName),
          run.analytics
            ? readAllStoredOffsets(db, run.analytics.schema, run.analytics.name)
            : Promise.resolve(new Map<string, bigint>()),
        ]);
        const now = performance.now();
        normalized = sum(committed.values());
        eventsHigh = high;
        events = sum(high.values());
        const storedHere = partitionsOf(stored, run.chatEventsTopic);
        projected = sum(storedHere.values());
        if (firstOutputAt === undefined && events > 0) firstOutputAt = now;
        if (normalizerDoneAt === undefined && reached(committed, run.rawHigh)) {
          normalizerDoneAt = now;
          projectedAtNormalizerDone = projected;
          // The output is complete once every input offset is committed (commits follow acknowledged sends).
          eventsHigh = await highWatermarks(admin, run.chatEventsTopic);
          events = sum(eventsHigh.values());
          progress(`chain: normalizer done after ${fmt((now - t0) / 1000, 2)} s (${events} chat events)`);
        }
        const analyticsHere = partitionsOf(storedAnalytics, run.chatEventsTopic);
        analyzed = sum(analyticsHere.values());
        if (normalizerDoneAt !== undefined) {
          if (transcriptsDoneAt === undefined && reached(storedHere, eventsHigh)) transcriptsDoneAt = now;
          if (analyticsDoneAt === undefined && run.analytics && reached(analyticsHere, eventsHigh))
            analyticsDoneAt = now;
        }
        if (transcriptsDoneAt !== undefined && (run.analytics === undefined || analyticsDoneAt !== undefined))
          return (now - t0) / 1000;
        return undefined;
      },
      status,
      settings.timeoutMs,
    );
    progress(`chain: drained in ${fmt(seconds, 2)} s`);
    return {
      seconds,
      normalizerSeconds: ((normalizerDoneAt ?? t0) - t0) / 1000,
      normalizerFirstOutputSeconds: ((firstOutputAt ?? t0) - t0) / 1000,
      chatEvents: events,
      projectedAtNormalizerDone,
      transcriptsSeconds: ((transcriptsDoneAt ?? t0) - t0) / 1000,
      analyticsSeconds: analyticsDoneAt === undefined ? undefined : (analyticsDoneAt - t0) / 1000,
      peakRssMb: peakRss / 2 ** 20,
      cpu: cpu.stop(),
    };
  } finally {
    await normalizer.stop();
  }
}

export async function runNormalizerAlone(
  e: Endpoints,
  admin: Admin,
  names: Names,
  rawHigh: Map<number, bigint>,
): Promise<{ seconds: number; chatEvents: number; cpu: CpuShare }> {
  const groupId = `bench-normalizer-alone-${names.suffix}`;
  const topic = `bench.chat-events.alone.${names.suffix}`;
  const normalizerEnv: NodeJS.ProcessEnv = {
    KAFKA_BROKERS: e.kafkaBrokers,
    SCHEMA_REGISTRY_URL: e.schemaRegistryUrl,
    NORMALIZER_GROUP_ID: groupId,
    RAW_WEBHOOK_TOPIC: names.rawTopic,
    CHAT_EVENTS_TOPIC: topic,
    CHAT_EVENTS_TOPIC_PARTITIONS: String(settings.partitions),
    NORMALIZER_DLQ_TOPIC: `bench.webhooks.raw.dlq.alone.${names.suffix}`,
    NORMALIZER_PORT: '0',
    LOG_LEVEL: settings.logLevel,
    ...(settings.normalizerConcurrency === undefined
      ? {}
      : { NORMALIZER_PARTITIONS_CONCURRENTLY: String(settings.normalizerConcurrency) }),
    ...names.privacy.env,
  };
  let normalized = 0;
  const cpu = new CpuSampler();
  progress(`stage: normalizer alone (group ${groupId}) -> ${topic}`);
  const t0 = performance.now();
  const normalizer = await launchNormalizer(normalizerEnv);
  try {
    const seconds = await until(
      'the normalizer alone to drain',
      async () => {
        const committed = await committedOffsets(admin, groupId, names.rawTopic);
        normalized = sum(committed.values());
        return reached(committed, rawHigh) ? (performance.now() - t0) / 1000 : undefined;
      },
      () =>
        `normalizer alone ${fmt((performance.now() - t0) / 1000, 1)} s: ${normalized}/${settings.webhooks} webhooks`,
      settings.timeoutMs,
    );
    const chatEvents = sum((await highWatermarks(admin, topic)).values());
    progress(`stage: normalizer alone drained in ${fmt(seconds, 2)} s`);
    return { seconds, chatEvents, cpu: cpu.stop() };
  } finally {
    await normalizer.stop();
  }
}

export async function runProjectionAlone(
  e: Endpoints,
  admin: Admin,
  db: pg.Pool,
  topic: string,
  chatEvents: number,
  names: Names,
): Promise<{ seconds: number; cpu: CpuShare }> {
  const name = `bench-transcripts-alone-${names.suffix}`;
  const schema = `bench_tr_alone_${names.suffix}`;
  const config = transcriptsConfigFor(e, topic, name, schema, names.privacy.env);
  // Migrations are a one-off of a new schema, not throughput: done before the timer.
  await migrateConsumerSchema({
    databaseUrl: e.databaseUrl,
    schema,
    migrationsDir: transcriptsMigrationsDir,
  });
  const high = await highWatermarks(admin, topic);
  let projected = 0;
  const cpu = new CpuSampler();
  progress(`stage: projection alone (${name}) on the chain's ${chatEvents} chat events`);
  const t0 = performance.now();
  const projection = await startProjection(config);
  try {
    const seconds = await until(
      'the projection alone to drain',
      async () => {
        const stored = partitionsOf(await readAllStoredOffsets(db, schema, name), topic);
        projected = sum(stored.values());
        return reached(stored, high) ? (performance.now() - t0) / 1000 : undefined;
      },
      () =>
        `projection alone ${fmt((performance.now() - t0) / 1000, 1)} s: ${projected}/${chatEvents} events`,
      settings.timeoutMs,
    );
    progress(`stage: projection alone drained in ${fmt(seconds, 2)} s`);
    return { seconds, cpu: cpu.stop() };
  } finally {
    await projection.stop();
  }
}
