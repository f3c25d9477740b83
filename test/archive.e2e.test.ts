import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { pino } from 'pino';
import {
  ConfluentAvroSerde,
  SchemaRegistryClient,
  buildArchiveRawWebhooks,
  kafkaKeyOfArchive,
  rawWebhookSchema,
  valueSubject,
} from '@livechat-pipeline/events';
import {
  generateChats,
  renderArchive,
  renderV3,
  type SimulatedChat,
  type SimulatedTenant,
} from '@livechat-pipeline/traffic-simulator';
import type { PostgresConsumer } from '@livechat-pipeline/postgres-consumer';
import type { ChatDomainEvent } from '@livechat-pipeline/livechat';
import { loadAnalyticsConfig, startAnalytics, type AnalyticsConfig } from '@livechat-pipeline/analytics';
import {
  loadCrmSyncConfig,
  startCrmSync,
  type CrmSync,
  type CrmSyncConfig,
} from '@livechat-pipeline/crm-sync';
import { stackEndpoints, testKafka, uniqueName, waitFor } from '@livechat-pipeline/testkit';
import { E2E_SECRET_KEY, postDeliveries, startChain, type RunningChain } from './support/chain.js';

/**
 * The same simulated threads (report facts: ratings, queues, transfers, resumed chats, whispers, tags) under four
 * tenants: WEBHOOKS gets their v3 webhooks through the ingest, ARCHIVE their list_archives rows as archive records
 * (what backfill writes), BOTH gets both (half the threads archive first, half webhooks first), PARTIAL loses 30% of
 * its webhooks and every webhook of some chats, then gets the archive (what reconciliation does). Through the real
 * normalizer, transcripts, analytics and crm-sync (consumer only: the outbox is the CRM intent), every view of
 * BOTH and ARCHIVE equals that of WEBHOOKS: each thread shows once, with the same transcript, facts and intent.
 */
const CHATS = 20;
const tenant = (name: string): SimulatedTenant => ({
  organizationId: uniqueName(`org-${name}`),
  licenseId: '1',
});
const WEBHOOKS = tenant('webhooks');
const ARCHIVE = tenant('archive');
const BOTH = tenant('both');
const PARTIAL = tenant('partial');

let chain: RunningChain;
let pool: pg.Pool;
let analyticsConfig: AnalyticsConfig;
let crmConfig: CrmSyncConfig;
let analytics: PostgresConsumer<ChatDomainEvent> | undefined;
let crm: CrmSync | undefined;

beforeAll(async () => {
  chain = await startChain();
  const endpoints = stackEndpoints();
  const common = {
    KAFKA_BROKERS: endpoints.kafkaBrokers.join(','),
    SCHEMA_REGISTRY_URL: endpoints.schemaRegistryUrl,
    DATABASE_URL: chain.databaseUrl,
    CHAT_EVENTS_TOPIC: chain.topics.chatEvents,
  };
  const analyticsName = uniqueName('e2e-archive-analytics');
  analyticsConfig = loadAnalyticsConfig({
    ...common,
    ANALYTICS_CONSUMER_NAME: analyticsName,
    ANALYTICS_SCHEMA: analyticsName.replace(/[^a-z0-9_]/g, '_'),
  });
  const crmName = uniqueName('e2e-archive-crm');
  crmConfig = loadCrmSyncConfig({
    ...common,
    CRM_CONSUMER_NAME: crmName,
    CRM_SCHEMA: crmName.replace(/[^a-z0-9_]/g, '_'),
  });
  [analytics, crm] = await Promise.all([
    startAnalytics(analyticsConfig, pino({ level: 'warn' })),
    startCrmSync(crmConfig, pino({ level: 'warn' }), { worker: false }),
  ]);
  pool = new pg.Pool({ connectionString: chain.databaseUrl, max: 4 });
}, 60_000);
afterAll(async () => {
  await pool?.end();
  await analytics?.stop();
  await crm?.stop();
  await chain?.close();
});

const under = (chats: readonly SimulatedChat[], t: SimulatedTenant) =>
  chats.map((c) => ({ ...c, tenant: t }));

