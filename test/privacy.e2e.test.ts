import { randomBytes, randomInt } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import {
  simulateTraffic,
  simulatedTenant,
  type Delivery,
  type SimulatedChat,
  type SimulatedTenant,
} from '@livechat-pipeline/traffic-simulator';
import { rebuild } from '@livechat-pipeline/postgres-consumer';
import { ChatEventOpener, openPrivacyVault, transcriptsConsumer } from '@livechat-pipeline/transcripts';
import {
  ChatEventOpener as AnalyticsChatEventOpener,
  analyticsConsumer,
  openPrivacyVault as openAnalyticsPrivacyVault,
} from '@livechat-pipeline/analytics';
import { CrmChatEventOpener, crmConsumer, openCrmPrivacyVault } from '@livechat-pipeline/crm-sync';
import { runErasure, runRetentionErasure, type ErasureDeps } from '@livechat-pipeline/privacy';
import { testKafka, waitFor } from '@livechat-pipeline/testkit';
import { postDeliveries } from './support/chain.js';
import {
  PRIVACY_E2E_SECRET_KEY,
  caughtUp,
  newMasterKey,
  startPrivacyStack,
  type PrivacyKeys,
  type PrivacyStack,
} from './support/privacy-stack.js';
import {
  openVault,
  readChatEventsTopic,
  readRawTopic,
  readTopicsBytes,
  rowChecksums,
} from './support/privacy-scan.js';
import { logLinesWithSecrets, scanDatabaseForSecrets } from './support/secret-scan.js';

/**
 * Issue 19 end to end, every service with privacy on (ingest seals, the normalizer opens and seals, the
 * projections open): simulated traffic of several customers plus one customer with a planted canary name,
 * e-mail and message text (random per run); the customer erased by e-mail; then no canary byte is readable
 * anywhere (topics opened with the keys that remain, every column of every table, the logs, the dead letters),
 * a rebuild of every projection from the topic keeps it so and keeps the erased chats' counts, and every other
 * customer's rows are unchanged. Then retention (a tenant's 1-day limit erases the chats idle for 2 days) and a
 * rotation of the master key (k1 → k2 active → rewrap → k1 removed).
 */
const run = randomBytes(5).toString('hex');
const CANARY = {
  // Lower-case hex tokens: a projection that lower-cases (e-mails) or splits (first/last name) keeps them whole.
  nameToken: `nm${run}`,
  emailToken: `em${run}`,
  textToken: `tx${run}`,
};
const canaryName = `${CANARY.nameToken}first ${CANARY.nameToken}last`;
const canaryEmail = `${CANARY.emailToken}@example.test`;
const canaryText = `please keep this private: ${CANARY.textToken}`;
const canaries = [CANARY.nameToken, CANARY.emailToken, CANARY.textToken];

const keys1: PrivacyKeys = {
  keys: newMasterKey('k1'),
  emailHashKey: randomBytes(32).toString('base64'),
};
const tenant: SimulatedTenant = simulatedTenant(randomInt(1, 2 ** 30), 'pv-main');
const otherTenant: SimulatedTenant = simulatedTenant(randomInt(1, 2 ** 30), 'pv-other');
const retentionTenant: SimulatedTenant = simulatedTenant(randomInt(1, 2 ** 30), 'pv-retention');

let stack: PrivacyStack;
const t0 = performance.now();
/** Progress on stderr with the seconds since the start: where the time goes when the test is slow. */
const step = (what: string): void =>
  void process.stderr.write(`[privacy e2e ${((performance.now() - t0) / 1000).toFixed(1)} s] ${what}\n`);
let pool: pg.Pool;

beforeAll(async () => {
  stack = await startPrivacyStack(keys1);
  pool = new pg.Pool({ connectionString: stack.database.url, max: 4 });
});
afterAll(async () => {
  await pool?.end();
  await stack?.close();
});

const schemas = () => [
  stack.configs.transcripts.schema,
  stack.configs.analytics.schema,
  stack.configs.crm.schema,
];

function erasureDeps(env: Record<string, string>): ErasureDeps {
  return {
    vault: openVault(env, pool),
    pool,
    projections: [
      { name: 'transcripts', schema: stack.configs.transcripts.schema },
      { name: 'analytics', schema: stack.configs.analytics.schema },
      { name: 'crm', schema: stack.configs.crm.schema },
    ],
  };
}

