import { afterAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { pino } from 'pino';
import { runCli } from '@livechat-pipeline/app';
import { loadAnalyticsConfig, startAnalytics } from '@livechat-pipeline/analytics';
import type { AnalyticsConfig } from '@livechat-pipeline/analytics';
import { startFakeLiveChat } from '@livechat-pipeline/livechat-fake';
import type { ArchiveRow, FakeLiveChat } from '@livechat-pipeline/livechat-fake';
import type { PostgresConsumer } from '@livechat-pipeline/postgres-consumer';
import type { ChatDomainEvent } from '@livechat-pipeline/livechat';
import { stackEndpoints, uniqueName, waitFor } from '@livechat-pipeline/testkit';
import { renderArchive, simulateTraffic } from '@livechat-pipeline/traffic-simulator';
import type { SimulatedTraffic } from '@livechat-pipeline/traffic-simulator';
import { E2E_SECRET_KEY, postDeliveries, startChain } from './support/chain.js';
import type { RunningChain } from './support/chain.js';

/**
 * Webhooks lost before they reached us (30% of them at random, and every webhook of some chats) are recovered by
 * reconciliation: the app reads the tenant's archives from the fake Agent Chat API (the simulator's archive rendering
 * of the same chats) into the raw topic, the normalizer maps them to the same event ids, and the transcripts and
 * analytics views equal, checksum for checksum, those of a chain that received every webhook.
 */
const CHATS = Number(process.env['RECONCILE_E2E_CHATS'] ?? 40);
const DROP_RATE = 0.3;
const PAT_ACCOUNT = 'reconcile-operator';
const PAT = 'reconcile-pat-0123456789';

/**
 * Columns left out of the checksums. `chat_summary.ended_at` only: a v3 chat_deactivated webhook carries no time, so
 * a thread's end is its receipt time, which differs between two chains run a few seconds apart whatever the source.
 * Every other column of every transcripts and analytics view must be equal (author names, tags included).
 */
const LEFT_OUT: Record<string, readonly string[] | undefined> = {
  chat_summary: ['ended_at'],
};

interface Views {
  readonly chain: RunningChain;
  readonly pool: pg.Pool;
  readonly analytics: PostgresConsumer<ChatDomainEvent>;
  readonly analyticsConfig: AnalyticsConfig;
}

const opened: Views[] = [];
let fake: FakeLiveChat | undefined;

afterAll(async () => {
  await fake?.close();
  for (const v of opened) {
    await v.pool.end();
    await v.analytics.stop();
    await v.chain.close();
  }
});

async function startViews(): Promise<Views> {
  const chain = await startChain();
  const endpoints = stackEndpoints();
  const name = uniqueName('reconcile-analytics');
  const analyticsConfig = loadAnalyticsConfig({
    KAFKA_BROKERS: endpoints.kafkaBrokers.join(','),
    SCHEMA_REGISTRY_URL: endpoints.schemaRegistryUrl,
    DATABASE_URL: chain.databaseUrl,
    CHAT_EVENTS_TOPIC: chain.topics.chatEvents,
    ANALYTICS_CONSUMER_NAME: name,
    ANALYTICS_SCHEMA: name.replace(/[^a-z0-9_]/g, '_'),
  });
  const analytics = await startAnalytics(analyticsConfig, pino({ level: 'warn' }));
  const views = {
    chain,
    pool: new pg.Pool({ connectionString: chain.databaseUrl, max: 3 }),
    analytics,
    analyticsConfig,
  };
  opened.push(views);
  return views;
}

/** md5 of every row of the transcripts views and the analytics views, and the counts shown in the closing note. */
async function checksums(
  v: Views,
): Promise<{ sums: Record<string, string>; counts: Record<string, number> }> {
  const t = `"${v.chain.transcriptsConfig.schema}"`;
  const a = `"${v.analyticsConfig.schema}"`;
  const sums: Record<string, string> = {};
  for (const [name, view] of [
    ['chat_transcript', `${t}.chat_transcript`],
    ['chat_summary', `${t}.chat_summary`],
    ...['thread_facts', 'daily', 'hourly', 'agent_daily', 'tag_daily'].map((x) => [x, `${a}.${x}`]),
  ] as const) {
    const left = LEFT_OUT[name];
    const row =
      left === undefined ? 't::text' : `(to_jsonb(t) - ${left.map((c) => `'${c}'`).join(' - ')})::text`;
    const { rows } = await v.pool.query<{ md5: string }>(
      `select md5(coalesce(string_agg(${row}, '|' order by ${row}), '')) as md5 from ${view} t`,
    );
    sums[name] = rows[0]!.md5;
  }
  const { rows } = await v.pool.query<{ messages: number; chats: number; threads: number; closed: number }>(
    `select (select count(*)::int from ${t}.chat_transcript where kind = 'message') as messages,
            (select count(distinct chat_id)::int from ${t}.chat_transcript) as chats,
            (select count(*)::int from ${a}.thread_facts) as threads,
            (select count(*)::int from ${a}.thread_facts where closed) as closed`,
  );
  return { sums, counts: rows[0]! };
}

/** Up to 6 rows of a view only one side has: what a failure shows. */
async function diffRows(a: Views, b: Views, view: string): Promise<string> {
  const rows = async (v: Views) => {
    const schema = ['chat_transcript', 'chat_summary'].includes(view)
      ? v.chain.transcriptsConfig.schema
      : v.analyticsConfig.schema;
    const { rows: r } = await v.pool.query<{ t: string }>(`select t::text as t from "${schema}".${view} t`);
    return new Set(r.map((x) => x.t));
  };
  const [ra, rb] = [await rows(a), await rows(b)];
  const onlyA = [...ra].filter((x) => !rb.has(x)).slice(0, 6);
  const onlyB = [...rb].filter((x) => !ra.has(x)).slice(0, 6);
  return [...onlyA.map((x) => `  full:       ${x}`), ...onlyB.map((x) => `  reconciled: ${x}`)].join('\n');
}

/**
 * Waits until the views stop changing: four reads 400 ms apart the same (a consumer pausing for a rebalance on a busy
 * machine is shorter than that). The reconciled views are then compared by waiting for the expected checksums
 * themselves (60 s), which no pause can fake.
 */
async function settled(v: Views): Promise<Awaited<ReturnType<typeof checksums>>> {
  let last = '';
  let same = 0;
  return waitFor(
    async () => {
      const now = await checksums(v);
      const key = JSON.stringify(now);
      same = key === last ? same + 1 : 0;
      last = key;
      return same >= 3 && (now.counts.messages ?? 0) > 0 ? now : undefined;
    },
    { timeoutMs: 90_000, intervalMs: 400, message: 'views settled' },
  );
}

/** A seeded PRNG (mulberry32): the same webhooks are dropped on every run. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const bodiesOf = (deliveries: SimulatedTraffic['deliveries']) =>
  deliveries.map((d) => ({ body: d.body as unknown as Record<string, unknown>, chatId: d.chatId }));

describe('reconciliation recovers the webhooks that never arrived', () => {
  it('after 30% of the webhooks (and every webhook of some chats) are lost, the views equal a full delivery', async () => {
    const hour = 3_600_000;
    const traffic = simulateTraffic({
      seed: 9090,
      chats: CHATS,
      format: 'v3',
      secretKey: E2E_SECRET_KEY,
      startAt: new Date(Math.floor(Date.now() / hour) * hour - 3 * hour),
    });
    const organizationId = traffic.chats[0]!.tenant.organizationId;
    const random = prng(9090);
    const lostChats = new Set(traffic.chats.filter((_, i) => i % 10 === 3).map((c) => c.chatId));
    const kept = traffic.deliveries.filter((d) => !lostChats.has(d.chatId) && random() >= DROP_RATE);
    expect(lostChats.size).toBeGreaterThan(0);

    // The chain that got every webhook.
    const full = await startViews();
    expect(
      (await postDeliveries(full.chain.ingestUrl, bodiesOf(traffic.deliveries))).statuses.every(
        (s) => s === 200,
      ),
    ).toBe(true);
    const expected = await settled(full);
    expect(expected.counts.closed).toBe(CHATS);

    // The chain that lost some, then reconciliation against LiveChat's archives of the same chats.
    const lossy = await startViews();
    expect(
      (await postDeliveries(lossy.chain.ingestUrl, bodiesOf(kept))).statuses.every((s) => s === 200),
    ).toBe(true);
    const before = await settled(lossy);
    expect(before.sums).not.toEqual(expected.sums);

    fake = await startFakeLiveChat({
      clients: [],
      account: { accountId: 'a', organizationId, licenseId: 1, email: 'a@example.com' },
      pats: [
        { accountId: PAT_ACCOUNT, token: PAT, organizationId, scopes: ['chats--all:ro', 'customers:ro'] },
      ],
    });
    fake.upsertArchives(renderArchive(traffic.chats).map((t) => t.row as unknown as ArchiveRow));
    const stack = stackEndpoints();
    const out: string[] = [];
    const err: string[] = [];
    const code = await runCli(
      ['reconcile', '--tenant', organizationId],
      {
        DATABASE_URL: lossy.chain.databaseUrl,
        APP_DB_SCHEMA: uniqueName('reconcile_app').replace(/[^a-z0-9_]/g, '_'),
        APP_DB_INGEST_ROLE: 'none',
        KAFKA_BROKERS: stack.kafkaBrokers.join(','),
        SCHEMA_REGISTRY_URL: stack.schemaRegistryUrl,
        RAW_WEBHOOK_TOPIC: lossy.chain.topics.raw,
        LIVECHAT_API_URL: fake.apiUrl,
        LIVECHAT_ACCOUNTS_URL: fake.accountsUrl,
        LIVECHAT_PAT: `${PAT_ACCOUNT}:${PAT}`,
        APP_LOG_LEVEL: 'warn',
      },
      { out: (t) => out.push(t), err: (t) => err.push(t) },
    );
    expect(code, err.join('\n')).toBe(0);
    expect(out.join('\n')).toMatch(new RegExp(`threads checked ${CHATS}, threads recovered ${CHATS}, `));

    const after = await waitFor(
      async () => {
        const now = await checksums(lossy);
        return JSON.stringify(now.sums) === JSON.stringify(expected.sums) ? now : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 300, message: 'reconciled views equal to the full delivery' },
    ).catch(async () => checksums(lossy));
    process.stdout.write(
      `reconcile e2e: ${traffic.deliveries.length} webhooks, ${kept.length} delivered (${lostChats.size} chats lost entirely); ` +
        `before: ${JSON.stringify(before.counts)}; ${out.join(' ')}; after: ${JSON.stringify(after.counts)}; full delivery: ${JSON.stringify(expected.counts)}\n`,
    );
    if (JSON.stringify(after.sums) !== JSON.stringify(expected.sums))
      for (const view of Object.keys(after.sums).filter((k) => after.sums[k] !== expected.sums[k]))
        process.stdout.write(`${view} differs:\n${await diffRows(full, lossy, view)}\n`);
    expect(after.sums).toEqual(expected.sums);
  });
});
