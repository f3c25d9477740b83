/**
 * Benchmark (not a test): raw webhooks -> normalizer -> chat-events -> transcripts projection -> Postgres,
 * both services in this process on the real stack, beside a baseline of plain batched INSERTs of the
 * same rows in the same run.
 *
 *   pnpm bench:chain [--webhooks 200000] [--timeout-s 900] [--no-stages] …   (--help for all flags)
 *
 * Phases: 1. generate realistic webhooks (traffic simulator) and pre-load them on a fresh raw topic
 * (untimed); 2. the chain, timed from the normalizer's start until the projection's stored offsets
 * (`<schema>._offsets`) reach the chat-events high watermarks; 3. each stage alone (normalizer on a
 * fresh output topic; projection on the chain's full chat-events topic), to show which one limits;
 * 4. the baseline: the rows the projection wrote, re-inserted with multi-row INSERTs into fresh tables.
 * Figures go to stdout; progress to stderr. Uses KAFKA_BROKERS, SCHEMA_REGISTRY_URL and DATABASE_URL
 * when all are set, else brings the local stack up (and down again at the end if it started it).
 */
import os from 'node:os';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { pino, destination, type Logger } from 'pino';
import type { Admin, Kafka } from 'kafkajs';
import { ConfluentAvroSerde, SchemaRegistryClient, ensureTopic, rawWebhookSchema, valueSubject } from '@livechat-pipeline/events';
import { loadStackSettings, stackDown, stackUp } from '@livechat-pipeline/local-stack';
import { createPostgresConsumer, migrateConsumerSchema, readAllStoredOffsets, type PostgresConsumer } from '@livechat-pipeline/postgres-consumer';
import type { ChatDomainEvent } from '@livechat-pipeline/livechat';
import { loadNormalizerConfig, startNormalizer } from '@livechat-pipeline/normalizer';
import { loadTranscriptsConfig, startTranscripts, transcriptsConsumer, transcriptsMigrationsDir, type TranscriptsConfig } from '@livechat-pipeline/transcripts';
import { generateRawWebhooks } from './lib/raw-webhooks.js';
import { benchKafka, committedOffsets, highWatermarks, produceAll, reached, sum } from './lib/kafka.js';
import { insertPlain, projectionTables, readTables } from './lib/baseline.js';
import { CpuSampler, fmt, rate, type CpuShare } from './lib/report.js';

const TARGET_EVENTS_PER_S = 20_000;
const TARGET_RATIO = 0.25;

const USAGE = `pnpm bench:chain [flags]
  --webhooks N            raw webhooks to push (default 200000)
  --v2-share F            share of webhooks in v2 format (default 0.1)
  --partitions N          partitions of the raw and chat-events topics (default 6)
  --seed N                traffic seed (default 1)
  --timeout-s N           limit for each timed phase (default 900)
  --stall-s N             fail when nothing moves for this long (default 60)
  --events-max-message-bytes N
                          pre-create the chat-events topics with this max.message.bytes (default 8388608;
                          0 = let the services create them with the broker default, 1 MiB: the normalizer's
                          1000-record produce chunks then exceed it and it crash-loops, see the report)
  --baseline-rows N       rows per baseline INSERT statement (default 1000)
  --no-stages             skip phase 3 (each stage alone)
  --tx-concurrency N      projection: partitionsConsumedConcurrently (default: the service's, 3)
  --tx-max-bytes N        projection: maxBytesPerPartition (default: the service's, 4 MiB)
  --tx-pool N             projection: Postgres pool size (default: the service's, 6)
  --same-thread           run the normalizer on the projection's event loop (default: in a worker thread,
                          with an event loop of its own, as it is its own process when deployed)
  --log-level L           service log level (default warn)`;

