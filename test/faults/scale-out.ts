import { mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { availableParallelism, loadavg } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { loadStackSettings, stackUp } from '@livechat-pipeline/local-stack';
import { simulateTraffic, type Delivery, type ExpectedChat } from '@livechat-pipeline/traffic-simulator';
import { createTestDatabase, testKafka, uniqueName } from '@livechat-pipeline/testkit';
import { analyticsConsumer, loadAnalyticsConfig } from '@livechat-pipeline/analytics';
import { rebuild } from '@livechat-pipeline/postgres-consumer';
import { checkHubSpot, HubSpotFakeProcess } from './hubspot-check.js';
import { LiveChatSender, type LedgerEntry, type SimulatedChat } from './livechat-sender.js';
import { ServiceProcess } from './service-process.js';
import { differingTranscripts, expectedChatEventIds, waitForLedgerInViews } from './views-check.js';

/**
 * The scale-out run (`FAULT_MODE=scale-out pnpm test:faults`): topics of 6 partitions, the ingest, the normalizer,
 * transcripts, analytics and crm-sync (against the HubSpot fake, over HTTP) as real processes, first one of each,
 * then two of each (two ingests on their own ports, fed alternately; the consumers two per group), then one of
 * each SIGKILLed mid-stream and started again later (rebalances both ways).
 *
 * With one and with two processes of each kind it measures a steady state: the groups joined first, then webhooks
 * sent as fast as the ingests answer; after a warm-up, each stage's work over `steadySeconds` (webhooks accepted,
 * raw records normalized, distinct chat events applied by each projection, notes written to HubSpot).
 *
 * Prints each group's partition assignment at every step and the throughput table; fails unless every chat of
 * every phase is exact in the transcripts views, each projection applied exactly the chat events of the
 * acknowledged webhooks, analytics equals a one-process rebuild, and every closed chat has exactly one contact and
 * one note in HubSpot with the crm-sync outbox settled.
 */
export interface ScaleOutResult {
  readonly runDir: string;
  readonly lines: readonly string[];
  readonly failed: readonly string[];
}

export interface ScaleOutOptions {
  readonly root: string;
  readonly seed: number;
  readonly say: (line: string) => void;
  /** The measured window of each steady phase (after the warm-up), seconds. */
  readonly steadySeconds?: number;
}

export const DEFAULT_STEADY_SECONDS = 20;
const PARTITIONS = 6;
const LOCAL_SECRET_KEY = 'local-dev-secret';
const LOCAL_BASIC_AUTH = `Basic ${Buffer.from('livechat:local-dev-password').toString('base64')}`;
const PASSED_THROUGH = /^(PATH|HOME|USER|TMPDIR|LANG|LC_.*|TZ|NODE_OPTIONS|JAVA_HOME)$/;
/**
 * A steady phase: webhooks sent as fast as the ingests answer (the rate is far above what they take; 24 chats at
 * once, each chat's webhooks one after another: enough requests in flight to keep two ingests busy on this
 * machine, few enough that a chat closes within seconds, so that notes flow to HubSpot during the window), measured
 * after a warm-up (first records of each consumer, the first chats closed, JIT, connection pools) so that only the
 * steady state counts.
 */
const STEADY = { warmUpSeconds: 8, rate: 5_000, concurrentChats: 24, maxActiveChats: 48 } as const;
/** More webhooks per second than this machine's ingests take: the chat pool of a steady phase never runs out. */
const WEBHOOKS_PER_SECOND_CEILING = 700;
/** The fault phase: its rate, its length, and when one process of each kind is killed and started again. */
const FAULT_PHASE = { rate: 40, ms: 40_000, killAtMs: 10_000, restartAtMs: 25_000, chats: 260 } as const;
/** HubSpot (the fake): one private-app token (portal); limits far above the run so that HubSpot is no bottleneck. */
const HUBSPOT = { token: 'pat-na1-scale-out', portal: 7117, tenSecondlyLimit: 1_000_000 } as const;

/** The admin client of the testkit's Kafka (kafkajs), for group and offset reads. */
type Admin = ReturnType<ReturnType<typeof testKafka>['admin']>;
type Kind = 'ingest' | 'normalizer' | 'transcripts' | 'analytics' | 'crm-sync';
type Instance = 'a' | 'b';
interface Names {
  readonly raw: string;
  readonly chatEvents: string;
  readonly normalizerGroup: string;
  readonly transcripts: string;
  readonly analytics: string;
  readonly crm: string;
}
/** The consumer groups, with the label they are printed under. */
const groupsOf = (names: Names) =>
  [
    { label: 'normalizer group', id: names.normalizerGroup },
    { label: 'transcripts group', id: names.transcripts },
    { label: 'analytics group', id: names.analytics },
    { label: 'crm-sync group', id: names.crm },
  ] as const;
/** The projections: Postgres schema and consumer name (`_dedup` records). */
const projectionsOf = (names: Names) =>
  [
    { schema: 'transcripts', consumer: names.transcripts, label: 'transcripts' },
    { schema: 'analytics', consumer: names.analytics, label: 'analytics' },
    { schema: 'crm', consumer: names.crm, label: 'crm-sync' },
  ] as const;

/** What each stage has done by one instant of a steady phase. */
interface StageSample {
  readonly atMs: number;
  readonly acked: number;
  readonly rawNormalized: number;
  readonly chatEventsProduced: number;
  readonly applied: readonly number[];
  readonly notes: number;
}
interface SteadyResult {
  readonly seconds: number;
  readonly perSecond: { readonly stage: string; readonly value: number }[];
  readonly loadBefore: number;
  readonly loadAfter: number;
  readonly drainSeconds: number;
}

export async function runScaleOut(options: ScaleOutOptions): Promise<ScaleOutResult> {
  const { root, seed, say } = options;
  const steadySeconds = options.steadySeconds ?? DEFAULT_STEADY_SECONDS;
  const runDir = path.join(root, 'infra', '.local', 'fault-runs', uniqueName(`scale-out-${seed}`));
  mkdirSync(runDir, { recursive: true });
  const lines: string[] = [];
  const failed: string[] = [];
  const report = (line: string) => {
    lines.push(line);
    say(`scale-out: ${line}`);
  };
  const { endpoints } = await stackUp(loadStackSettings());
  const database = await createTestDatabase('scaleout');
  const pool = new pg.Pool({ connectionString: database.url, max: 4 });
  pool.on('error', () => undefined);
  const fake = await HubSpotFakeProcess.start(root, {
    tokens: { [HUBSPOT.token]: HUBSPOT.portal },
    tenSecondlyLimit: HUBSPOT.tenSecondlyLimit,
  });
  const admin = testKafka('scale-out-admin').admin();
  await admin.connect();
  const names: Names = {
    raw: uniqueName('scale-raw'),
    chatEvents: uniqueName('scale-chat-events'),
    normalizerGroup: uniqueName('scale-normalizer'),
    transcripts: uniqueName('scale-transcripts'),
    analytics: uniqueName('scale-analytics'),
    crm: uniqueName('scale-crm-sync'),
  };
  const projections = projectionsOf(names);
  const common: NodeJS.ProcessEnv = {
    ...Object.fromEntries(Object.entries(process.env).filter(([name]) => PASSED_THROUGH.test(name))),
    KAFKA_BROKERS: endpoints.kafkaBrokers,
    SCHEMA_REGISTRY_URL: endpoints.schemaRegistryUrl,
    DATABASE_URL: database.url,
    INGEST_LOCAL_DEV_SECRETS: 'true',
    RAW_WEBHOOK_TOPIC: names.raw,
    RAW_WEBHOOK_TOPIC_PARTITIONS: String(PARTITIONS),
    CHAT_EVENTS_TOPIC: names.chatEvents,
    CHAT_EVENTS_TOPIC_PARTITIONS: String(PARTITIONS),
    NORMALIZER_DLQ_TOPIC: `${names.raw}.dlq`,
    NORMALIZER_GROUP_ID: names.normalizerGroup,
    TRANSCRIPTS_CONSUMER_NAME: names.transcripts,
    ANALYTICS_CONSUMER_NAME: names.analytics,
    LOG_LEVEL: 'info',
  };
  // crm-sync as services/crm-sync's tests configure it against the fake (test/support/harness.ts): the fake
  // writes at once, so an ambiguous create (a process killed after sending it) is looked up without waiting; a
  // 15 s lease gives a killed worker's claimed rows back within the fault phase (well above the 5 s HubSpot
  // timeout, which a loaded 2-core machine needs).
  const crmEnv: NodeJS.ProcessEnv = {
    CRM_CONSUMER_NAME: names.crm,
    CRM_SCHEMA: 'crm',
    HUBSPOT_API_URL: fake.url,
    HUBSPOT_ACCESS_TOKEN: HUBSPOT.token,
    HUBSPOT_TIMEOUT_MS: '5000',
    HUBSPOT_LOOKUP_DELAY_MS: '0',
    HUBSPOT_BURST: '10000',
    HUBSPOT_BURST_WINDOW_MS: '1000',
    CRM_WORKER_LEASE_MS: '15000',
    CRM_WORKER_POLL_MS: '100',
    CRM_SETTLE_MS: '500',
    CRM_BACKOFF_INITIAL_MS: '100',
    CRM_BACKOFF_MAX_MS: '2000',
  };
  const processes: ServiceProcess[] = [];
  const ingestUrls: Partial<Record<Instance, string>> = {};
  const unplanned: string[] = [];
  const crmPorts: number[] = [];
  const make = async (kind: Kind, instance: Instance) => {
    const port = await freePort();
    const env: NodeJS.ProcessEnv = { ...common, KAFKA_CLIENT_ID: `${kind}-${instance}` };
    let readyUrl = `http://127.0.0.1:${port}/readyz`;
    if (kind === 'ingest') {
      env['INGEST_PORT'] = String(port);
      env['INGEST_OPERATIONS_PORT'] = String(await freePort());
      env['INGEST_SPOOL_DIR'] = path.join(runDir, `spool-${instance}`);
      ingestUrls[instance] = `http://127.0.0.1:${port}`;
      readyUrl = `http://127.0.0.1:${port}/healthz`;
    } else if (kind === 'crm-sync') {
      Object.assign(env, crmEnv, { CRM_PORT: String(port) });
      crmPorts.push(port);
    } else {
      env[`${kind.toUpperCase()}_PORT`] = String(port);
    }
    const process = new ServiceProcess({
      name: kind,
      root,
      env,
      nodeFlags: kind === 'ingest' ? ['--max-semi-space-size=4'] : [],
      readyUrl,
      logFile: path.join(runDir, `${kind}-${instance}.log`),
      onUnplannedExit: (n, code, signal) => unplanned.push(`${n}-${instance} exited (${signal ?? code})`),
    });
    processes.push(process);
    return process;
  };
  const urlsOf = (...instances: Instance[]) => instances.map((i) => ingestUrls[i]!);

  // Enough chats for two steady phases at more webhooks per second than the ingests take, and the fault phase.
  const chatsPerSteadyPhase = Math.ceil(
    ((STEADY.warmUpSeconds + steadySeconds + 5) * WEBHOOKS_PER_SECOND_CEILING) / 12,
  );
  const allChats = simulatedChats(seed, chatsPerSteadyPhase * 2 + FAULT_PHASE.chats);
  let nextChat = 0;
  const takeChats = (count: number) => allChats.slice(nextChat, nextChat + count);
  const finishedChats: SimulatedChat[] = [];
  const incomplete = new Set<string>();
  const ledger: LedgerEntry[] = [];

  /** Every chat event of the ledger applied by every projection (their `_dedup` records). */
  const waitForViews = async (entries: readonly LedgerEntry[], label: string) => {
    for (const { schema, consumer } of projections) {
      const wait = await waitForLedgerInViews(pool, {
        schema,
        consumer,
        ledger: entries,
        timeoutMs: 180_000,
      });
      if (wait.missing.length > 0)
        failed.push(`${label}: ${wait.missing.length} acked webhooks missing from the ${schema} views`);
    }
  };
  const collect = (sender: LiveChatSender) => {
    ledger.push(...sender.ledger);
    finishedChats.push(...sender.finishedChats);
    for (const key of sender.incompleteChats) incomplete.add(key);
  };
  const sample = async (sender: LiveChatSender): Promise<StageSample> => {
    const atMs = performance.now();
    const acked = sender.ledger.length;
    const [notes, rawNormalized, chatEventsProduced, ...applied] = await Promise.all([
      fake.notes().then((all) => all.length),
      committedRecords(admin, names.normalizerGroup, names.raw),
      topicRecords(admin, names.chatEvents),
      ...projections.map(async ({ schema, consumer }) => {
        const { rows } = await pool.query<{ n: string }>(
          `select count(*)::text as n from "${schema}"._dedup where consumer = $1`,
          [consumer],
        );
        return Number(rows[0]!.n);
      }),
    ]);
    return { atMs, acked, rawNormalized, chatEventsProduced, applied, notes };
  };

  /**
   * A steady phase: groups already joined; webhooks as fast as the ingests answer; after the warm-up, each stage's
   * work over the measured window. Then the sender stops starting chats, the started ones finish, and every event
   * is waited for in the views (not measured).
   */
  const steadyPhase = async (label: string, urls: string[]): Promise<SteadyResult> => {
    const sender = new LiveChatSender({
      ingestUrl: urls,
      chats: takeChats(chatsPerSteadyPhase),
      ratePerSecond: STEADY.rate,
      concurrentChats: STEADY.concurrentChats,
      maxActiveChats: STEADY.maxActiveChats,
      basicAuth: LOCAL_BASIC_AUTH,
      ledgerFile: path.join(runDir, `ledger-${label}.jsonl`),
    });
    const loadBefore = loadavg()[0]!;
    sender.start();
    await sleep(STEADY.warmUpSeconds * 1000);
    const first = await sample(sender);
    // The measured window is a fixed length of time by design (a rate), not a wait for a condition.
    await sleep(Math.max(0, first.atMs + steadySeconds * 1000 - performance.now()));
    const last = await sample(sender);
    const loadAfter = loadavg()[0]!;
    if (sender.stats().exhausted)
      failed.push(`${label}: the chat pool ran out inside the measured window (rates undercounted)`);
    const { unfinished } = await sender.finish(120_000);
    if (unfinished > 0) failed.push(`${label}: ${unfinished} chats still sending at the end`);
    nextChat += sender.stats().chatsStarted;
    collect(sender);
    const windowEnd = performance.now();
    await waitForViews(sender.ledger, label);
    const outbox = await waitForOutboxSettled(pool, 180_000);
    if (outbox.unsettled > 0)
      failed.push(`${label}: ${outbox.unsettled} crm-sync outbox rows not done 180 s after the window`);
    const seconds = (last.atMs - first.atMs) / 1000;
    const per = (a: number, b: number) => (b - a) / seconds;
    return {
      seconds,
      loadBefore,
      loadAfter,
      drainSeconds: (performance.now() - windowEnd) / 1000,
      perSecond: [
        { stage: 'ingest: webhooks accepted (200)', value: per(first.acked, last.acked) },
        { stage: 'normalizer: raw records normalized', value: per(first.rawNormalized, last.rawNormalized) },
        {
          stage: 'normalizer: chat events produced',
          value: per(first.chatEventsProduced, last.chatEventsProduced),
        },
        ...projections.map(({ label: name }, i) => ({
          stage: `${name}: distinct chat events applied`,
          value: per(first.applied[i]!, last.applied[i]!),
        })),
        { stage: 'crm-sync: notes created in HubSpot', value: per(first.notes, last.notes) },
      ],
    };
  };

  try {
    const kinds: Kind[] = ['ingest', 'normalizer', 'transcripts', 'analytics', 'crm-sync'];
    const as: ServiceProcess[] = [];
    for (const kind of kinds) as.push(await make(kind, 'a'));
    await as[0]!.start(120_000);
    await Promise.all(as.slice(1).map((p) => p.start(120_000)));
    report(
      `topics of ${PARTITIONS} partitions; HubSpot fake at ${fake.url}; run folder ${runDir}; ${availableParallelism()} cores`,
    );
    await waitForMembers(admin, names, 1);
    await printAssignments(admin, report, 'one process of each kind', names);
    const one = await steadyPhase('one', urlsOf('a'));

    const bs: ServiceProcess[] = [];
    for (const kind of kinds) bs.push(await make(kind, 'b'));
    await Promise.all(bs.map((p) => p.start(120_000)));
    await waitForMembers(admin, names, 2);
    await printAssignments(admin, report, 'two processes of each kind (rebalanced up)', names);
    const two = await steadyPhase('two', urlsOf('a', 'b'));
    for (const line of throughputTable(one, two, steadySeconds)) report(line);

    // The fault phase: steady traffic to both ingests; one process of each kind killed, started again later.
    const sender = new LiveChatSender({
      ingestUrl: urlsOf('a', 'b'),
      chats: takeChats(FAULT_PHASE.chats),
      ratePerSecond: FAULT_PHASE.rate,
      concurrentChats: 24,
      maxActiveChats: 48,
      basicAuth: LOCAL_BASIC_AUTH,
      ledgerFile: path.join(runDir, 'ledger-faults.jsonl'),
    });
    const bNames = kinds.map((k) => `${k}-b`).join(', ');
    // Every note create is written at once and answered 300 ms later: a SIGKILL in that time leaves an ambiguous
    // create (written, never recorded), which the next claim of the row must find by its sync key, not repeat.
    await fake.setFaults(
      [{ target: 'notes-create', rate: 1, fault: { kind: 'answer-late', ms: 300 } }],
      seed,
    );
    sender.start();
    await sleep(FAULT_PHASE.killAtMs);
    await Promise.all(bs.map((p) => p.kill()));
    report(`${(FAULT_PHASE.killAtMs / 1000).toFixed(0)} s into steady traffic: SIGKILLed ${bNames}`);
    const atKill = await pool.query<{ ambiguous: string; claimed: string }>(
      `select (select count(*) from crm.notes where create_started_at is not null and note_id is null)::text as ambiguous,
              (select count(*) from crm.outbox where status = 'pending' and claimed_until > now())::text as claimed`,
    );
    report(
      `  crm-sync right after the kills: ${atKill.rows[0]!.claimed} outbox rows claimed (leases running), ${atKill.rows[0]!.ambiguous} note creates sent and not yet answered (either process)`,
    );
    await waitForMembers(admin, names, 1);
    await printAssignments(admin, report, 'after the kills (rebalanced down)', names);
    await sleep(FAULT_PHASE.restartAtMs - FAULT_PHASE.killAtMs);
    await Promise.all(bs.map((p) => p.start(120_000)));
    report(`${bNames} started again, 15 s after the groups rebalanced without them`);
    await waitForMembers(admin, names, 2);
    await printAssignments(admin, report, 'after the restarts (rebalanced up)', names);
    await sleep(Math.max(0, FAULT_PHASE.ms - FAULT_PHASE.restartAtMs));
    const { unfinished } = await sender.finish(120_000);
    if (unfinished > 0) failed.push(`${unfinished} chats still sending at the end of the fault phase`);
    if (sender.stats().exhausted) failed.push('the fault phase ran out of chats before its end');
    const stats = sender.stats();
    collect(sender);
    report(
      `fault phase: ${stats.acked} webhooks acknowledged, ${
        Object.entries(stats.failures)
          .map(([k, v]) => `${v} × ${k}`)
          .join(', ') || 'no failed request'
      }, ${stats.gaveUp} given up`,
    );
    await waitForViews(sender.ledger, 'fault phase');

    const complete = finishedChats.filter((c) => !incomplete.has(c.key));
    const differing = await differingTranscripts(pool, 'transcripts', complete);
    // Every chat event applied exactly once by each consumer: its `_dedup` records are exactly the events the
    // acknowledged webhooks yield (none missing, none from anywhere else).
    const expectedIds = new Set(ledger.flatMap((entry) => expectedChatEventIds(entry)));
    const appliedBy: string[] = [];
    for (const { schema, consumer, label } of projections) {
      const { rows } = await pool.query<{ event_id: string }>(
        `select event_id from "${schema}"._dedup where consumer = $1`,
        [consumer],
      );
      appliedBy.push(`by ${label} ${rows.length}`);
      const extra = rows.filter((r) => !expectedIds.has(r.event_id)).length;
      const missing = expectedIds.size - (rows.length - extra);
      if (extra > 0 || missing > 0)
        failed.push(
          `${label} applied ${rows.length} chat events: ${missing} expected ones missing, ${extra} unexpected`,
        );
    }
    report(
      `end check: ${complete.length} chats compared with the simulator's expected transcripts, ${differing.length} differ; ${ledger.length} acknowledged webhooks, ${incomplete.size} chats incomplete; ${expectedIds.size} distinct chat events expected, applied ${appliedBy.join(', ')}`,
    );

    // crm-sync: its outbox settles (two workers, one killed with rows claimed and creates in flight), then every
    // closed chat has exactly one note in HubSpot, on the one contact of its customer's e-mail.
    const outbox = await waitForOutboxSettled(pool, 180_000);
    await fake.clearFaults();
    if (outbox.unsettled > 0 || outbox.deadLetters > 0)
      failed.push(
        `crm-sync outbox not settled: ${outbox.unsettled} of ${outbox.rows} rows not done, ${outbox.deadLetters} dead letters`,
      );
    const hubspot = checkHubSpot(await fake.state(), complete, finishedChats);
    failed.push(...hubspot.problems);
    const found = await Promise.all(
      crmPorts.map((port) => metricSum(port, 'crm_sync_threads_synced_total{outcome="found"}')),
    );
    report(
      `crm-sync: outbox ${outbox.rows} threads, ${outbox.unsettled} not done, ${outbox.deadLetters} dead letters (settled in ${(outbox.waitedMs / 1000).toFixed(1)} s); ambiguous creates found by their sync key (not created again) ${found.reduce((a, b) => a + b, 0)}; HubSpot: ${hubspot.summary}`,
    );

    // Analytics: what two processes (one killed and restarted) projected equals a rebuild by one from the topic.
    const analyticsProcesses = processes.filter((p) => p.name === 'analytics');
    await Promise.all(analyticsProcesses.map((p) => p.close()));
    const analyticsConfig = loadAnalyticsConfig({ ...common, KAFKA_CLIENT_ID: 'analytics-rebuild' });
    const scaled = await analyticsChecksums(pool);
    const rebuilt = await rebuild(analyticsConsumer(analyticsConfig), {
      kafka: testKafka('scale-out-analytics-rebuild'),
      databaseUrl: database.url,
      onEvent: () => undefined,
    });
    const replayed = await analyticsChecksums(pool);
    const differingViews = Object.keys(scaled).filter((view) => scaled[view] !== replayed[view]);
    report(
      `analytics: every view equal to a rebuild by one process from the topic (${rebuilt.total} chat events): ${differingViews.length === 0 ? 'yes' : `no, ${differingViews.join(', ')} differ`}`,
    );
    if (differingViews.length > 0)
      failed.push(`analytics views differ from a rebuild: ${differingViews.join(', ')}`);
    if (differing.length > 0)
      failed.push(`${differing.length} chats differ: ${differing.slice(0, 5).join('; ')}`);
    if (incomplete.size > 0) failed.push(`${incomplete.size} chats incomplete (webhooks given up)`);
    if (unplanned.length > 0) failed.push(`services exited on their own: ${unplanned.join('; ')}`);
    return { runDir, lines, failed };
  } finally {
    await Promise.all(processes.map((p) => p.close()));
    await admin.disconnect().catch(() => undefined);
    await fake.close().catch(() => undefined);
    await pool.end().catch(() => undefined);
    await database.drop();
  }
}

/** The 1-vs-2 table, with the machine it ran on (the cores bound what a second process can add). */
function throughputTable(one: SteadyResult, two: SteadyResult, steadySeconds: number): string[] {
  const cores = availableParallelism();
  const width = Math.max(...one.perSecond.map((r) => r.stage.length)) + 2;
  const column = 16;
  const cell = (value: number) => `${value.toFixed(0)}/s`.padStart(column);
  const load = (r: SteadyResult) => `${r.loadBefore.toFixed(2)} → ${r.loadAfter.toFixed(2)}`;
  return [
    `steady-state throughput: ${steadySeconds} s measured after ${STEADY.warmUpSeconds} s of warm-up, groups joined before; webhooks sent as fast as the ingests answer (${STEADY.concurrentChats} chats at once), so each stage shows what it did while it had work (a stage slower than the one before it is the bottleneck: its backlog grows)`,
    `  ${'stage'.padEnd(width)}${'1 process'.padStart(column)}${'2 processes'.padStart(column)}`,
    ...one.perSecond.map(
      (row, i) => `  ${row.stage.padEnd(width)}${cell(row.value)}${cell(two.perSecond[i]!.value)}`,
    ),
    `  ${'measured window'.padEnd(width)}${`${one.seconds.toFixed(1)} s`.padStart(column)}${`${two.seconds.toFixed(1)} s`.padStart(column)}`,
    `  ${'backlog applied after the window'.padEnd(width)}${`${one.drainSeconds.toFixed(1)} s`.padStart(column)}${`${two.drainSeconds.toFixed(1)} s`.padStart(column)}`,
    `  ${'load average (1 min), start → end'.padEnd(width)}${load(one).padStart(column)}${load(two).padStart(column)}`,
    `machine: ${cores} cores. Every process of the run (2 × 5 services, the sender, the HubSpot fake, Kafka, the registry, Postgres) shares them: with ${cores} cores, two processes of each kind cannot be faster than the cores allow${cores <= 2 ? ' (on this 2-core machine the second process adds no CPU, only a second share of the same cores; a gain needs more cores or machines)' : ''}. The table shows the work spreading over the partitions; the speed-up needs the cores.`,
  ];
}

/** The sum of one metric's samples (those whose name and labels start so) on a process's `/metrics`. */
async function metricSum(port: number, prefix: string): Promise<number> {
  const response = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(5_000) });
  const text = await response.text();
  return text
    .split('\n')
    .filter((line) => line.startsWith(prefix))
    .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
}