async function produceArchives(chats: readonly SimulatedChat[]): Promise<void> {
  if (chats.length === 0) return;
  const serde = new ConfluentAvroSerde(
    new SchemaRegistryClient({ baseUrl: stackEndpoints().schemaRegistryUrl }),
  );
  const schema = await serde.register(valueSubject(chain.topics.raw), rawWebhookSchema());
  const producer = testKafka('e2e-archive').producer();
  await producer.connect();
  try {
    const messages = renderArchive(chats).flatMap((row, n) =>
      buildArchiveRawWebhooks({
        tenant: row.tenant.organizationId,
        chat: row.row,
        source: {
          method: 'list_archives',
          pageNumber: 1 + Math.floor(n / 100),
          readAtMicros: Date.now() * 1000,
        },
      }).map((raw) => ({ key: kafkaKeyOfArchive(raw), value: serde.encode(schema, raw) })),
    );
    await producer.send({ topic: chain.topics.raw, messages });
  } finally {
    await producer.disconnect();
  }
}

/** Every webhook, or (lossy) without about 30% of them and without any of every seventh chat's. */
async function postWebhooks(chats: readonly SimulatedChat[], lossy = false): Promise<void> {
  const lost = new Set(chats.filter((_, i) => i % 7 === 3).map((c) => c.chatId));
  const rendered = renderV3(chats, { secretKey: E2E_SECRET_KEY }).filter(
    (w, i) => !lossy || (!lost.has(w.chatId) && (i * 2654435761) % 100 >= 30),
  );
  const bodies = rendered.map((w) => ({
    body: w.body as unknown as Record<string, unknown>,
    chatId: `${w.tenant.organizationId}/${w.chatId}`,
  }));
  const { statuses } = await postDeliveries(chain.ingestUrl, bodies);
  expect(statuses.every((s) => s === 200)).toBe(true);
}

/** A view's rows of one tenant, without the tenant column, sorted: comparable across tenants. */
async function view(sql: string, t: SimulatedTenant): Promise<string[]> {
  const { rows } = await pool.query<Record<string, unknown>>(sql, [t.organizationId]);
  return rows.map(({ tenant: _t, ...rest }) => JSON.stringify(rest)).sort();
}

async function views(t: SimulatedTenant, options: { transfers: boolean }) {
  const tr = `"${chain.transcriptsConfig.schema}"`;
  const an = `"${analyticsConfig.schema}"`;
  const crmSchema = `"${crmConfig.schema}"`;
  return {
    transcript: await view(`select * from ${tr}.chat_transcript where tenant = $1`, t),
    tags: await view(`select * from ${tr}.thread_effective_tags where tenant = $1`, t),
    // ended_at / closed_us: a webhook close (chat_deactivated) has no time and is dated by its receipt, here the
    // moment of the test; an archive's by its archiving message (checked below). The rest of both is compared.
    summary: await view(`select *, null as ended_at from ${tr}.chat_summary where tenant = $1`, t),
    closes: await view(
      `select tenant, chat_id, thread_id, started_us, closed_us is not null as closed, closed_by_user_id,
              closed_by_kind, queued_at_us
       from ${tr}.threads where tenant = $1`,
      t,
    ),
    threadFacts: (await view(`select * from ${an}.thread_facts where tenant = $1`, t)).map((row) => {
      // An archive has no record of a transfer action (packages/livechat README "Archives").
      if (options.transfers) return row;
      const { transfers: _x, ...rest } = JSON.parse(row) as Record<string, unknown>;
      return JSON.stringify(rest);
    }),
    crmIntent: await view(
      `select o.tenant, o.chat_id, o.thread_id, o.first_closed_us is not null as closed, o.status, cu.email
       from ${crmSchema}.outbox o
       join ${crmSchema}.chats c on c.tenant = o.tenant and c.chat_id = o.chat_id
       left join ${crmSchema}.customers cu on cu.tenant = c.tenant and cu.customer_id = c.customer_id
       where o.tenant = $1`,
      t,
    ),
  };
}