const { values: flags } = parseArgs({
  options: {
    webhooks: { type: 'string', default: '200000' },
    'v2-share': { type: 'string', default: '0.1' },
    partitions: { type: 'string', default: '6' },
    seed: { type: 'string', default: '1' },
    'timeout-s': { type: 'string', default: '900' },
    'stall-s': { type: 'string', default: '60' },
    'events-max-message-bytes': { type: 'string', default: String(8 * 1024 * 1024) },
    'baseline-rows': { type: 'string', default: '1000' },
    'no-stages': { type: 'boolean', default: false },
    'tx-concurrency': { type: 'string' },
    'tx-max-bytes': { type: 'string' },
    'tx-pool': { type: 'string' },
    'log-level': { type: 'string', default: 'warn' },
    'normalizer-thread': { type: 'boolean', default: true },
    'same-thread': { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
  strict: true,
});
if (flags.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}

const positiveNumber = (name: string, raw: string | undefined): number => {
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name} must be a positive number, got "${raw}"`);
  return value;
};
const optional = (name: string, raw: string | undefined): number | undefined => (raw === undefined ? undefined : positiveNumber(name, raw));

const settings = {
  webhooks: Math.floor(positiveNumber('webhooks', flags.webhooks)),
  v2Share: Number(flags['v2-share']),
  partitions: Math.floor(positiveNumber('partitions', flags.partitions)),
  seed: Math.floor(positiveNumber('seed', flags.seed)),
  timeoutMs: positiveNumber('timeout-s', flags['timeout-s']) * 1000,
  stallMs: positiveNumber('stall-s', flags['stall-s']) * 1000,
  eventsMaxMessageBytes: Math.floor(Number(flags['events-max-message-bytes'])),
  baselineRows: Math.floor(positiveNumber('baseline-rows', flags['baseline-rows'])),
  stages: !flags['no-stages'],
  tx: {
    concurrency: optional('tx-concurrency', flags['tx-concurrency']),
    maxBytes: optional('tx-max-bytes', flags['tx-max-bytes']),
    pool: optional('tx-pool', flags['tx-pool']),
  },
  logLevel: flags['log-level'] ?? 'warn',
  // Deployed, the normalizer and the projection are separate processes: by default the normalizer gets
  // an event loop of its own here too (--same-thread puts both on one loop).
  normalizerThread: !(flags['same-thread'] ?? false) && (flags['normalizer-thread'] ?? true),
};
if (!(settings.v2Share >= 0 && settings.v2Share <= 1)) throw new Error('--v2-share must be within 0..1');
if (!(settings.eventsMaxMessageBytes >= 0)) throw new Error('--events-max-message-bytes must be a non-negative integer');

const progress = (line: string): void => void process.stderr.write(`[chain-bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
const logger: Logger = pino({ level: settings.logLevel, base: { bench: 'chain' } }, destination(2));

class BenchTimeout extends Error {}

interface Endpoints {
  readonly kafkaBrokers: string;
  readonly schemaRegistryUrl: string;
  readonly databaseUrl: string;
}

async function endpoints(): Promise<{ endpoints: Endpoints; stop: () => Promise<void> }> {
  const env = process.env;
  if (env['KAFKA_BROKERS'] && env['SCHEMA_REGISTRY_URL'] && env['DATABASE_URL']) {
    return {
      endpoints: { kafkaBrokers: env['KAFKA_BROKERS'], schemaRegistryUrl: env['SCHEMA_REGISTRY_URL'], databaseUrl: env['DATABASE_URL'] },
      stop: async () => undefined,
    };
  }
  const stack = loadStackSettings();
  progress(`KAFKA_BROKERS/SCHEMA_REGISTRY_URL/DATABASE_URL not all set: bringing the local stack up (${stack.home})`);
  const { endpoints: e, started } = await stackUp(stack, (line) => progress(`stack: ${line}`));
  return {
    endpoints: e,
    stop: async () => {
      if (started.length === 0) return;
      progress('stopping the stack this run started');
      await stackDown(stack, {});
    },
  };
}

/**
 * Polls `check` every `everyMs` until it returns a value; prints `status()` every 2 s; fails after the
 * timeout, or when `status()` has not changed for --stall-s (a stuck pipeline says so instead of waiting).
 */
async function until<T>(what: string, check: () => Promise<T | undefined>, status: () => string, timeoutMs: number, everyMs = 100): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  let lastPrint = performance.now();
  let lastChange = performance.now();
  let lastProgress = '';
  for (;;) {
    const result = await check();
    if (result !== undefined) return result;
    const now = performance.now();
    const current = status().replace(/\d[\d.,]* s:/, ''); // the figures without the elapsed time
    if (current !== lastProgress) {
      lastProgress = current;
      lastChange = now;
    }
    if (now > deadline) throw new BenchTimeout(`timed out after ${(timeoutMs / 1000).toFixed(0)} s waiting for ${what}; last status: ${status()}`);
    if (now - lastChange > settings.stallMs) {
      throw new BenchTimeout(`no progress for ${(settings.stallMs / 1000).toFixed(0)} s while waiting for ${what} (see the service logs above); last status: ${status()}`);
    }
    if (now - lastPrint >= 2000) {
      lastPrint = now;
      progress(status());
    }
    await sleep(everyMs);
  }
}

/** Creates a chat-events topic before the services do, when --events-max-message-bytes asks for a limit. */
async function precreateChatEvents(kafka: Kafka, topic: string): Promise<void> {
  if (settings.eventsMaxMessageBytes === 0) return;
  await ensureTopic(kafka, {
    topic,
    numPartitions: settings.partitions,
    replicationFactor: 1,
    configs: { 'retention.ms': '-1', 'max.message.bytes': String(settings.eventsMaxMessageBytes) },
  });
}

function partitionsOf(stored: ReadonlyMap<string, bigint>, topic: string): Map<number, bigint> {
  const result = new Map<number, bigint>();
  for (const [key, offset] of stored) {
    const at = key.lastIndexOf(':');
    if (key.slice(0, at) === topic) result.set(Number(key.slice(at + 1)), offset);
  }
  return result;
}

function transcriptsConfigFor(e: Endpoints, chatEventsTopic: string, name: string, schema: string): TranscriptsConfig {
  return loadTranscriptsConfig({
    KAFKA_BROKERS: e.kafkaBrokers,
    SCHEMA_REGISTRY_URL: e.schemaRegistryUrl,
    DATABASE_URL: e.databaseUrl,
    CHAT_EVENTS_TOPIC: chatEventsTopic,
    CHAT_EVENTS_TOPIC_PARTITIONS: String(settings.partitions),
    TRANSCRIPTS_CONSUMER_NAME: name,
    TRANSCRIPTS_SCHEMA: schema,
    TRANSCRIPTS_PORT: '0',
    LOG_LEVEL: settings.logLevel,
  });
}

/** The transcripts service as main.ts starts it; with --tx-* flags, the same definition with those runtime options. */
async function startProjection(e: Endpoints, config: TranscriptsConfig): Promise<PostgresConsumer<ChatDomainEvent>> {
  const { concurrency, maxBytes, pool } = settings.tx;
  if (concurrency === undefined && maxBytes === undefined && pool === undefined) return startTranscripts(config, logger.child({ service: 'transcripts' }));
  const kafka = benchKafka(e.kafkaBrokers, 'bench-transcripts', logger);
  await ensureTopic(kafka, { topic: config.chatEventsTopic.name, numPartitions: config.chatEventsTopic.partitions, replicationFactor: 1, configs: { 'retention.ms': '-1' } });
  const consumer = createPostgresConsumer(transcriptsConsumer(config), {
    kafka,
    databaseUrl: config.databaseUrl,
    ...(concurrency === undefined ? {} : { partitionsConsumedConcurrently: concurrency }),
    ...(maxBytes === undefined ? {} : { maxBytesPerPartition: maxBytes }),
    ...(pool === undefined ? {} : { poolSize: pool }),
  });
  await consumer.start();
  return consumer;
}

/** startNormalizer() as main.ts calls it: here, or in a worker thread with --normalizer-thread. */
async function launchNormalizer(env: NodeJS.ProcessEnv): Promise<{ stop(): Promise<void> }> {
  if (!settings.normalizerThread) {
    const running = await startNormalizer(loadNormalizerConfig(env), logger.child({ service: 'normalizer' }));
    return { stop: () => running.stop() };
  }
  const worker = new Worker(new URL('./lib/normalizer-worker.mjs', import.meta.url), { workerData: env });
  const next = (): Promise<unknown> =>
    new Promise((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
  if ((await next()) !== 'started') throw new Error('the normalizer worker did not start');
  return {
    stop: async () => {
      const stopped = next();
      worker.postMessage('stop');
      await stopped;
      await worker.terminate();
    },
  };
}

async function waitJoined(consumer: PostgresConsumer<ChatDomainEvent>): Promise<void> {
  await until('the projection to join its group', async () => ((await consumer.ready()).ok ? true : undefined), () => 'projection joining…', 60_000, 50);
}

interface ChainResult {
  readonly seconds: number;
  readonly normalizerSeconds: number;
  readonly normalizerFirstOutputSeconds: number;
  readonly chatEvents: number;
  readonly projectedAtNormalizerDone: number;
  readonly peakRssMb: number;
  readonly cpu: CpuShare;
}

interface Names {
  readonly suffix: string;
  readonly rawTopic: string;
}

async function main(): Promise<void> {
  const started = performance.now();
  const loadBefore = os.loadavg();
  const stack = await endpoints();
  const e = stack.endpoints;
  const kafka: Kafka = benchKafka(e.kafkaBrokers, 'bench-chain', logger);
  const admin: Admin = kafka.admin();
  await admin.connect();
  const db = new pg.Pool({ connectionString: e.databaseUrl, max: 3 });
  const running: { stop(): Promise<void> }[] = [];
  const out: string[] = [];
  const print = (line = ''): void => {
    out.push(line);
    process.stdout.write(`${line}\n`);
  };
  try {
    const suffix = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
    const names: Names = { suffix, rawTopic: `bench.webhooks.raw.${suffix}` };

    // ── 1. Pre-load (untimed for the chain) ─────────────────────────────────────────────
    progress(`generating ${settings.webhooks} raw webhooks (v2 share ${settings.v2Share}, seed ${settings.seed})…`);
    let t = performance.now();
    const generated = generateRawWebhooks({ count: settings.webhooks, v2Share: settings.v2Share, seed: settings.seed });
    const generateSeconds = (performance.now() - t) / 1000;
    const serde = new ConfluentAvroSerde(new SchemaRegistryClient({ baseUrl: e.schemaRegistryUrl }));
    await ensureTopic(kafka, { topic: names.rawTopic, numPartitions: settings.partitions, replicationFactor: 1, configs: { 'retention.ms': '-1' } });
    const rawSchema = await serde.register(valueSubject(names.rawTopic), rawWebhookSchema());
    t = performance.now();
    const messages = generated.records.map((r) => ({ key: r.key, value: serde.encode(rawSchema, r.value) }));
    const encodeSeconds = (performance.now() - t) / 1000;
    progress(`generated ${generated.records.length} webhooks of ${generated.chats} chats in ${fmt(generateSeconds, 1)} s, encoded in ${fmt(encodeSeconds, 1)} s; producing to ${names.rawTopic}…`);
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
    if (sum(rawHigh.values()) !== settings.webhooks) throw new Error(`raw topic holds ${sum(rawHigh.values())} records, expected ${settings.webhooks}`);
    messages.length = 0;
    progress(`pre-load done: ${produced.records} records (${fmt(produced.bytes / 1e6, 1)} MB) in ${fmt(produced.seconds, 2)} s`);
    const rssAfterPreload = process.memoryUsage.rss() / 2 ** 20;

    // ── 2. The chain (timed) ────────────────────────────────────────────────────────────
    const chainTopic = `bench.chat-events.${suffix}`;
    const txName = `bench-transcripts-${suffix}`;
    const txSchema = `bench_tr_${suffix}`;
    await precreateChatEvents(kafka, chainTopic);
    progress(`starting the projection (${txName}, schema ${txSchema}) on ${chainTopic}…`);
    const projection = await startProjection(e, transcriptsConfigFor(e, chainTopic, txName, txSchema));
    running.push(projection);
    await waitJoined(projection);

    const chain = await runChain(e, admin, db, { rawTopic: names.rawTopic, rawHigh, chatEventsTopic: chainTopic, groupId: `bench-normalizer-${suffix}`, txName, txSchema, dlq: `bench.webhooks.raw.dlq.${suffix}` });
    await projection.stop();
    running.length = 0;
    const txDlq = sum((await highWatermarks(admin, `${txName}.dlq`)).values());
    const normalizerDlq = sum((await highWatermarks(admin, `bench.webhooks.raw.dlq.${suffix}`)).values());

    // ── 3. Each stage alone ─────────────────────────────────────────────────────────────
    let normalizerAlone: { seconds: number; chatEvents: number; cpu: CpuShare } | undefined;
    let projectionAlone: { seconds: number; cpu: CpuShare } | undefined;
    if (settings.stages) {
      await precreateChatEvents(kafka, `bench.chat-events.alone.${suffix}`);
      normalizerAlone = await runNormalizerAlone(e, admin, names, rawHigh);
      projectionAlone = await runProjectionAlone(e, admin, db, chainTopic, chain.chatEvents, suffix);
    }

    // ── 4. Baseline: the same rows, plain multi-row INSERTs ─────────────────────────────
    progress('baseline: reading the rows the projection wrote…');
    const tables = await readTables(db, txSchema, await projectionTables(db, txSchema));
    const baselineSchema = `bench_base_${suffix}`;
    await migrateConsumerSchema({ databaseUrl: e.databaseUrl, schema: baselineSchema, migrationsDir: transcriptsMigrationsDir });
    progress(`baseline: inserting ${tables.reduce((n, x) => n + x.rows.length, 0)} rows into ${baselineSchema}, ${settings.baselineRows} per statement…`);
    const baseline = await insertPlain(db, baselineSchema, tables, settings.baselineRows);
    const dedupRows = Number((await db.query<{ n: string }>(`select count(*) as n from "${txSchema}"._dedup`)).rows[0]?.n ?? 0);

    // ── Summary ─────────────────────────────────────────────────────────────────────────
    const chainEventsPerS = chain.chatEvents / chain.seconds;
    const baselineEventsPerS = chain.chatEvents / baseline.seconds;
    const ratio = chainEventsPerS / baselineEventsPerS;
    const cpus = os.cpus();
    const w = (label: string, value: string): void => print(`  ${label.padEnd(44)} ${value}`);
    print('');
    print('== chain benchmark: raw webhooks -> normalizer -> chat events -> transcripts projection -> Postgres ==');
    print('machine');
    w('cpus', `${cpus.length} x ${cpus[0]?.model.trim() ?? '?'}`);
    w('memory', `${fmt(os.totalmem() / 2 ** 30, 1)} GiB`);
    w('node', process.version);
    w('loadavg (1/5/15 min) at start', loadBefore.map((l) => fmt(l, 2)).join(' / '));
    w('loadavg (1/5/15 min) at end', os.loadavg().map((l) => fmt(l, 2)).join(' / '));
    print('input (pre-load, untimed for the chain)');
    w('raw webhooks', `${settings.webhooks} (${generated.byFormat.v3} v3.6, ${generated.byFormat.v2} v2; ${generated.duplicates} redeliveries; ${generated.chats} chats)`);
    w('webhook kinds', [...generated.byKind].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ${n}`).join(', '));
    w('mean body', `${fmt(generated.bodyBytes / settings.webhooks, 0)} bytes`);
    w('generate / Avro-encode', `${fmt(generateSeconds, 2)} s / ${fmt(encodeSeconds, 2)} s`);
    w('chat-events topics max.message.bytes', settings.eventsMaxMessageBytes === 0 ? 'broker default (created by the services)' : `${settings.eventsMaxMessageBytes} (pre-created by the bench; the broker default is 1 MiB)`);
    w('produce to raw topic', `${fmt(produced.seconds, 2)} s = ${rate(produced.records / produced.seconds)} webhooks/s (${fmt(produced.bytes / 1e6 / produced.seconds, 1)} MB/s)`);
    print(`chain (timed: normalizer start -> projection offsets at the chat-events high watermarks)`);
    w('raw webhooks', String(settings.webhooks));
    w('normalizer runs', settings.normalizerThread ? 'in a worker thread (own event loop)' : 'on the main thread, beside the projection');
    w('projection runtime options', Object.entries(settings.tx).filter(([, v]) => v !== undefined).map(([k, v]) => `${k} ${String(v)}`).join(', ') || 'the service defaults (startTranscripts)');
    w('chat events', `${chain.chatEvents} (${fmt(chain.chatEvents / settings.webhooks, 2)} per webhook; ${dedupRows} distinct ids applied)`);
    w('dead letters (normalizer / projection)', `${normalizerDlq} / ${txDlq}`);
    w('seconds', fmt(chain.seconds, 2));
    w('webhooks/s', rate(settings.webhooks / chain.seconds));
    w('chat events/s  <- events/s', rate(chainEventsPerS));
    w('normalizer done after', `${fmt(chain.normalizerSeconds, 2)} s (first output after ${fmt(chain.normalizerFirstOutputSeconds, 2)} s) = ${rate(settings.webhooks / chain.normalizerSeconds)} webhooks/s, ${rate(chain.chatEvents / chain.normalizerSeconds)} events/s`);
    w('projected when the normalizer was done', `${chain.projectedAtNormalizerDone} of ${chain.chatEvents} events (${fmt((100 * chain.projectedAtNormalizerDone) / chain.chatEvents, 0)} %)`);
    w('projection tail after the normalizer', `${fmt(chain.seconds - chain.normalizerSeconds, 2)} s`);
    w('cpu during the chain', chain.cpu.describe());
    w('peak RSS during the chain', `${fmt(chain.peakRssMb, 0)} MiB (after pre-load: ${fmt(rssAfterPreload, 0)} MiB)`);
    if (normalizerAlone && projectionAlone) {
      print('each stage alone (same input, nothing else running in this process)');
      w('normalizer alone', `${fmt(normalizerAlone.seconds, 2)} s = ${rate(settings.webhooks / normalizerAlone.seconds)} webhooks/s, ${rate(normalizerAlone.chatEvents / normalizerAlone.seconds)} events/s; cpu ${normalizerAlone.cpu.describe()}`);
      w('projection alone', `${fmt(projectionAlone.seconds, 2)} s = ${rate(chain.chatEvents / projectionAlone.seconds)} events/s; cpu ${projectionAlone.cpu.describe()}`);
    }
    print(`baseline (plain multi-row INSERTs of the rows the projection wrote, ${settings.baselineRows} rows/statement, autocommit, into fresh tables)`);
    w('rows', `${baseline.rows} in ${baseline.statements} statements (${[...baseline.perTable].map(([k, n]) => `${k} ${n}`).join(', ')})`);
    w('seconds', fmt(baseline.seconds, 2));
    w('rows/s', rate(baseline.rows / baseline.seconds));
    w('chat events/s equivalent', rate(baselineEventsPerS));
    print('result');
    w('chain events/s', `${rate(chainEventsPerS)}  (target >= ${rate(TARGET_EVENTS_PER_S)}: ${chainEventsPerS >= TARGET_EVENTS_PER_S ? 'MET' : 'MISSED'})`);
    w('chain / baseline', `${fmt(ratio, 3)}x  (target >= ${TARGET_RATIO}x: ${ratio >= TARGET_RATIO ? 'MET' : 'MISSED'})`);
    w('peak RSS of the process (whole run)', `${fmt(process.resourceUsage().maxRSS / 1024, 0)} MiB`);
    w('whole run', `${fmt((performance.now() - started) / 1000, 1)} s`);
  } finally {
    for (const r of running) await r.stop().catch(() => undefined);
    await admin.disconnect().catch(() => undefined);
    await db.end().catch(() => undefined);
    await stack.stop();
  }
}

async function runChain(
  e: Endpoints,
  admin: Admin,
  db: pg.Pool,
  run: { rawTopic: string; rawHigh: Map<number, bigint>; chatEventsTopic: string; groupId: string; txName: string; txSchema: string; dlq: string },
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
  };
  let peakRss = 0;
  let normalized = 0;
  let events = 0;
  let projected = 0;
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
      `chain ${fmt((performance.now() - t0) / 1000, 1)} s: normalizer ${normalized}/${settings.webhooks} webhooks -> ${events} events; projected ${projected}/${events} events`;
    const seconds = await until(
      'the chain to drain',
      async () => {
        peakRss = Math.max(peakRss, process.memoryUsage.rss());
        const [committed, high, stored] = await Promise.all([
          normalizerDoneAt === undefined ? committedOffsets(admin, run.groupId, run.rawTopic) : Promise.resolve(run.rawHigh),
          highWatermarks(admin, run.chatEventsTopic),
          readAllStoredOffsets(db, run.txSchema, run.txName),
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
        if (normalizerDoneAt !== undefined && reached(storedHere, eventsHigh)) return (now - t0) / 1000;
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
      peakRssMb: peakRss / 2 ** 20,
      cpu: cpu.stop(),
    };
  } finally {
    await normalizer.stop();
  }
}

async function runNormalizerAlone(e: Endpoints, admin: Admin, names: Names, rawHigh: Map<number, bigint>): Promise<{ seconds: number; chatEvents: number; cpu: CpuShare }> {
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
      () => `normalizer alone ${fmt((performance.now() - t0) / 1000, 1)} s: ${normalized}/${settings.webhooks} webhooks`,
      settings.timeoutMs,
    );
    const chatEvents = sum((await highWatermarks(admin, topic)).values());
    progress(`stage: normalizer alone drained in ${fmt(seconds, 2)} s`);
    return { seconds, chatEvents, cpu: cpu.stop() };
  } finally {
    await normalizer.stop();
  }
}

async function runProjectionAlone(e: Endpoints, admin: Admin, db: pg.Pool, topic: string, chatEvents: number, suffix: string): Promise<{ seconds: number; cpu: CpuShare }> {
  const name = `bench-transcripts-alone-${suffix}`;
  const schema = `bench_tr_alone_${suffix}`;
  const config = transcriptsConfigFor(e, topic, name, schema);
  // Migrations are a one-off of a new schema, not throughput: done before the timer.
  await migrateConsumerSchema({ databaseUrl: e.databaseUrl, schema, migrationsDir: transcriptsMigrationsDir });
  const high = await highWatermarks(admin, topic);
  let projected = 0;
  const cpu = new CpuSampler();
  progress(`stage: projection alone (${name}) on the chain's ${chatEvents} chat events`);
  const t0 = performance.now();
  const projection = await startProjection(e, config);
  try {
    const seconds = await until(
      'the projection alone to drain',
      async () => {
        const stored = partitionsOf(await readAllStoredOffsets(db, schema, name), topic);
        projected = sum(stored.values());
        return reached(stored, high) ? (performance.now() - t0) / 1000 : undefined;
      },
      () => `projection alone ${fmt((performance.now() - t0) / 1000, 1)} s: ${projected}/${chatEvents} events`,
      settings.timeoutMs,
    );
    progress(`stage: projection alone drained in ${fmt(seconds, 2)} s`);
    return { seconds, cpu: cpu.stop() };
  } finally {
    await projection.stop();
  }
}

function readVmHwmMb(): number {
  const kb = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
  return kb === undefined ? Number.NaN : Number(kb) / 1024;
}

main().then(
  () => {
    progress(`done (VmHWM ${fmt(readVmHwmMb(), 0)} MiB)`);
    process.exit(0);
  },
  (error: unknown) => {
    const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    process.stderr.write(`\nchain benchmark FAILED: ${message}\n`);
    if (!(error instanceof BenchTimeout) && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
    process.exit(1);
  },
);