/** The records a consumer group has committed on a topic (sum of its partitions' committed offsets). */
async function committedRecords(admin: Admin, groupId: string, topic: string): Promise<number> {
  const offsets = await admin.fetchOffsets({ groupId, topics: [topic] });
  return offsets.flatMap((t) => t.partitions).reduce((sum, p) => sum + Math.max(0, Number(p.offset)), 0);
}

/** The records written to a topic so far (sum of its partitions' end offsets). */
async function topicRecords(admin: Admin, topic: string): Promise<number> {
  const offsets = await admin.fetchTopicOffsets(topic);
  return offsets.reduce((sum, p) => sum + Number(p.high), 0);
}

/** Waits until every crm-sync outbox row is done (none pending or dead), or the deadline. */
async function waitForOutboxSettled(
  pool: pg.Pool,
  timeoutMs: number,
): Promise<{ rows: number; unsettled: number; deadLetters: number; waitedMs: number }> {
  const started = Date.now();
  for (;;) {
    const { rows } = await pool.query<{ rows: string; unsettled: string; dead_letters: string }>(
      `select count(*)::text as rows,
              count(*) filter (where status <> 'done' or synced_version <> version)::text as unsettled,
              (select count(*) from crm.dead_letters)::text as dead_letters
       from crm.outbox`,
    );
    const state = {
      rows: Number(rows[0]!.rows),
      unsettled: Number(rows[0]!.unsettled),
      deadLetters: Number(rows[0]!.dead_letters),
      waitedMs: Date.now() - started,
    };
    if ((state.unsettled === 0 && state.rows > 0) || Date.now() - started >= timeoutMs) return state;
    await sleep(500);
  }
}

