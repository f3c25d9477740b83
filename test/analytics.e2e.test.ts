import { isDeepStrictEqual } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { pino } from 'pino';
import {
  expectedAgentDaily,
  expectedDaily,
  expectedTagDaily,
  rounded,
  simulateTraffic,
  sortRows,
  type ExpectedThreadFacts,
} from '@livechat-pipeline/traffic-simulator';
import { rebuild, type PostgresConsumer } from '@livechat-pipeline/postgres-consumer';
import type { ChatDomainEvent } from '@livechat-pipeline/livechat';
import {
  analyticsConsumer,
  loadAnalyticsConfig,
  startAnalytics,
  type AnalyticsConfig,
} from '@livechat-pipeline/analytics';
import { stackEndpoints, testKafka, uniqueName, waitFor } from '@livechat-pipeline/testkit';
import { E2E_SECRET_KEY, postDeliveries, startChain, type RunningChain } from './support/chain.js';

/**
 * LiveChat webhooks with what the reports need (ratings, queues, transfers, greetings, resumed chats, agents'
 * statuses; v3.6 and v2; duplicates and reordering) → ingest → normalizer → analytics: every thread's facts are
 * the simulator's, every aggregate is the sum computed here from those facts, and a rebuild reproduces them.
 */
const CHATS_PER_FORMAT = 60;

let chain: RunningChain;
let pool: pg.Pool;
let config: AnalyticsConfig;
let analytics: PostgresConsumer<ChatDomainEvent>;
let analyticsRunning = false;

beforeAll(async () => {
  chain = await startChain();
  const endpoints = stackEndpoints();
  const name = uniqueName('e2e-analytics');
  config = loadAnalyticsConfig({
    KAFKA_BROKERS: endpoints.kafkaBrokers.join(','),
    SCHEMA_REGISTRY_URL: endpoints.schemaRegistryUrl,
    DATABASE_URL: chain.databaseUrl,
    CHAT_EVENTS_TOPIC: chain.topics.chatEvents,
    ANALYTICS_CONSUMER_NAME: name,
    ANALYTICS_SCHEMA: name.replace(/[^a-z0-9_]/g, '_'),
  });
  analytics = await startAnalytics(config, pino({ level: 'warn' }));
  analyticsRunning = true;
  pool = new pg.Pool({ connectionString: chain.databaseUrl, max: 4 });
});
afterAll(async () => {
  await pool?.end();
  if (analyticsRunning) await analytics.stop();
  await chain?.close();
});

const q = () => `"${config.schema}"`;

async function threadFacts(): Promise<ExpectedThreadFacts[]> {
  const { rows } = await pool.query(
    `select tenant, chat_id, thread_id,
            (extract(epoch from started_at) * 1e6)::bigint::float8 as started_us,
            (extract(epoch from ended_at) * 1e6)::bigint::float8 as ended_us,
            duration_seconds::float8, first_response_seconds::float8, customer_messages, agent_messages, agent_ids,
            first_responder_id, group_ids::float8[] as group_ids, tags, rating, rating_comment, queued, queued_seconds::float8, left_queue,
            started_by, started_from_greeting, transfers
     from ${q()}.thread_facts order by tenant, chat_id, thread_id`,
  );
  return rows.map((r) => ({
    tenant: r.tenant,
    chatId: r.chat_id,
    threadId: r.thread_id,
    startedAtMicros: r.started_us,
    endedAtMicros: r.ended_us,
    durationSeconds: r.duration_seconds,
    firstResponseSeconds: r.first_response_seconds,
    customerMessages: r.customer_messages,
    agentMessages: r.agent_messages,
    agentIds: r.agent_ids,
    firstResponderId: r.first_responder_id,
    groupIds: r.group_ids,
    tags: r.tags,
    rating: r.rating,
    ratingComment: r.rating_comment,
    queued: r.queued,
    queuedSeconds: r.queued_seconds,
    leftQueue: r.left_queue,
    startedBy: r.started_by,
    startedFromGreeting: r.started_from_greeting,
    transfers: r.transfers,
  }));
}

async function checksums(): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const view of ['thread_facts', 'daily', 'hourly', 'agent_daily', 'agent_ranking', 'tag_daily']) {
    const { rows } = await pool.query<{ md5: string }>(
      `select md5(coalesce(string_agg(t::text, '|' order by t::text), '')) as md5 from ${q()}.${view} t`,
    );
    out[view] = rows[0]!.md5;
  }
  return out;
}

const byThread = (a: ExpectedThreadFacts, b: ExpectedThreadFacts) =>
  a.tenant.localeCompare(b.tenant) ||
  a.chatId.localeCompare(b.chatId) ||
  a.threadId.localeCompare(b.threadId);

