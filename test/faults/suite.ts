import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { loadStackSettings, stackStatus, stackUp, stopComponent } from '@livechat-pipeline/local-stack';
import { simulateTraffic, type Delivery, type ExpectedChat } from '@livechat-pipeline/traffic-simulator';
import { createTestDatabase, testKafka, uniqueName, type TestDatabase } from '@livechat-pipeline/testkit';
import { IngestMetricsWatch, spoolRecordCount } from './ingest-metrics.js';
import { LIVECHAT_TIMEOUT_MS, LiveChatSender, type SimulatedChat } from './livechat-sender.js';
import { describeSchedule, faultSchedule, FAULT_KINDS, type FaultKind, type FaultMode } from './schedule.js';
import { ServiceProcess } from './service-process.js';
import {
  differingTranscripts,
  rawTopicEventIds,
  tagsDecidable,
  waitForLedgerInViews,
} from './views-check.js';

/**
 * The fault suite: the real ingest, normalizer and transcripts as processes (started as `npm start` starts them)
 * on the managed local stack, LiveChat-like traffic at a steady rate, the seeded faults, and at the end the ledger
 * of acknowledged webhooks against the transcript views. See test/faults/README.md.
 */
export interface FaultSuiteOptions {
  readonly seed: number;
  readonly mode: FaultMode;
  /** The repository root (services are started from there). */
  readonly root: string;
  readonly say: (line: string) => void;
  /** Overrides the mode's webhooks per second. */
  readonly ratePerSecond?: number;
  /**
   * false: the ingest runs without its spool (INGEST_SPOOL_DIR unset: a webhook Kafka does not acknowledge in time
   * gets 503), to see the suite fail as it did before the spool existed.
   */
  readonly spool?: boolean;
}

export interface FaultSuiteResult {
  readonly seed: number;
  readonly mode: FaultMode;
  readonly runDir: string;
  readonly durationMs: number;
  readonly requests: number;
  readonly acked: number;
  readonly failures: Readonly<Record<string, number>>;
  readonly gaveUp: number;
  readonly chatsStarted: number;
  readonly incompleteChats: number;
  readonly comparedChats: number;
  /** Compared chats whose tags cannot be decided from their deliveries (see `tagsDecidable`). */
  readonly tagsNotCompared: number;
  readonly faults: Readonly<Record<FaultKind, number>>;
  /** Consumer kills that hit a ready process (the others hit one starting again after an earlier kill). */
  readonly killsAtWork: Readonly<Record<'normalizer-kill' | 'transcripts-kill', number>>;
  /** What happened to the faults that wait for a state (e.g. the spool never held records). */
  readonly faultNotes: readonly string[];
  /** Faults injected without the state they are meant for (e.g. an ingest kill while no spool drained). */
  readonly faultsOutOfState: readonly string[];
  readonly missing: number;
  /** Of the missing ones, those never written to the raw topic. */
  readonly missingFromRawTopic: number;
  readonly missingExamples: readonly string[];
  readonly differing: number;
  readonly differingExamples: readonly string[];
  readonly longestRequestMs: number;
  readonly p99RequestMs: number;
  readonly brokerDownMs: readonly number[];
  /** High-water mark of every spool metric of the ingest; empty when the ingest has none. */
  readonly spoolHighWater: Readonly<Record<string, number>>;
  readonly deadLetters: number;
  readonly unplannedExits: readonly string[];
  /** Problems of the run itself (a service that never came back, the chat pool exhausted). */
  readonly problems: readonly string[];
}

/** Modes' deadlines: how long a restarted service may take, and the end check's wait for the consumers. */
const RESTART_READY_TIMEOUT_MS = 300_000;
const CATCH_UP_TIMEOUT_MS: Record<FaultMode, number> = { quick: 90_000, full: 240_000 };
/** The ingest's spool segment size in the suite (see the environment below). */
const SPOOL_SEGMENT_BYTES = 256 * 1024;
/** Run folders kept (logs, ledger, spool): the newest, the older ones are removed at the start of a run. */
const KEPT_RUNS = 5;
/** How long the chats under way may take to send their last webhooks after the faults (LiveChat's retries included). */
const FINISH_TIMEOUT_MS = 120_000;
/** Simulated deliveries per chat, both formats together (v3 ≈ 13.6, v2 ≈ 4.4): to size the chat pool. */
const DELIVERIES_PER_CHAT = 9;

