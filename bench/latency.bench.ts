/**
 * Benchmark (not a test), issue 18 item 5: at a steady --rate webhooks/s (default 1000) for --duration-s
 * (default 60), the time from the ingest's 200 to the webhook's row being visible in `transcripts.chat_transcript`.
 *
 *   pnpm bench:latency [--rate 1000] [--duration-s 60] [--warmup-s 5] …   (--help for all flags)
 *
 * What runs: the ingest (over HTTP), the normalizer and the transcripts projection, and the analytics projection
 * beside them on the same chat events (npm start runs it: it takes its share of the cores), each its own node process
 * started as `npm start` starts it (scripts/main.ts): same node flags, same configuration — encryption of personal
 * data on with a key store, the ingest's local secrets and spool, default log level info, each service's log in a
 * file (npm start prints them to its terminal) — on topics, groups and schemas of the run's own (latency/services.ts).
 * Uses KAFKA_BROKERS, SCHEMA_REGISTRY_URL and DATABASE_URL when all are set, else brings the local stack up (and
 * down again at the end if it started it), like bench:chain.
 *
 * The load: realistic webhooks from the traffic simulator (whole chats, v3.6 with a share of v2, retries and
 * reordering; latency/traffic.ts), paced evenly at --rate (latency/pacer.ts: open loop, a request is due at
 * start + n/rate whatever the answers do), a --warmup-s at the same rate first, not counted.
 *
 * The detector: the measured webhooks are the first deliveries of v3 messages (`incoming_event`) whose LiveChat event
 * id no other webhook carries, so each makes exactly one new `chat_transcript` row (tenant, chat_id, event_id) and
 * nothing else can have made it visible first. After a measured webhook's 200, one query every --poll-ms
 * (default 15) for all pending rows at once finds it (latency/visibility.ts says why polling rather than
 * LISTEN/NOTIFY and why the figure errs against us by at most a period). A row not visible --deadline-s (30) after
 * its 200 is printed as missing and counts as the deadline in the percentiles; any non-2xx answer, lost or
 * unanswered request makes the run INVALID (exit 1).
 *
 * The stages (unless --no-stages): a consumer of the benchmark's own reads the raw and chat-events topics and takes
 * each measured webhook's Kafka timestamps (latency/stages.ts), which split 200 -> visible into the normalizer's
 * part (200 -> chat event produced) and the projection's (chat event -> row visible).
 * Figures go to stdout; progress to stderr. Ends with the table of bench:chain (figure, value, target, anchor,
 * MET/MISSED/INVALID, load before and after).
 */
import { readFileSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { pino, destination } from 'pino';
import { loadStackSettings, stackDown, stackUp } from '@livechat-pipeline/local-stack';
import { benchKafka } from './lib/kafka.js';
import { CpuSampler, fmt, rate } from './lib/report.js';
import { exitCodeOf, machineLoad, renderFigureTable } from './lib/figures.js';
import { TARGET_P99_MS, nowMs, progress, settings } from './latency/settings.js';
import { generateTraffic } from './latency/traffic.js';
import { pace } from './latency/pacer.js';
import { VisibilityWatch } from './latency/visibility.js';
import { StageTimestamps } from './latency/stages.js';
import { runNames, startServices, tuningFromShell, type Endpoints } from './latency/services.js';
import { batchFigures, scrape, type Scrape } from './latency/metrics.js';
import { describeMs, distribution, latencyFigureRows, latencyWithMissing } from './latency/summary.js';

const logger = pino({ level: 'warn', base: { bench: 'latency' } }, destination(2));

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
      if (started.length === 0) return;
      progress('stopping the stack this run started');
      await stackDown(stack, {});
    },
  };
}

/** user + system CPU seconds of a process (/proc/<pid>/stat, clock ticks of 1/100 s). */
function cpuSeconds(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return Number.NaN;
  }
}