/** The canary customer's chats: simulated chats whose customer's name, e-mail and first message are replaced. */
function canaryTraffic(seed: number): { deliveries: Delivery[]; chats: SimulatedChat[] } {
  const traffic = simulateTraffic({
    seed,
    chats: 2,
    format: 'v3',
    tenants: [tenant],
    secretKey: PRIVACY_E2E_SECRET_KEY,
    reportFacts: true,
  });
  const first = traffic.chats[0]!;
  const replacements = new Map<string, [string, string][]>();
  for (const chat of traffic.chats) {
    const text = chat.messages.find((m) => m.author.kind === 'customer')?.text;
    const comment = chat.report?.rating?.comment ?? null;
    replacements.set(chat.chatId, [
      ...(replacements.get(chat.chatId) ?? []),
      [chat.customer.name, canaryName],
      [chat.customer.email, canaryEmail],
      // One customer: the second chat's customer is the first one's.
      [chat.customer.id, first.customer.id],
      ...(text === undefined ? [] : ([[text, canaryText]] as [string, string][])),
      ...(comment === null ? [] : ([[comment, canaryText]] as [string, string][])),
    ]);
  }
  const deliveries = traffic.deliveries.map((d) => {
    let json = JSON.stringify(d.body);
    for (const [from, to] of replacements.get(d.chatId) ?? [])
      json = json.replaceAll(JSON.stringify(from).slice(1, -1), JSON.stringify(to).slice(1, -1));
    return { ...d, body: JSON.parse(json) as Delivery['body'] } as Delivery;
  });
  return { deliveries, chats: traffic.chats };
}

const asPosts = (deliveries: readonly Delivery[]) =>
  deliveries.map((d) => ({ body: d.body as unknown as Record<string, unknown>, chatId: d.chatId }));

async function postAndSettle(deliveries: readonly Delivery[]): Promise<void> {
  const { statuses } = await postDeliveries(stack.services.ingestUrl, asPosts(deliveries));
  expect(statuses.filter((s) => s !== 200)).toEqual([]);
  await waitFor(async () => ((await caughtUp(stack)) ? true : undefined), {
    timeoutMs: 45_000,
    intervalMs: 200,
    message: 'the normalizer and every projection at the end of their topics',
  });
}

/** Per chat: the analytics facts that must survive an erasure (every column but the rating's comment). */
async function analyticsCounts(chatIds: readonly string[]): Promise<unknown[]> {
  const { rows } = await pool.query(
    `select to_jsonb(t) - 'rating_comment' as facts from "${stack.configs.analytics.schema}".thread_facts t
      where chat_id = any($1) order by chat_id, thread_id`,
    [chatIds],
  );
  return rows.map((r: { facts: unknown }) => r.facts);
}

async function count(sql: string, params: unknown[]): Promise<number> {
  const { rows } = await pool.query<{ n: number }>(sql, params);
  return rows[0]!.n;
}

/** Every projection rebuilt from the chat-events topic, as the rebuild CLIs do (services stopped first). */
async function rebuildAll(): Promise<Record<string, number>> {
  step('rebuild: stopping the services');
  await stack.services.stop();
  const totals: Record<string, number> = {};
  const kafka = testKafka('pv-rebuild');
  const options = { kafka, databaseUrl: stack.database.url, onEvent: () => undefined };
  // Each opens sealed events as its rebuild CLI does: the key store of its own configuration.
  step('rebuild: transcripts');
  const transcriptsVault = await openPrivacyVault(stack.configs.transcripts.privacy);
  try {
    const opener = new ChatEventOpener(transcriptsVault?.vault ?? null, { service: 'transcripts' });
    totals['transcripts'] = (
      await rebuild(transcriptsConsumer(stack.configs.transcripts, opener), options)
    ).total;
  } finally {
    await transcriptsVault?.close();
  }
  step('rebuild: analytics');
  const analyticsVault = await openAnalyticsPrivacyVault(stack.configs.analytics.privacy);
  try {
    const opener = new AnalyticsChatEventOpener(analyticsVault?.vault ?? null, { service: 'analytics' });
    totals['analytics'] = (await rebuild(analyticsConsumer(stack.configs.analytics, opener), options)).total;
  } finally {
    await analyticsVault?.close();
  }
  step('rebuild: crm');
  const crmVault = await openCrmPrivacyVault(stack.configs.crm);
  try {
    const opener = new CrmChatEventOpener(crmVault?.vault ?? null);
    totals['crm'] = (await rebuild(crmConsumer(stack.configs.crm, opener), options)).total;
  } finally {
    await crmVault?.close();
  }
  step('rebuild: done');
  return totals;
}