describe('analytics on the whole chain', () => {
  it('gives every simulated thread its facts and every aggregate its sums; a rebuild reproduces them', async () => {
    const v3 = simulateTraffic({
      seed: 303,
      chats: CHATS_PER_FORMAT,
      format: 'v3',
      duplicateRate: 0.15,
      reorderRate: 0.15,
      secretKey: E2E_SECRET_KEY,
      reportFacts: true,
    });
    const v2 = simulateTraffic({
      seed: 404,
      chats: CHATS_PER_FORMAT,
      format: 'v2',
      duplicateRate: 0.15,
      reorderRate: 0.15,
      reportFacts: true,
    });
    const bodies = [...v3.deliveries, ...v2.deliveries].map((d) => ({
      body: d.body as unknown as Record<string, unknown>,
      chatId: `${d.format}/${d.chatId}`,
    }));
    const { statuses } = await postDeliveries(chain.ingestUrl, bodies);
    expect(statuses.every((s) => s === 200)).toBe(true);

    let expected = [...v3.expectedThreads, ...v2.expectedThreads].sort(byThread);
    const messages = expected.reduce((n, f) => n + f.customerMessages + f.agentMessages, 0);
    const ratings = expected.filter((f) => f.rating !== null).length;
    await waitFor(
      async () => {
        const { rows } = await pool
          .query<{ threads: number; messages: number; ratings: number; closed: number }>(
            `select count(*)::int as threads, coalesce(sum(customer_messages + agent_messages), 0)::int as messages,
                    (count(*) filter (where rating is not null))::int as ratings, (count(*) filter (where closed))::int as closed
             from ${q()}.thread_facts`,
          )
          .catch(() => ({ rows: [] }));
        const r = rows[0];
        return r &&
          r.threads >= expected.length &&
          r.messages >= messages &&
          r.ratings >= ratings &&
          r.closed >= expected.length
          ? r
          : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 100, message: `${expected.length} threads in thread_facts` },
    );
    // v2's visitor_queued names a visitor, not a chat, and has no time of its own: analytics gives it to the
    // visitor's first chat started after its receipt (services/analytics README). This test posts chats dated days
    // ago within seconds, so receipt times cannot line up with them; that rule is tested with aligned receipt times
    // in services/analytics/test. Here a v2 thread's queue facts are taken as projected (the aggregates below are
    // still checked against sums of the facts), every other fact is compared.
    const v2Threads = new Set(v2.expectedThreads.map((f) => `${f.tenant}/${f.chatId}/${f.threadId}`));
    const withV2QueueFrom = (actual: readonly ExpectedThreadFacts[]): ExpectedThreadFacts[] => {
      const projected = new Map(actual.map((f) => [`${f.tenant}/${f.chatId}/${f.threadId}`, f]));
      return expected.map((f) => {
        const key = `${f.tenant}/${f.chatId}/${f.threadId}`;
        const got = projected.get(key);
        return v2Threads.has(key) && got !== undefined
          ? { ...f, queued: got.queued, queuedSeconds: got.queuedSeconds, leftQueue: got.leftQueue }
          : f;
      });
    };
    // Partitions are consumed concurrently: let the last facts (a cancel, a comment) land before comparing.
    await waitFor(
      async () => {
        const actual = await threadFacts();
        return isDeepStrictEqual(actual, withV2QueueFrom(actual)) ? true : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 200, message: 'thread_facts equal to the expected facts' },
    ).catch(() => undefined); // the assertion below shows the difference
    const actualFacts = await threadFacts();
    expect(actualFacts).toEqual(withV2QueueFrom(actualFacts));
    expected = withV2QueueFrom(actualFacts);

    const daily = await pool.query(
      `select tenant, day::text, group_id::float8 as group_id, chats, chats_with_reply, avg_first_response_seconds::float8,
              p90_first_response_seconds::float8, avg_duration_seconds::float8, rated_good, rated_bad, queued, left_queue
       from ${q()}.daily`,
    );
    expect(sortRows(rounded(daily.rows))).toEqual(sortRows(rounded(expectedDaily(expected))));
    const agentDaily = await pool.query(
      `select tenant, day::text, agent_id, chats, first_responses, avg_first_response_seconds::float8, rated_good, rated_bad
       from ${q()}.agent_daily`,
    );
    expect(sortRows(rounded(agentDaily.rows))).toEqual(sortRows(rounded(expectedAgentDaily(expected))));
    const tagDaily = await pool.query(`select tenant, day::text, tag, chats from ${q()}.tag_daily`);
    expect(sortRows(tagDaily.rows)).toEqual(sortRows(expectedTagDaily(expected)));
    const hourly = await pool.query<{ chats: number }>(`select sum(chats)::int as chats from ${q()}.hourly`);
    expect(hourly.rows[0]!.chats).toBe(expected.reduce((n, f) => n + f.groupIds.length, 0));

    // Agent statuses (v3): every agent of the traffic, accepting chats for a while each.
    const availability = await pool.query<{ agent_id: string; accepting: number }>(
      `select agent_id, sum(accepting_chats_seconds)::float8 as accepting from ${q()}.agent_availability group by agent_id`,
    );
    expect(availability.rows.map((r) => r.agent_id).sort()).toEqual(
      [...new Set(v3.agentStatuses.map((s) => s.agentId))].sort(),
    );
    for (const row of availability.rows) expect(row.accepting).toBeGreaterThan(0);

    // Rebuild from the topic: the same facts and aggregates.
    const before = await checksums();
    await analytics.stop();
    analyticsRunning = false;
    const started = performance.now();
    const result = await rebuild(analyticsConsumer(config), {
      kafka: testKafka('e2e-analytics-rebuild'),
      databaseUrl: chain.databaseUrl,
      onEvent: () => undefined,
    });
    const seconds = (performance.now() - started) / 1000;
    process.stdout.write(
      `e2e analytics: ${expected.length} threads; rebuild of ${result.total} chat events in ${seconds.toFixed(2)} s\n`,
    );
    expect(await checksums()).toEqual(before);
  });
});