/** The local secrets `npm start` gives an unconfigured ingest (INGEST_LOCAL_DEV_SECRETS=true). */
const LOCAL_SECRET_KEY = 'local-dev-secret';
const LOCAL_BASIC_AUTH = `Basic ${Buffer.from('livechat:local-dev-password').toString('base64')}`;
/** Variables of the caller's environment passed to the services (no secrets, names or ports of the caller). */
const PASSED_THROUGH = /^(PATH|HOME|USER|TMPDIR|LANG|LC_.*|TZ|NODE_OPTIONS|JAVA_HOME)$/;

export async function runFaultSuite(options: FaultSuiteOptions): Promise<FaultSuiteResult> {
  const { seed, mode, root, say } = options;
  const schedule = faultSchedule(seed, mode);
  const rate = options.ratePerSecond ?? schedule.ratePerSecond;
  const runName = uniqueName(`faults-${seed}`);
  const runsDir = path.join(root, 'infra', '.local', 'fault-runs');
  pruneOldRuns(runsDir, KEPT_RUNS - 1);
  const runDir = path.join(runsDir, runName);
  mkdirSync(runDir, { recursive: true });
  say(
    `fault suite: FAULT_SEED=${seed} mode ${mode}, ${rate} webhooks/s${options.spool === false ? ', the ingest WITHOUT its spool' : ''}; run folder ${runDir}`,
  );
  for (const line of describeSchedule(schedule)) say(line);

  const settings = loadStackSettings();
  const { endpoints } = await stackUp(settings);
  const t0 = Date.now();
  const database = await createTestDatabase('faults');
  const pool = new pg.Pool({ connectionString: database.url, max: 2 });
  // A Postgres restart ends the pool's idle connections; the pool replaces them.
  pool.on('error', () => undefined);

  const names = {
    raw: uniqueName('faults-raw'),
    chatEvents: uniqueName('faults-chat-events'),
    normalizerDlq: uniqueName('faults-raw-dlq'),
    normalizerGroup: uniqueName('faults-normalizer'),
    transcripts: uniqueName('faults-transcripts'),
  };
  const ports = {
    INGEST_PORT: await freePort(),
    INGEST_OPERATIONS_PORT: await freePort(),
    NORMALIZER_PORT: await freePort(),
    TRANSCRIPTS_PORT: await freePort(),
  };
  const spoolDir = path.join(runDir, 'spool');
  const env: NodeJS.ProcessEnv = {
    ...Object.fromEntries(Object.entries(process.env).filter(([name]) => PASSED_THROUGH.test(name))),
    // What scripts/main.ts gives every service…
    KAFKA_BROKERS: endpoints.kafkaBrokers,
    SCHEMA_REGISTRY_URL: endpoints.schemaRegistryUrl,
    DATABASE_URL: database.url,
    INGEST_LOCAL_DEV_SECRETS: 'true',
    // …and what makes this run its own: names, ports, the ingest's spool.
    RAW_WEBHOOK_TOPIC: names.raw,
    CHAT_EVENTS_TOPIC: names.chatEvents,
    NORMALIZER_DLQ_TOPIC: names.normalizerDlq,
    NORMALIZER_GROUP_ID: names.normalizerGroup,
    TRANSCRIPTS_CONSUMER_NAME: names.transcripts,
    ...(options.spool === false
      ? {}
      : // Small segments: an outage's spool spans many, so segments roll while the drainer reads and are deleted
        // one by one as they drain (the default 16 MiB would hold a whole run in one).
        { INGEST_SPOOL_DIR: spoolDir, INGEST_SPOOL_SEGMENT_BYTES: String(SPOOL_SEGMENT_BYTES) }),
    ...Object.fromEntries(Object.entries(ports).map(([name, port]) => [name, String(port)])),
    // A service restarted during a broker outage waits for the broker instead of giving up after 60 s.
    INGEST_STARTUP_TIMEOUT_MS: '600000',
    NORMALIZER_STARTUP_TIMEOUT_MS: '600000',
    TRANSCRIPTS_STARTUP_TIMEOUT_MS: '600000',
    LOG_LEVEL: 'info',
  };
  const ingestUrl = `http://127.0.0.1:${ports.INGEST_PORT}`;
  const operationsUrl = `http://127.0.0.1:${ports.INGEST_OPERATIONS_PORT}`;
  const unplannedExits: string[] = [];
  const problems: string[] = [];
  const service = (
    name: 'ingest' | 'normalizer' | 'transcripts',
    readyUrl: string,
    nodeFlags: string[] = [],
  ) =>
    new ServiceProcess({
      name,
      root,
      env,
      nodeFlags,
      readyUrl,
      logFile: path.join(runDir, `${name}.log`),
      onUnplannedExit: (n, code, signal) => {
        unplannedExits.push(`${n} exited (${signal ?? code}) at ${elapsed()}`);
        say(`fault suite: ${n} exited on its own (${signal ?? code}); started again`);
      },
    });
  // The ingest as scripts/main.ts runs it (with its node flag); it counts as back once it listens.
  const ingest = service('ingest', `${ingestUrl}/healthz`, ['--max-semi-space-size=4']);
  const normalizer = service('normalizer', `http://127.0.0.1:${ports.NORMALIZER_PORT}/readyz`);
  const transcripts = service('transcripts', `http://127.0.0.1:${ports.TRANSCRIPTS_PORT}/readyz`);
  const services = [ingest, normalizer, transcripts];
  const metrics = new IngestMetricsWatch(`${operationsUrl}/metrics`);
  let sender: LiveChatSender | undefined;
  const elapsed = () =>
    sender === undefined ? '-' : `${((performance.now() - sender.startedAt) / 1000).toFixed(1)} s`;

  try {
    await ingest.start(120_000);
    await Promise.all([normalizer.start(120_000), transcripts.start(120_000)]);
    say(`fault suite: services ready in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    metrics.start();

    const chats = simulatedChats(seed, rate, schedule);
    sender = new LiveChatSender({
      ingestUrl,
      chats,
      ratePerSecond: rate,
      concurrentChats: 24,
      maxActiveChats: 48,
      basicAuth: LOCAL_BASIC_AUTH,
      ledgerFile: path.join(runDir, 'ledger.jsonl'),
    });
    const faults = Object.fromEntries(FAULT_KINDS.map((k) => [k, 0])) as Record<FaultKind, number>;
    const faultNotes: string[] = [];
    const faultsOutOfState: string[] = [];
    const killsAtWork = { 'normalizer-kill': 0, 'transcripts-kill': 0 };
    const brokerDownMs: number[] = [];
    const activeSender = sender;
    const at = async (ms: number) => {
      const wait = activeSender.startedAt + ms - performance.now();
      if (wait > 0) await sleep(wait);
    };
    const note = (line: string) => {
      faultNotes.push(`${elapsed()}: ${line}`);
      say(`fault suite: ${elapsed()}: ${line}`);
    };

    /** SIGKILL, then started again at once; the restart's readiness is awaited by whoever needs it. */
    const killAndRestart = async (target: ServiceProcess, kind: FaultKind, why: string) => {
      await target.kill();
      faults[kind]++;
      note(`${target.name} SIGKILLed (${why})`);
      target.start(RESTART_READY_TIMEOUT_MS).catch((error: unknown) => {
        problems.push(
          `${target.name} did not come back: ${error instanceof Error ? error.message : String(error)}`,
        );
      });
    };

    // One loop per consumer: waiting for one to be back does not hold up the other's kills.
    const consumerKills = async (kind: 'normalizer-kill' | 'transcripts-kill') => {
      for (const kill of schedule.consumerKills.filter((k) => k.kind === kind)) {
        await at(kill.atMs);
        const target = kill.kind === 'normalizer-kill' ? normalizer : transcripts;
        // Whatever the service is doing then: consuming, committing, starting again, joining its group (the long
        // mode first lets a restart under way finish, for a while).
        if (!target.isReady() && schedule.killWaitsForReadyMs > 0)
          await Promise.race([target.ready().catch(() => undefined), sleep(schedule.killWaitsForReadyMs)]);
        const atWork = target.isReady();
        if (atWork) killsAtWork[kill.kind]++;
        await killAndRestart(target, kill.kind, atWork ? 'at work' : 'while starting again');
      }
    };

    const stackFaults = async () => {
      for (const fault of schedule.stackFaults) {
        await at(fault.atMs);
        if (fault.kind === 'postgres-restart') {
          note('restarting Postgres (fast shutdown, as pg_ctl restart)');
          await restartPostgres(settings);
          faults['postgres-restart']++;
          note('Postgres back');
          continue;
        }
        note('stopping Kafka');
        await stopComponent('kafka', settings);
        const downAt = performance.now();
        note(`Kafka stopped; down for ${(fault.downMs / 1000).toFixed(0)} s`);
        // The ingest is killed while the spool holds records (or, with no spool records by then, anyway).
        await sleep(fault.ingestKillAfterMs);
        const spooling = await waitForSpool(metrics, (n) => n > 0, downAt + fault.downMs - 5_000);
        if (spooling === undefined) faultsOutOfState.push('ingest-kill-spooling: the spool held no records');
        await killAndRestart(
          ingest,
          'ingest-kill-spooling',
          spooling === undefined
            ? 'the spool never held a record during the outage'
            : `spool holding ${spooling} records`,
        );
        const remaining = downAt + fault.downMs - performance.now();
        if (remaining > 0) await sleep(remaining);
        note('starting Kafka');
        // The ingest is killed again while the spool drains: records leaving it after the broker is back.
        metrics.setInterval(25);
        const draining = watchDraining(metrics);
        await stackUp(settings);
        brokerDownMs.push(Math.round(performance.now() - downAt));
        faults['kafka-outage']++;
        note('Kafka back');
        const drained = await Promise.race([
          draining.seen,
          sleep(60_000).then(() => undefined),
          ingest.ready().then(() => sleep(10_000).then(() => undefined)),
        ]);
        draining.cancel();
        metrics.setInterval(200);
        if (drained === undefined) faultsOutOfState.push('ingest-kill-draining: no spool draining seen');
        await killAndRestart(
          ingest,
          'ingest-kill-draining',
          drained === undefined
            ? 'no spool draining seen after the outage'
            : `spool draining: ${drained.from} → ${drained.to} records`,
        );
      }
    };

    sender.start();
    say('fault suite: traffic started');
    await Promise.all([stackFaults(), consumerKills('normalizer-kill'), consumerKills('transcripts-kill')]);
    await sleep(schedule.tailMs);
    say(`fault suite: ${elapsed()}: faults done; letting every started chat finish`);
    const { unfinished } = await sender.finish(FINISH_TIMEOUT_MS);
    if (unfinished > 0)
      problems.push(
        `${unfinished} chats still sending ${FINISH_TIMEOUT_MS / 1000} s after the faults (counted incomplete)`,
      );
    const stats = sender.stats();
    if (stats.exhausted) problems.push('the senders ran out of simulated chats before the end of the faults');
    say(
      `fault suite: ${elapsed()}: traffic done (${stats.acked} webhooks acknowledged); waiting for the views`,
    );
    // Every service back (a restart under way may still be joining its group), within the catch-up deadline.
    const readyBy = performance.now() + CATCH_UP_TIMEOUT_MS[mode];
    for (const s of services) {
      const outcome = await Promise.race([
        s.ready().then(
          () => 'ready',
          (error: unknown) => (error instanceof Error ? error.message : String(error)),
        ),
        sleep(Math.max(0, readyBy - performance.now())).then(() => 'still not ready'),
      ]);
      if (outcome !== 'ready') problems.push(`${s.name} not ready at the end: ${outcome}`);
    }
    await metrics.scrape();
    metrics.stop();

    const projection = await waitForLedgerInViews(pool, {
      schema: 'transcripts',
      consumer: names.transcripts,
      ledger: sender.ledger,
      timeoutMs: CATCH_UP_TIMEOUT_MS[mode],
    });
    say(
      `fault suite: ${projection.expectedEventIds} chat events of ${sender.ledger.length} acknowledged webhooks checked in ${(projection.waitedMs / 1000).toFixed(1)} s`,
    );
    // Where the missing ones were lost: never on the raw topic (the ingest), or after it (a consumer).
    const onRawTopic =
      projection.missing.length === 0
        ? new Set<string>()
        : await rawTopicEventIds(names.raw, endpoints.schemaRegistryUrl);
    const complete = sender.finishedChats.filter((c) => !sender!.incompleteChats.has(c.key));
    const differing = await differingTranscripts(pool, 'transcripts', complete);
    const deadLetters = await topicRecords([names.normalizerDlq, `${names.transcripts}.dlq`]);

    return {
      seed,
      mode,
      runDir,
      durationMs: Date.now() - t0,
      requests: stats.requests,
      acked: stats.acked,
      failures: stats.failures,
      gaveUp: stats.gaveUp,
      chatsStarted: stats.chatsStarted,
      incompleteChats: sender.incompleteChats.size,
      comparedChats: complete.length,
      tagsNotCompared: complete.filter((c) => !tagsDecidable(c)).length,
      faults,
      killsAtWork,
      faultNotes,
      faultsOutOfState,
      missing: projection.missing.length,
      missingFromRawTopic: projection.missing.filter(({ entry }) => !onRawTopic.has(entry.eventId)).length,
      missingExamples: projection.missing
        .slice(0, 10)
        .map(
          ({ entry, missingEventIds }) =>
            `${entry.chatKey} webhook #${entry.emissionIndex} (${entry.kind}, ingest event_id ${entry.eventId}, acked at ${(entry.ackedAtMs / 1000).toFixed(1)} s): ${missingEventIds.length} chat event(s) not in the views; ${onRawTopic.has(entry.eventId) ? 'on the raw topic (lost by a consumer)' : 'not on the raw topic (lost by the ingest)'}`,
        ),
      differing: differing.length,
      differingExamples: differing.slice(0, 10),
      longestRequestMs: stats.longestRequestMs,
      p99RequestMs: stats.p99RequestMs,
      brokerDownMs,
      spoolHighWater: Object.fromEntries(metrics.highWater),
      deadLetters,
      unplannedExits,
      problems,
    };
  } finally {
    sender?.abort();
    metrics.stop();
    await Promise.all(services.map((s) => s.close()));
    await pool.end().catch(() => undefined);
    await dropDatabase(database);
  }
}