describe('privacy end to end (issue 19)', () => {
  // Fixed, so the run is deterministic (the canary values are random, the chats' shapes are not): with seed 1000 a
  // canary chat opens with the agent's welcome message before the customer speaks, which analytics must still tell
  // apart once the chat is erased. PRIVACY_E2E_SEED tries another traffic.
  const seed = Number(process.env['PRIVACY_E2E_SEED'] ?? 1000);
  process.stderr.write(`privacy e2e: traffic seed ${seed} (PRIVACY_E2E_SEED=${seed} repeats it)\n`);
  const main = simulateTraffic({
    seed,
    chats: 10,
    format: 'v3',
    tenants: [tenant, otherTenant],
    secretKey: PRIVACY_E2E_SECRET_KEY,
    duplicateRate: 0.1,
    reorderRate: 0.1,
  });
  const canary = canaryTraffic(seed + 1);
  const retention = simulateTraffic({
    seed: seed + 2,
    chats: 6,
    format: 'v3',
    tenants: [retentionTenant],
    secretKey: PRIVACY_E2E_SECRET_KEY,
  });
  const canaryChats = [...new Set(canary.chats.map((c) => c.chatId))];
  // Every canary chat's customer is the first one's (canaryTraffic).
  const erasedCanary = { chats: canaryChats, customers: [canary.chats[0]!.customer.id] };

  it('erases a customer everywhere: topics, tables, logs, dead letters, a rebuild; others unchanged', async () => {
    // Interleaved, as several customers chatting at once.
    const all: Delivery[] = [];
    const streams = [main.deliveries, canary.deliveries, retention.deliveries];
    for (let i = 0; i < Math.max(...streams.map((s) => s.length)); i++)
      for (const s of streams) if (s[i] !== undefined) all.push(s[i]!);
    step(`posting ${all.length} webhooks`);
    await postAndSettle(all);
    step('settled; reading everything before the erasure');

    const vault = openVault(stack.env, pool);
    // Before: the canary is in the projections and in the opened topics, never in a record's bytes. This is
    // what proves that each check below can see a canary.
    const rawBefore = await readRawTopic(stack.names.raw, vault, canaries);
    expect(rawBefore.findings.filter((f) => f.endsWith('bytes'))).toEqual([]);
    expect(rawBefore.findings.some((f) => f.endsWith('opened body'))).toBe(true);
    expect(rawBefore.sealed).toBeGreaterThan(0);
    const eventsBefore = await readChatEventsTopic(stack.names.chatEvents, vault, canaries);
    expect(eventsBefore.findings.filter((f) => !f.endsWith('opened'))).toEqual([]);
    expect(eventsBefore.findings.length).toBeGreaterThan(0);
    const dbBefore = await scanDatabaseForSecrets(stack.database.url, canaries);
    const hitTables = new Set(dbBefore.hits.map((h) => h.table.split('.')[0]));
    for (const schema of [stack.configs.transcripts.schema, stack.configs.crm.schema])
      expect.soft(hitTables, `the canary reached ${schema}`).toContain(schema);

    const others = await rowChecksums(pool, schemas(), erasedCanary);
    const othersViews = await rowChecksums(pool, schemas(), erasedCanary, { views: true });
    const countsBefore = await analyticsCounts(canaryChats);
    expect(countsBefore.length).toBeGreaterThanOrEqual(canaryChats.length); // a thread each at least

    step('erasing');
    // Erase by e-mail.
    const deps = erasureDeps(stack.env);
    const outcome = await runErasure(deps, {
      tenantId: tenant.organizationId,
      subject: { email: canaryEmail.toUpperCase() },
      actor: 'privacy-e2e',
    });
    process.stdout.write(
      `privacy e2e erasure: ${JSON.stringify({
        requestId: outcome.requestId,
        chats: outcome.chats,
        keysErased: outcome.keysErased,
        tombstonesCreated: outcome.tombstonesCreated,
        customerLinksDeleted: outcome.customerLinksDeleted,
        rowsRemovedPerProjection: outcome.projections,
      })}\n`,
    );
    expect([...outcome.chatIds].sort()).toEqual(expect.arrayContaining([...canaryChats].sort()));
    expect(outcome.keysErased).toBeGreaterThanOrEqual(canaryChats.length);
    expect(outcome.projections['transcripts']).toBeGreaterThan(0);
    // Idempotent: the same request again changes nothing and answers the first counts.
    const again = await runErasure(deps, {
      tenantId: tenant.organizationId,
      subject: { email: canaryEmail },
      requestId: outcome.requestId,
      actor: 'privacy-e2e',
    });
    expect(again.alreadyDone).toBe(true);
    expect(again.keysErased).toBe(outcome.keysErased);

    const expectNoCanaryAnywhere = async (when: string) => {
      step(`${when}: reading the topics`);
      const reader = openVault(stack.env, pool);
      const raw = await readRawTopic(stack.names.raw, reader, canaries);
      expect(raw.findings, `${when}: raw topic`).toEqual([]);
      expect(raw.erased, `${when}: raw records of the erased chats`).toBeGreaterThan(0);
      const events = await readChatEventsTopic(stack.names.chatEvents, reader, canaries);
      expect(events.findings, `${when}: chat-events topic`).toEqual([]);
      expect(events.erased, `${when}: chat events of the erased chats`).toBeGreaterThan(0);
      expect(events.opened, `${when}: other chats' events still open`).toBeGreaterThan(0);
      step(`${when}: scanning the database`);
      const db = await scanDatabaseForSecrets(stack.database.url, canaries);
      for (const schema of [...schemas(), 'privacy'])
        expect(
          db.tables.some((t) => t.startsWith(`${schema}.`)),
          `${when}: ${schema} scanned`,
        ).toBe(true);
      expect(
        db.hits.map((h) => `${h.table}.${h.column} (${h.rows} rows)`),
        `${when}: tables`,
      ).toEqual([]);
      for (const [service, lines] of Object.entries(stack.logs)) {
        expect(lines.length, `${service} logged something`).toBeGreaterThan(0);
        expect(logLinesWithSecrets(lines, canaries), `${when}: ${service} log`).toEqual([]);
      }
      step(`${when}: reading the dead letters`);
      const dlq = await readTopicsBytes(stack.deadLetterTopics, canaries);
      expect(dlq.findings, `${when}: dead letters`).toEqual([]);
      // Erased values are skipped, never dead-lettered: nothing reached a dead-letter topic at all.
      expect(dlq.records, `${when}: dead letters written`).toBe(0);
    };

    // (a) No canary byte readable anywhere.
    await expectNoCanaryAnywhere('after the erasure');
    // (c) Every other customer's rows as they were.
    expect(await rowChecksums(pool, schemas(), erasedCanary)).toEqual(others);
    expect(await analyticsCounts(canaryChats)).toEqual(countsBefore);

    // (b) Every projection rebuilt from the topic: still nothing, the erased chats' counts unchanged.
    const totals = await rebuildAll();
    process.stdout.write(`privacy e2e rebuild: events replayed per projection ${JSON.stringify(totals)}\n`);
    for (const n of Object.values(totals)) expect(n).toBe(eventsBefore.records);
    // The services stay stopped: the retention test needs only the database, the rotation test restarts them.
    await expectNoCanaryAnywhere('after the rebuild');
    // Soft: the other customers' views are checked too when the erased chats' facts differ.
    expect
      .soft(await analyticsCounts(canaryChats), "the erased chats' analytics facts after the rebuild")
      .toEqual(countsBefore);
    expect(await rowChecksums(pool, schemas(), erasedCanary, { views: true })).toEqual(othersViews);
  });

  it('retention: a tenant with 1 day erases the chats idle for 2 days everywhere, younger ones kept', async () => {
    const chats = retention.chats.map((c) => c.chatId);
    const old = chats.slice(0, 3);
    const young = chats.slice(3);
    const deps = erasureDeps(stack.env);
    const t = retentionTenant.organizationId;
    const moved = await pool.query(
      `update privacy.chat_keys set last_seen_at = now() - interval '2 days' where tenant_id = $1 and chat_id = any($2)`,
      [t, old],
    );
    expect(moved.rowCount).toBe(old.length);
    const entries = `select count(*)::int as n from "${stack.configs.transcripts.schema}".entries where tenant = $1 and chat_id = any($2)`;
    expect(await count(entries, [t, old])).toBeGreaterThan(0);
    const youngEntries = await count(entries, [t, young]);
    expect(youngEntries).toBeGreaterThan(0);
    const erased = {
      chats: [...canaryChats, ...old],
      customers: [
        ...erasedCanary.customers,
        ...retention.chats.filter((c) => old.includes(c.chatId)).map((c) => c.customer.id),
      ],
    };
    const youngRows = await rowChecksums(pool, schemas(), erased);
    const oldCounts = await analyticsCounts(old);

    await deps.vault.setRetention(t, 1);
    const result = await runRetentionErasure(deps, { defaultDays: null });
    expect(result).toMatchObject({ chats: old.length, keysErased: old.length });

    const states = await openVault(stack.env, pool).keysFor(t, chats, { create: false });
    expect(old.map((c) => states.get(c)?.state)).toEqual(old.map(() => 'erased'));
    expect(young.map((c) => states.get(c)?.state)).toEqual(young.map(() => 'active'));
    expect(await count(entries, [t, old])).toBe(0);
    expect(await count(entries, [t, young])).toBe(youngEntries);
    expect(await rowChecksums(pool, schemas(), erased)).toEqual(youngRows);
    expect(await analyticsCounts(old)).toEqual(oldCounts);
    // Run again: nothing more is due.
    expect(await runRetentionErasure(deps, { defaultDays: null })).toMatchObject({ chats: 0 });
  });

  it('rotation: k1 → k2 active → rewrap → k1 removed; every sealed record still opens, new events applied', async () => {
    const k2 = newMasterKey('k2');
    const both: PrivacyKeys = { ...keys1, keys: `${keys1.keys},${k2}`, activeKeyId: 'k2' };
    step('rotation: restarting with k1 and k2 (k2 active)');
    await stack.restart(both);
    const during = simulateTraffic({
      seed: seed + 3,
      chats: 2,
      format: 'v3',
      tenants: [tenant],
      secretKey: PRIVACY_E2E_SECRET_KEY,
    });
    await postAndSettle(during.deliveries);
    const rotating = openVault(stack.env, pool);
    const byKek = await rotating.keysByKekId();
    expect(Object.keys(byKek).sort()).toEqual(['k1', 'k2']);

    step('rotation: rewrap');
    const rewrapped = await rotating.rewrap({ batchSize: 7 });
    expect(Object.keys(rewrapped.keysByKekId)).toEqual(['k2']);

    const onlyK2: PrivacyKeys = { ...keys1, keys: k2 };
    step('rotation: restarting with k2 alone');
    await stack.restart(onlyK2);
    const after = simulateTraffic({
      seed: seed + 4,
      chats: 2,
      format: 'v3',
      tenants: [tenant],
      secretKey: PRIVACY_E2E_SECRET_KEY,
    });
    await postAndSettle(after.deliveries);

    step('rotation: reading the topics with k2 alone');
    // Every sealed record opens with k2 alone (or is erased: the canary's and the retention's chats).
    const reader = openVault(stack.env, pool);
    const raw = await readRawTopic(stack.names.raw, reader, canaries);
    expect(raw.findings).toEqual([]);
    expect(raw.opened + raw.erased).toBe(raw.sealed);
    const events = await readChatEventsTopic(stack.names.chatEvents, reader, canaries);
    expect(events.findings).toEqual([]);
    expect(events.opened + events.erased).toBe(events.sealed);

    // The projections applied the events made before, during and after the rotation, with their texts.
    for (const chat of [...main.expected, ...during.expected, ...after.expected]) {
      const { rows } = await pool.query<{ text: string | null }>(
        `select text from "${stack.configs.transcripts.schema}".chat_transcript
          where tenant = $1 and chat_id = $2 and kind = 'message' order by position`,
        [chat.tenant.organizationId, chat.chatId],
      );
      expect(
        rows.map((r) => r.text),
        chat.chatId,
      ).toEqual(chat.messages.map((m) => m.text));
    }
  });
});