describe('archive threads and webhooks into the same log', () => {
  it('archive-fed, webhook-fed and doubly fed threads give the same views, each thread once', async () => {
    const chats = generateChats({ seed: 515, chats: CHATS, reportFacts: true });
    // The corpus has every kind of fact an archive must carry.
    expect(chats.some((c) => c.supervisor !== null)).toBe(true);
    expect(chats.some((c) => c.report?.transfer)).toBe(true);
    expect(chats.some((c) => c.report?.queue)).toBe(true);
    expect(chats.some((c) => c.report?.previousThreadId)).toBe(true);
    expect(chats.some((c) => c.report?.rating?.canceledAt !== null && c.report?.rating)).toBe(true);
    expect(chats.some((c) => c.tagChanges.some((t) => t.kind === 'untagged'))).toBe(true);
    expect(new Set(chats.map((c) => c.closedBy.by)).size).toBe(3);
    const archiveFirst = chats.filter((_, i) => i % 2 === 0);
    const webhooksFirst = chats.filter((_, i) => i % 2 === 1);
    // Same key (tenant|chat) → same partition: the raw topic keeps this order per chat.
    await produceArchives(under(archiveFirst, BOTH));
    await postWebhooks([...under(chats, WEBHOOKS), ...under(chats, BOTH)]);
    await postWebhooks(under(chats, PARTIAL), true);
    // Reconciliation: webhooks were lost; the archive read afterwards fills the gaps.
    await produceArchives([
      ...under(chats, ARCHIVE),
      ...under(webhooksFirst, BOTH),
      ...under(chats, PARTIAL),
    ]);

    const reference = async () => views(WEBHOOKS, { transfers: true });
    const messages = chats.reduce((n, c) => n + c.messages.length, 0);
    const settled = async (t: SimulatedTenant) => {
      const { rows } = await pool
        .query<{ n: number }>(
          `select count(*)::int as n from "${analyticsConfig.schema}".thread_facts where tenant = $1 and closed`,
          [t.organizationId],
        )
        .catch(() => ({ rows: [{ n: 0 }] }));
      return rows[0]!.n;
    };
    await waitFor(
      async () =>
        (await settled(WEBHOOKS)) >= chats.length &&
        (await settled(ARCHIVE)) >= chats.length &&
        (await settled(BOTH)) >= chats.length
          ? true
          : undefined,
      {
        timeoutMs: 60_000,
        intervalMs: 200,
        message: `${chats.length} closed threads per tenant in thread_facts`,
      },
    );
    // Consumers run partitions concurrently: wait until the views stop differing (the assertions show any rest).
    const comparable = async () => {
      const want = await reference();
      return {
        want,
        both: await views(BOTH, { transfers: true }),
        archive: await views(ARCHIVE, { transfers: false }),
        partial: await views(PARTIAL, { transfers: false }),
        wantWithoutTransfers: (await views(WEBHOOKS, { transfers: false })).threadFacts,
      };
    };
    const settledAt = performance.now();
    await waitFor(
      async () => {
        const c = await comparable();
        const bothSame = JSON.stringify(c.both) === JSON.stringify(c.want);
        const withoutTransfers = JSON.stringify({ ...c.want, threadFacts: c.wantWithoutTransfers });
        const archiveSame = JSON.stringify(c.archive) === withoutTransfers;
        const partialSame = JSON.stringify(c.partial) === withoutTransfers;
        return bothSame && archiveSame && partialSame ? true : undefined;
      },
      { timeoutMs: 15_000, intervalMs: 250, message: 'views equal' },
    ).catch(() => undefined);
    process.stdout.write(
      `e2e archive: ${chats.length} threads per tenant; views compared after ${((performance.now() - settledAt) / 1000).toFixed(1)} s\n`,
    );

    const { want, both, archive, partial, wantWithoutTransfers } = await comparable();
    expect(want.transcript.length).toBeGreaterThanOrEqual(messages);
    expect(want.threadFacts).toHaveLength(chats.length);
    expect(want.crmIntent.length).toBeGreaterThan(CHATS / 2);
    expect(want.tags.length).toBeGreaterThan(0);
    // Doubly fed: each thread, message, tag and intent once, equal to webhooks alone.
    for (const key of Object.keys(want) as (keyof typeof want)[])
      expect(both[key], `BOTH ${key}`).toEqual(want[key]);
    // An archive-fed close is dated by its archiving message, the simulated close.
    const { rows: closes } = await pool.query<{ thread_id: string; closed_us: string }>(
      `select thread_id, closed_us from "${chain.transcriptsConfig.schema}".threads where tenant = $1`,
      [ARCHIVE.organizationId],
    );
    expect(Object.fromEntries(closes.map((r) => [r.thread_id, Number(r.closed_us)]))).toEqual(
      Object.fromEntries(chats.map((c) => [c.threadId, c.closedAt])),
    );
    // Archive alone: the same, but for the transfer count.
    for (const key of Object.keys(want) as (keyof typeof want)[])
      expect(archive[key], `ARCHIVE ${key}`).toEqual(
        key === 'threadFacts' ? wantWithoutTransfers : want[key],
      );
    // Reconciled: 30% of the webhooks and every webhook of some chats lost, then the archive read: the same again
    // (tags: the archive's list supersedes the tag changes received before it). A lost chat_transferred webhook
    // stays lost (an archive has no record of transfers), so the transfer count is left out here too.
    for (const key of Object.keys(want) as (keyof typeof want)[])
      expect(partial[key], `PARTIAL ${key}`).toEqual(
        key === 'threadFacts' ? wantWithoutTransfers : want[key],
      );
  }, 120_000);
});