/** Chats of both formats, alternating, enough for the whole run at the offered rate. */
function simulatedChats(
  seed: number,
  rate: number,
  schedule: ReturnType<typeof faultSchedule>,
): SimulatedChat[] {
  const last = schedule.stackFaults.at(-1);
  const lastEndMs =
    last === undefined ? 0 : last.atMs + (last.kind === 'kafka-outage' ? last.downMs + 60_000 : 30_000);
  const runMs = lastEndMs + schedule.tailMs + 60_000;
  const perFormat = Math.ceil(((rate * runMs) / 1000 / DELIVERIES_PER_CHAT) * 0.75);
  const common = { chats: perFormat, duplicateRate: 0.15, reorderRate: 0.15 };
  const v3 = simulateTraffic({ ...common, seed: seed ^ 0x3, format: 'v3', secretKey: LOCAL_SECRET_KEY });
  const v2 = simulateTraffic({ ...common, seed: seed ^ 0x2, format: 'v2' });
  const byChat = (
    deliveries: readonly Delivery[],
    expected: readonly ExpectedChat[],
    format: 'v2' | 'v3',
  ) => {
    const grouped = new Map<string, Delivery[]>();
    for (const d of deliveries) grouped.set(d.chatId, [...(grouped.get(d.chatId) ?? []), d]);
    return expected.map((chat): SimulatedChat => {
      const tenant = format === 'v3' ? chat.tenant.organizationId : chat.tenant.licenseId;
      return {
        key: `${format}/${tenant}/${chat.chatId}`,
        format,
        tenant,
        chatId: chat.chatId,
        deliveries: grouped.get(chat.chatId) ?? [],
        expected: chat,
      };
    });
  };
  const a = byChat(v3.deliveries, v3.expected, 'v3');
  const b = byChat(v2.deliveries, v2.expected, 'v2');
  return Array.from({ length: a.length + b.length }, (_, i) => (i % 2 === 0 ? a[i >> 1] : b[i >> 1])).filter(
    (c): c is SimulatedChat => c !== undefined,
  );
}

