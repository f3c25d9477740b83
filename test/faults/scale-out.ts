import { mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { loadStackSettings, stackUp } from '@livechat-pipeline/local-stack';
import { simulateTraffic, type Delivery, type ExpectedChat } from '@livechat-pipeline/traffic-simulator';
import { createTestDatabase, testKafka, uniqueName } from '@livechat-pipeline/testkit';
import { analyticsConsumer, loadAnalyticsConfig } from '@livechat-pipeline/analytics';
import { rebuild } from '@livechat-pipeline/postgres-consumer';
import { LiveChatSender, type LedgerEntry, type SimulatedChat } from './livechat-sender.js';
import { ServiceProcess } from './service-process.js';
import { differingTranscripts, expectedChatEventIds, waitForLedgerInViews } from './views-check.js';

/**
 * The scale-out run (`FAULT_MODE=scale-out pnpm test:faults`): topics of 6 partitions, the ingest, the normalizer
 * and transcripts as real processes, first one of each, then two of each (two ingests on their own ports, fed
 * alternately; two normalizers in one group; two transcripts in one group), then one of each SIGKILLed mid-stream
 * and started again later (rebalances both ways). Prints each group's partition assignment at every step and the
 * end-to-end throughput with one and with two processes of each kind; fails unless every chat of the three phases
 * is exact in the transcripts views and every acknowledged webhook's events were applied.
 *
 * Covers ingest, normalizer, transcripts and analytics; crm-sync is not run here (see the README).
 */
export interface ScaleOutResult {
  readonly runDir: string;
  readonly lines: readonly string[];
  readonly failed: readonly string[];
}

const PARTITIONS = 6;
const LOCAL_SECRET_KEY = 'local-dev-secret';
const LOCAL_BASIC_AUTH = `Basic ${Buffer.from('livechat:local-dev-password').toString('base64')}`;
const PASSED_THROUGH = /^(PATH|HOME|USER|TMPDIR|LANG|LC_.*|TZ|NODE_OPTIONS|JAVA_HOME)$/;
/** Chats per throughput phase (each about 9 webhooks, both formats together). */
const CHATS_PER_PHASE = 160;
/** The fault phase: its rate, its length, and when one process of each kind is killed and started again. */
const FAULT_PHASE = { rate: 40, ms: 40_000, killAtMs: 10_000, restartAtMs: 25_000 } as const;

type Kind = 'ingest' | 'normalizer' | 'transcripts' | 'analytics';
type GroupNames = { normalizerGroup: string; transcripts: string; analytics: string };

export async function runScaleOut(options: {
  readonly root: string;
  readonly seed: number;
  readonly say: (line: string) => void;
}): Promise<ScaleOutResult> {
  const { root, seed, say } = options;
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
  const pool = new pg.Pool({ connectionString: database.url, max: 2 });
  pool.on('error', () => undefined);
  const names = {
    raw: uniqueName('scale-raw'),
    chatEvents: uniqueName('scale-chat-events'),
    normalizerGroup: uniqueName('scale-normalizer'),
    transcripts: uniqueName('scale-transcripts'),
    analytics: uniqueName('scale-analytics'),
  };
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
  const processes: ServiceProcess[] = [];
  const ingestUrls: Record<string, string> = {};
  const unplanned: string[] = [];
  const make = async (kind: Kind, instance: 'a' | 'b') => {
    const port = await freePort();
    const env: NodeJS.ProcessEnv = { ...common, KAFKA_CLIENT_ID: `${kind}-${instance}` };
    let readyUrl: string;
    if (kind === 'ingest') {
      env['INGEST_PORT'] = String(port);
      env['INGEST_OPERATIONS_PORT'] = String(await freePort());
      env['INGEST_SPOOL_DIR'] = path.join(runDir, `spool-${instance}`);
      ingestUrls[instance] = `http://127.0.0.1:${port}`;
      readyUrl = `http://127.0.0.1:${port}/healthz`;
    } else {
      env[`${kind.toUpperCase()}_PORT`] = String(port);
      readyUrl = `http://127.0.0.1:${port}/readyz`;
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

  const allChats = simulatedChats(seed, CHATS_PER_PHASE * 2 + 200);
  const phaseChats = [
    allChats.slice(0, CHATS_PER_PHASE),
    allChats.slice(CHATS_PER_PHASE, CHATS_PER_PHASE * 2),
    allChats.slice(CHATS_PER_PHASE * 2),
  ] as const;
  const finishedChats: SimulatedChat[] = [];
  const incomplete = new Set<string>();
  const ledger: LedgerEntry[] = [];

  /** Sends chats as fast as the ingests take them, then measures until every event is in the views. */
  const throughputPhase = async (label: string, chats: readonly SimulatedChat[], urls: string[]) => {
    const sender = new LiveChatSender({
      ingestUrl: urls,
      chats,
      ratePerSecond: 400,
      concurrentChats: 48,
      maxActiveChats: 96,
      basicAuth: LOCAL_BASIC_AUTH,
      ledgerFile: path.join(runDir, `ledger-${label}.jsonl`),
    });
    const t0 = performance.now();
    sender.start();
    await waitUntilExhausted(sender, chats.length);
    await sender.finish(120_000);
    const wait = await waitForViews(sender.ledger, label);
    const seconds = (performance.now() - t0) / 1000;
    collect(sender);
    return { webhooks: sender.ledger.length, events: wait.expectedEventIds, seconds };
  };
  /** Every chat event of the ledger applied by transcripts and by analytics (their `_dedup` records). */
  const waitForViews = async (entries: readonly LedgerEntry[], label: string) => {
    let result = { expectedEventIds: 0 };
    for (const [schema, consumer] of [
      ['transcripts', names.transcripts],
      ['analytics', names.analytics],
    ] as const) {
      const wait = await waitForLedgerInViews(pool, {
        schema,
        consumer,
        ledger: entries,
        timeoutMs: 180_000,
      });
      if (wait.missing.length > 0)
        failed.push(`${label}: ${wait.missing.length} acked webhooks missing from the ${schema} views`);
      result = wait;
    }
    return result;
  };
  const collect = (sender: LiveChatSender) => {
    ledger.push(...sender.ledger);
    finishedChats.push(...sender.finishedChats);
    for (const key of sender.incompleteChats) incomplete.add(key);
  };

  try {
    const ingestA = await make('ingest', 'a');
    const normalizerA = await make('normalizer', 'a');
    const transcriptsA = await make('transcripts', 'a');
    const analyticsA = await make('analytics', 'a');
    await ingestA.start(120_000);
    await Promise.all([normalizerA.start(120_000), transcriptsA.start(120_000), analyticsA.start(120_000)]);
    report(`topics of ${PARTITIONS} partitions; run folder ${runDir}`);
    await printAssignments(report, 'one process of each kind', names);
    const one = await throughputPhase('one', phaseChats[0], [ingestUrls['a']!]);

    const ingestB = await make('ingest', 'b');
    const normalizerB = await make('normalizer', 'b');
    const transcriptsB = await make('transcripts', 'b');
    const analyticsB = await make('analytics', 'b');
    const bs = [ingestB, normalizerB, transcriptsB, analyticsB];
    await Promise.all(bs.map((p) => p.start(120_000)));
    await waitForMembers(names, 2);
    await printAssignments(report, 'two processes of each kind (rebalanced up)', names);
    const two = await throughputPhase('two', phaseChats[1], [ingestUrls['a']!, ingestUrls['b']!]);

    const rate = (r: { webhooks: number; events: number; seconds: number }) =>
      `${r.webhooks} webhooks (${r.events} chat events) in ${r.seconds.toFixed(1)} s = ${(r.webhooks / r.seconds).toFixed(0)} webhooks/s, ${(r.events / r.seconds).toFixed(0)} chat events/s`;
    report(
      'end-to-end throughput (webhooks sent as fast as the ingests take them, until every event is in the views):',
    );
    report(`  1 process of each kind:   ${rate(one)}`);
    report(`  2 processes of each kind: ${rate(two)}`);

    // The fault phase: steady traffic to both ingests; one process of each kind killed, started again later.
    const sender = new LiveChatSender({
      ingestUrl: [ingestUrls['a']!, ingestUrls['b']!],
      chats: phaseChats[2],
      ratePerSecond: FAULT_PHASE.rate,
      concurrentChats: 24,
      maxActiveChats: 48,
      basicAuth: LOCAL_BASIC_AUTH,
      ledgerFile: path.join(runDir, 'ledger-faults.jsonl'),
    });
    sender.start();
    await sleep(FAULT_PHASE.killAtMs);
    await Promise.all(bs.map((p) => p.kill()));
    report(
      `${(FAULT_PHASE.killAtMs / 1000).toFixed(0)} s into steady traffic: SIGKILLed ingest-b, normalizer-b, transcripts-b, analytics-b`,
    );
    await waitForMembers(names, 1);
    await printAssignments(report, 'after the kills (rebalanced down)', names);
    await sleep(FAULT_PHASE.restartAtMs - FAULT_PHASE.killAtMs);
    await Promise.all(bs.map((p) => p.start(120_000)));
    report(
      'ingest-b, normalizer-b, transcripts-b, analytics-b started again, 15 s after the groups rebalanced without them',
    );
    await waitForMembers(names, 2);
    await printAssignments(report, 'after the restarts (rebalanced up)', names);
    await sleep(Math.max(0, FAULT_PHASE.ms - FAULT_PHASE.restartAtMs));
    const { unfinished } = await sender.finish(120_000);
    if (unfinished > 0) failed.push(`${unfinished} chats still sending at the end of the fault phase`);
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
    const appliedBy: Record<string, number> = {};
    for (const [schema, consumer] of [
      ['transcripts', names.transcripts],
      ['analytics', names.analytics],
    ] as const) {
      const { rows } = await pool.query<{ event_id: string }>(
        `select event_id from "${schema}"._dedup where consumer = $1`,
        [consumer],
      );
      appliedBy[schema] = rows.length;
      const extra = rows.filter((r) => !expectedIds.has(r.event_id)).length;
      const missing = expectedIds.size - (rows.length - extra);
      if (extra > 0 || missing > 0)
        failed.push(
          `${schema} applied ${rows.length} chat events: ${missing} expected ones missing, ${extra} unexpected`,
        );
    }
    report(
      `end check: ${complete.length} chats compared with the simulator's expected transcripts, ${differing.length} differ; ${ledger.length} acknowledged webhooks, ${incomplete.size} chats incomplete; ${expectedIds.size} distinct chat events expected, applied by transcripts ${appliedBy['transcripts']}, by analytics ${appliedBy['analytics']}`,
    );
    // Analytics: what two processes (one killed and restarted) projected equals a rebuild by one from the topic.
    await Promise.all([analyticsA.close(), analyticsB.close()]);
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
    await pool.end().catch(() => undefined);
    await database.drop();
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

/** Every chat handed to the senders (the sender stops starting chats when it runs out). */
async function waitUntilExhausted(sender: LiveChatSender, chats: number): Promise<void> {
  const deadline = Date.now() + 300_000;
  while (sender.stats().chatsStarted < chats) {
    if (Date.now() > deadline)
      throw new Error(`the sender started ${sender.stats().chatsStarted} of ${chats} chats in 5 minutes`);
    await sleep(100);
  }
}

async function waitForMembers(names: GroupNames, members: number): Promise<void> {
  const admin = testKafka('scale-out-admin').admin();
  await admin.connect();
  try {
    const deadline = Date.now() + 120_000;
    for (;;) {
      const { groups } = await admin.describeGroups([
        names.normalizerGroup,
        names.transcripts,
        names.analytics,
      ]);
      if (groups.every((g) => g.state === 'Stable' && g.members.length === members)) return;
      if (Date.now() > deadline)
        throw new Error(
          `consumer groups not stable with ${members} member(s) each: ${groups.map((g) => `${g.groupId} ${g.state} ${g.members.length}`).join(', ')}`,
        );
      await sleep(250);
    }
  } finally {
    await admin.disconnect();
  }
}

async function printAssignments(
  report: (line: string) => void,
  when: string,
  names: GroupNames,
): Promise<void> {
  const admin = testKafka('scale-out-admin').admin();
  await admin.connect();
  try {
    report(`partition assignments, ${when}:`);
    const { groups } = await admin.describeGroups([
      names.normalizerGroup,
      names.transcripts,
      names.analytics,
    ]);
    for (const group of groups) {
      const label =
        group.groupId === names.normalizerGroup
          ? 'normalizer group'
          : group.groupId === names.transcripts
            ? 'transcripts group'
            : 'analytics group';
      const members = group.members
        .map((m) => {
          const partitions = assignedPartitions(m.memberAssignment).sort((a, b) => a - b);
          return `${m.clientId}: [${partitions.join(', ')}]`;
        })
        .sort();
      report(`  ${label} (${group.state}): ${members.join('   ')}`);
    }
  } finally {
    await admin.disconnect();
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