/** A checksum of every analytics view (rows as text, sorted). */
async function analyticsChecksums(pool: pg.Pool): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const view of ['thread_facts', 'daily', 'hourly', 'agent_daily', 'agent_ranking', 'tag_daily']) {
    const { rows } = await pool.query<{ md5: string }>(
      `select md5(coalesce(string_agg(t::text, '|' order by t::text), '')) as md5 from "analytics".${view} t`,
    );
    out[view] = rows[0]!.md5;
  }
  return out;
}

async function waitForMembers(admin: Admin, names: Names, members: number): Promise<void> {
  const ids = groupsOf(names).map((g) => g.id);
  const deadline = Date.now() + 120_000;
  for (;;) {
    const { groups } = await admin.describeGroups(ids);
    if (groups.every((g) => g.state === 'Stable' && g.members.length === members)) return;
    if (Date.now() > deadline)
      throw new Error(
        `consumer groups not stable with ${members} member(s) each: ${groups.map((g) => `${g.groupId} ${g.state} ${g.members.length}`).join(', ')}`,
      );
    await sleep(250);
  }
}

async function printAssignments(
  admin: Admin,
  report: (line: string) => void,
  when: string,
  names: Names,
): Promise<void> {
  report(`partition assignments, ${when}:`);
  const known = groupsOf(names);
  const { groups } = await admin.describeGroups(known.map((g) => g.id));
  for (const { id, label } of known) {
    const group = groups.find((g) => g.groupId === id);
    if (group === undefined) continue;
    const members = group.members
      .map((m) => {
        const partitions = assignedPartitions(m.memberAssignment).sort((x, y) => x - y);
        return `${m.clientId}: [${partitions.join(', ')}]`;
      })
      .sort();
    report(`  ${label} (${group.state}): ${members.join('   ')}`);
  }
}

/**
 * The partitions of a consumer protocol MemberAssignment (Kafka's wire format: int16 version, then an array of
 * topic name + int32 partitions; the user data after it is ignored).
 */
function assignedPartitions(assignment: Buffer): number[] {
  if (assignment.length < 6) return [];
  let at = 2;
  const topics = assignment.readInt32BE(at);
  at += 4;
  const partitions: number[] = [];
  for (let t = 0; t < topics; t++) {
    at += 2 + assignment.readInt16BE(at);
    const count = assignment.readInt32BE(at);
    at += 4;
    for (let p = 0; p < count; p++, at += 4) partitions.push(assignment.readInt32BE(at));
  }
  return partitions;
}

function simulatedChats(seed: number, chats: number): SimulatedChat[] {
  const common = { chats: Math.ceil(chats / 2), duplicateRate: 0.15, reorderRate: 0.15 };
  const v3 = simulateTraffic({ ...common, seed: seed ^ 0x5, format: 'v3', secretKey: LOCAL_SECRET_KEY });
  const v2 = simulateTraffic({ ...common, seed: seed ^ 0x6, format: 'v2' });
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