/**
 * Postgres's fast shutdown (SIGINT: open sessions are ended, as `pg_ctl restart` does; the launcher's own stop sends
 * SIGTERM, a smart shutdown that waits for every client to leave, which under load is its 20 s grace and a SIGKILL),
 * then the launcher starts it again and waits until it and the registry on it are healthy.
 */
async function restartPostgres(settings: ReturnType<typeof loadStackSettings>): Promise<void> {
  const pid = (await stackStatus(settings)).find((c) => c.component === 'postgres')?.pid;
  if (pid !== undefined) {
    process.kill(pid, 'SIGINT');
    const deadline = Date.now() + 30_000;
    while (isAlive(pid) && Date.now() < deadline) await sleep(50);
  }
  // Removes the pid file (and stops it the launcher's way if the fast shutdown did not end it).
  await stopComponent('postgres', settings);
  await stackUp(settings);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Waits for a spool record count that satisfies `test`, until `deadline` (performance.now() time). */
async function waitForSpool(
  metrics: IngestMetricsWatch,
  test: (records: number) => boolean,
  deadline: number,
): Promise<number | undefined> {
  for (;;) {
    const records = spoolRecordCount(metrics.latest());
    if (records !== undefined && test(records)) return records;
    // An ingest without spool metrics has nothing to wait for.
    if (records === undefined || performance.now() >= deadline) return undefined;
    await sleep(50);
  }
}

/** Resolves once the spool is seen shrinking while it still holds records (the drainer at work). */
function watchDraining(metrics: IngestMetricsWatch): {
  seen: Promise<{ from: number; to: number }>;
  cancel: () => void;
} {
  let highest = 0;
  let cancel: () => void = () => undefined;
  const seen = new Promise<{ from: number; to: number }>((resolve) => {
    cancel = metrics.watch((latest) => {
      const records = spoolRecordCount(latest);
      if (records === undefined) return false;
      highest = Math.max(highest, records);
      if (records > 0 && records < highest) {
        resolve({ from: highest, to: records });
        return true;
      }
      return false;
    });
  });
  return { seen, cancel };
}

function pruneOldRuns(runsDir: string, keep: number): void {
  if (!existsSync(runsDir)) return;
  const runs = readdirSync(runsDir)
    .map((name) => ({ dir: path.join(runsDir, name), mtime: statSync(path.join(runsDir, name)).mtimeMs }))
    .sort((a, b) => b.mtime - a.mtime);
  for (const run of runs.slice(keep)) rmSync(run.dir, { recursive: true, force: true });
}

async function topicRecords(topics: readonly string[]): Promise<number> {
  const admin = testKafka('faults-admin').admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    let total = 0;
    for (const topic of topics.filter((t) => existing.has(t)))
      for (const o of await admin.fetchTopicOffsets(topic)) total += Number(o.high) - Number(o.low);
    return total;
  } finally {
    await admin.disconnect();
  }
}