async function main(): Promise<number> {
  const loadBefore = machineLoad();
  const stack = await endpoints();
  const e = stack.endpoints;
  const suffix = `${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
  const names = runNames(suffix);
  const warmupCount = Math.round(settings.rate * settings.warmupS);
  const measuredCount = Math.round(settings.rate * settings.durationS);
  const total = warmupCount + measuredCount;
  const tuning = tuningFromShell();

  progress(`generating ${total} webhooks (seed ${settings.seed}, v2 share ${settings.v2Share})…`);
  const traffic = generateTraffic({ count: total, v2Share: settings.v2Share, seed: settings.seed });
  const wantedRaw = new Set<string>();
  for (let n = warmupCount; n < total; n++) {
    const row = traffic.webhooks[n]?.measured;
    if (row !== undefined) wantedRaw.add(row.rawEventId);
  }

  const kafka = benchKafka(e.kafkaBrokers, 'bench-latency', logger);
  const db = new pg.Client({ connectionString: e.databaseUrl });
  await db.connect();
  progress(
    'starting the ingest, the normalizer, the transcripts and analytics projections (npm start configuration)…',
  );
  const services = await startServices(e, names);
  progress(`services ready (pids ${JSON.stringify(services.pids)}); logs in ${services.logDir}`);
  const stages = settings.stages ? new StageTimestamps(wantedRaw) : undefined;
  let failed = true;
  try {
    await stages?.start(kafka, e.schemaRegistryUrl, names.rawTopic, names.chatEventsTopic);
    const watch = new VisibilityWatch(db, names.transcriptsSchema, settings.pollMs, settings.deadlineMs);
    watch.start();

    let non2xx = 0;
    let errors = 0;
    let answered = 0;
    const firstStatuses = new Map<number, number>();
    const answeredAt = new Map<number, number>();
    const httpMs: number[] = [];
    let cpu: CpuSampler | undefined;
    let serviceCpuAtStart: Record<string, number> = {};
    const scrapeAll = (): Promise<Scrape[]> =>
      Promise.all([
        scrape(services.metricsUrls.ingest),
        scrape(services.metricsUrls.normalizer),
        scrape(services.metricsUrls.transcripts),
      ]);
    let metricsAtStart: Promise<Scrape[]> = Promise.resolve([]);
    const interval = 1000 / settings.rate;
    progress(
      `sending ${warmupCount} webhooks of warm-up then ${measuredCount} measured, at ${rate(settings.rate)}/s over ${settings.connections} connections…`,
    );
    const run = await pace({
      host: '127.0.0.1',
      port: services.ingestPort,
      path: '/webhooks/livechat',
      rate: settings.rate,
      count: total,
      connections: settings.connections,
      maxConnections: Math.max(settings.connections, settings.maxConnections),
      request: (n) => {
        if (n === warmupCount) {
          cpu = new CpuSampler();
          metricsAtStart = scrapeAll();
          serviceCpuAtStart = Object.fromEntries(
            Object.entries(services.pids).map(([name, pid]) => [name, cpuSeconds(pid)]),
          );
        }
        const webhook = traffic.webhooks[n];
        if (webhook === undefined) throw new Error(`no webhook ${n}`);
        return webhook;
      },
      onAnswer: (n, status, sentAtMs, atMs) => {
        answered++;
        if (status < 200 || status > 299) {
          non2xx++;
          if (firstStatuses.size < 5) firstStatuses.set(n, status);
          return;
        }
        if (n < warmupCount) return;
        httpMs.push(atMs - sentAtMs);
        const row = traffic.webhooks[n]?.measured;
        if (row === undefined) return;
        answeredAt.set(n, atMs);
        watch.add(n, row, atMs);
      },
      onError: () => void errors++,
    });
    const measuredStartMs = run.startedAtMs + warmupCount * interval;
    const sendSeconds = (run.lastSentAtMs - measuredStartMs + interval) / 1000;
    const cpuShare = cpu?.stop();
    const serviceCores = Object.entries(services.pids).map(
      ([name, pid]) =>
        `${name} ${fmt((cpuSeconds(pid) - (serviceCpuAtStart[name] ?? Number.NaN)) / sendSeconds, 2)}`,
    );
    progress(
      `sent ${run.sent} (up to ${run.peakConnections} connections, ${run.queued} waited for one, pacer lag up to ${fmt(run.maxLagMs, 1)} ms); waiting for the answers and the rows…`,
    );
    const answersBy = nowMs() + 30_000;
    while (answered + errors < run.sent && nowMs() < answersBy) await sleep(5);
    const unanswered = run.sent - answered - errors;
    run.close();
    let lastPrint = nowMs();
    while (watch.pending > 0) {
      await sleep(50);
      if (services.exited() !== undefined) break;
      if (nowMs() - lastPrint > 2_000) {
        lastPrint = nowMs();
        progress(
          `${watch.visible.size} rows visible, ${watch.pending} pending, ${watch.missing.length} missing`,
        );
      }
    }
    await watch.stop();
    const crashed = services.exited();
    const [ingestBefore, normalizerBefore, transcriptsBefore] = await metricsAtStart;
    const [ingestAfter, normalizerAfter, transcriptsAfter] = await scrapeAll();
    const batches = (
      before: Scrape | undefined,
      after: Scrape | undefined,
      histogram: string,
      records: string,
    ) =>
      before === undefined || after === undefined
        ? undefined
        : batchFigures(before, after, histogram, records);
    const batchLines = [
      [
        'ingest produce',
        batches(ingestBefore, ingestAfter, 'ingest_produce_latency_seconds', 'ingest_batch_records_sum'),
      ],
      [
        'ingest seal (privacy key look-up + encryption)',
        batches(ingestBefore, ingestAfter, 'ingest_privacy_seal_seconds', 'ingest_batch_records_sum'),
      ],
      [
        'normalizer',
        batches(
          normalizerBefore,
          normalizerAfter,
          'normalizer_batch_seconds',
          'normalizer_raw_records_total',
        ),
      ],
      [
        'transcripts',
        batches(
          transcriptsBefore,
          transcriptsAfter,
          'postgres_consumer_batch_duration_seconds',
          'postgres_consumer_events_total',
        ),
      ],
    ] as const;

    // stage timestamps: let the stage consumer catch up with what became visible
    if (stages !== undefined) {
      const until = nowMs() + 15_000;
      while (nowMs() < until) {
        let behind = 0;
        for (const n of watch.visible.keys()) {
          const id = traffic.webhooks[n]?.measured?.rawEventId;
          if (id !== undefined && (!stages.raw.has(id) || !stages.chatEvent.has(id))) behind++;
        }
        if (behind === 0) break;
        await sleep(200);
      }
    }

    const visibleMs: number[] = [];
    const split = {
      ingestToRaw: [] as number[],
      rawTo200: [] as number[],
      normalizer: [] as number[],
      projection: [] as number[],
    };
    const perWebhook: { total: number; normalizer: number; projection: number }[] = [];
    for (const [n, v] of watch.visible) {
      const at200 = answeredAt.get(n);
      if (at200 === undefined) continue;
      const total200 = v.visibleAtMs - at200;
      visibleMs.push(total200);
      const id = traffic.webhooks[n]?.measured?.rawEventId;
      const rawAt = id === undefined ? undefined : stages?.raw.get(id);
      const eventAt = id === undefined ? undefined : stages?.chatEvent.get(id);
      if (rawAt !== undefined) split.rawTo200.push(at200 - rawAt);
      if (eventAt !== undefined) {
        split.normalizer.push(eventAt - at200);
        split.projection.push(v.visibleAtMs - eventAt);
        perWebhook.push({
          total: total200,
          normalizer: eventAt - at200,
          projection: v.visibleAtMs - eventAt,
        });
      }
    }
    const m = {
      targetRate: settings.rate,
      durationS: settings.durationS,
      sent: run.sent - warmupCount,
      sendSeconds,
      connections: run.peakConnections,
      non2xx,
      errors,
      unanswered,
      visibleMs,
      missing: watch.missing.length,
      deadlineMs: settings.deadlineMs,
      targetP99Ms: TARGET_P99_MS,
      ...(crashed === undefined ? {} : { crashed }),
    };
    const d = latencyWithMissing(m);
    const out = (line = ''): void => void process.stdout.write(`${line}\n`);
    out();
    out(
      `latency benchmark: ${rate(settings.rate)} webhooks/s for ${settings.durationS} s after ${settings.warmupS} s of warm-up; ingest, normalizer, transcripts, analytics as npm start runs them (separate processes, privacy on, log level info)`,
    );
    if (tuning.length > 0) out(`NOT npm start's defaults: ${tuning.join(' ')} (from the shell)`);
    out(
      `traffic: ${traffic.webhooks.length} webhooks (v3 ${traffic.byFormat.v3}, v2 ${traffic.byFormat.v2}), ${traffic.measured} measurable of which ${d.count} in the measured window`,
    );
    out(
      `send rate: ${fmt(m.sent / Math.max(m.durationS, m.sendSeconds), 1)}/s achieved (target ${rate(settings.rate)}/s); pacer: up to ${run.peakConnections} connections, ${run.queued} requests waited for one, lag up to ${fmt(run.maxLagMs, 1)} ms`,
    );
    out(
      `answers: ${answered} (${non2xx} non-2xx${firstStatuses.size > 0 ? `, e.g. ${[...firstStatuses].map(([n, s]) => `#${n}: ${s}`).join(', ')}` : ''}), ${errors} lost, ${unanswered} unanswered`,
    );
    out(`ingest send -> 200 (measured window, all webhooks): ${describeMs(distribution(httpMs))}`);
    out(
      `200 -> visible in ${names.transcriptsSchema}.chat_transcript: ${describeMs(d)}; missing ${m.missing}${m.missing > 0 ? ` (#${watch.missing.slice(0, 10).join(', #')}${m.missing > 10 ? ', …' : ''})` : ''}`,
    );
    out(
      `visibility poll: every ${settings.pollMs} ms, ${watch.queries} queries, ${fmt(watch.queryMs / Math.max(1, watch.queries), 1)} ms each on average (the resolution of the figures above)`,
    );
    if (cpuShare !== undefined)
      out(`cpu while sending: ${cpuShare.describe()}; services' cores: ${serviceCores.join(', ')}`);
    if (stages !== undefined) {
      out(
        `stages (Kafka CreateTime, whole ms; ${split.normalizer.length} of ${visibleMs.length} visible webhooks matched on chat-events, ${split.rawTo200.length} on the raw topic, ${stages.decodeErrors} undecodable records):`,
      );
      out(
        `  raw record produced -> 200 (ingest: broker ack + answer; negative: answered from the on-disk spool, produced on its drain): ${describeMs(distribution(split.rawTo200))}`,
      );
      out(
        `  200 -> chat event produced (normalizer: fetch + open + parse + seal + produce): ${describeMs(distribution(split.normalizer))}`,
      );
      out(
        `  chat event produced -> row visible (projection: fetch + open + transaction + commit; + poll): ${describeMs(distribution(split.projection))}`,
      );
      const slowest = perWebhook
        .sort((a, b) => b.total - a.total)
        .slice(0, Math.max(1, Math.ceil(perWebhook.length / 100)));
      if (slowest.length > 0) {
        const mean = (f: (w: (typeof slowest)[number]) => number): number =>
          slowest.reduce((s, w) => s + f(w), 0) / slowest.length;
        const all = mean((w) => w.total);
        out(
          `  slowest 1 % (${slowest.length} webhooks, mean ${fmt(all, 0)} ms): normalizer ${fmt(
            mean((w) => w.normalizer),
            0,
          )} ms (${fmt((100 * mean((w) => w.normalizer)) / all, 0)} %), projection ${fmt(
            mean((w) => w.projection),
            0,
          )} ms (${fmt((100 * mean((w) => w.projection)) / all, 0)} %)`,
        );
      }
    }
    out(
      `services' batches from the measured window's start until the last row was visible (their /metrics):`,
    );
    for (const [name, b] of batchLines)
      if (b !== undefined)
        out(
          `  ${name}: ${fmt(b.batches, 0)} batches, ${fmt(b.records / b.batches, 1)} records each, ${fmt(b.meanBatchMs, 1)} ms each on average`,
        );
    out();
    const rows = latencyFigureRows(m);
    for (const line of renderFigureTable(rows, loadBefore, machineLoad())) out(line);
    failed = exitCodeOf(rows) !== 0;
    return exitCodeOf(rows);
  } finally {
    await stages?.stop().catch(() => undefined);
    await services.stop();
    await db.query(`drop schema if exists "${names.transcriptsSchema}" cascade`).catch(() => undefined);
    await db.query(`drop schema if exists "${names.analyticsSchema}" cascade`).catch(() => undefined);
    await db.query(`drop schema if exists "${names.privacySchema}" cascade`).catch(() => undefined);
    await db.end().catch(() => undefined);
    const admin = kafka.admin();
    await admin
      .connect()
      .then(async () => {
        const existing = new Set(await admin.listTopics());
        const ours = [
          names.rawTopic,
          names.chatEventsTopic,
          names.normalizerDlqTopic,
          `${names.transcriptsName}.dlq`,
        ];
        await admin.deleteTopics({ topics: ours.filter((t) => existing.has(t)) });
      })
      .catch(() => undefined)
      .finally(() => admin.disconnect().catch(() => undefined));
    if (failed || settings.keepLogs) progress(`service logs kept in ${services.logDir}`);
    else rmSync(services.logDir, { recursive: true, force: true });
    await stack.stop();
  }
}

main().then(
  (code) => {
    progress(code === 0 ? 'done' : 'done; a figure is INVALID (see the table)');
    process.exit(code);
  },
  (error: unknown) => {
    process.stderr.write(
      `\nlatency benchmark FAILED: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(1);
  },
);