async function dropDatabase(database: TestDatabase): Promise<void> {
  // Postgres may be coming back from a restart fault of a failed run.
  for (let attempt = 0; attempt < 20; attempt++) {
    try {
      await database.drop();
      return;
    } catch {
      await sleep(500);
    }
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address !== null
          ? resolve(address.port)
          : reject(new Error('no port')),
      );
    });
  });
}

/** The suite's verdict: each line a broken promise of the pipeline (empty: passed). */
export function failedChecks(result: FaultSuiteResult): string[] {
  const failed: string[] = [];
  if (result.missing > 0) failed.push(`${result.missing} acknowledged webhooks missing from the views`);
  if (result.differing > 0)
    failed.push(`${result.differing} chats whose transcript differs from the expected one`);
  if (result.incompleteChats > 0)
    failed.push(
      `${result.incompleteChats} chats incomplete (${result.gaveUp} webhooks given up after LiveChat's retries)`,
    );
  if (result.longestRequestMs >= LIVECHAT_TIMEOUT_MS)
    failed.push(`a request took ${Math.round(result.longestRequestMs)} ms (LiveChat's timeout is 10 s)`);
  if (result.deadLetters > 0) failed.push(`${result.deadLetters} dead letters`);
  // A service must survive every fault here by itself (a Postgres restart once crashed transcripts).
  if (result.unplannedExits.length > 0)
    failed.push(`services exited on their own: ${result.unplannedExits.join('; ')}`);
  failed.push(...result.problems);
  return failed;
}
