import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { startFakeHubSpot, type FakeHubSpot, type FakeHubSpotOptions } from '@livechat-pipeline/hubspot-fake';
import { createTestDatabase, uniqueName, waitFor, type TestDatabase } from '@livechat-pipeline/testkit';
import { listDeadLetters, replayDeadLetters } from '../src/dead-letters.js';
import { HubSpotClient } from '../src/hubspot/client.js';
import { renderNote, syncKey } from '../src/sync/note.js';
import { startCrmSync, type CrmSync } from '../src/start.js';
import { ORG, customerUpdate, smallChat } from './support/chats.js';
import { captureLogs, chatEventsTopic, crmConfig, crmEnv, eventsOf } from './support/harness.js';

const TOKEN = 'pat-na1-CANARY-faults';

let db: TestDatabase;
let pool: pg.Pool;
let fake: FakeHubSpot | undefined;
let crm: CrmSync | undefined;
beforeAll(async () => {
  db = await createTestDatabase('crm_faults');
  pool = new pg.Pool({ connectionString: db.url, max: 2 });
});
afterEach(async () => {
  await crm?.stop();
  await fake?.close();
  crm = undefined;
  fake = undefined;
});
afterAll(async () => {
  await pool.end();
  await db.drop();
});

/** A fresh crm-sync (own topic, group and schema) against a fresh fake. */
async function setUp(fakeOptions: Partial<FakeHubSpotOptions> = {}, extra: Record<string, string> = {}) {
  fake = await startFakeHubSpot({ tokens: { [TOKEN]: 7 }, ...fakeOptions });
  const { topic, publish } = await chatEventsTopic(2);
  const schema = uniqueName('crm').replace(/[^a-z0-9_]/g, '_');
  const env = crmEnv(
    { databaseUrl: db.url, topic, apiUrl: fake.url, token: TOKEN },
    { CRM_SCHEMA: schema, HUBSPOT_RATE_LIMIT_WAIT_MS: '1000', ...extra },
  );
  const logs = captureLogs('info');
  crm = await startCrmSync(crmConfig(env), logs.logger);
  return { publish, schema, logs, topic };
}

const notesOf = (f: FakeHubSpot, chats: readonly { chatId: string; threadId: string }[]) =>
  chats.map(
    (c) =>
      f.notes().filter((n) => n.properties['hs_note_body']?.includes(syncKey(ORG, c.chatId, c.threadId)))
        .length,
  );

async function metric(name: string): Promise<number> {
  const text = await crm!.metricsRegistry.getSingleMetricAsString(name);
  return text
    .split('\n')
    .filter((l) => l.startsWith(name) && !l.startsWith('#'))
    .reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
}

describe('crm-sync: HubSpot limits and faults', () => {
  it('a 429 storm (ten-second policy, no Retry-After) recovers on its own: every note once', async () => {
    // The client's bucket (30 per window) is above the portal's (4 per 1 s window): the fake answers 429s.
    const { publish } = await setUp(
      { tenSecondlyLimit: 4, tenSecondlyWindowMs: 1_000 },
      { HUBSPOT_BURST: '30', HUBSPOT_BURST_WINDOW_MS: '1000' },
    );
    const chats = Array.from({ length: 6 }, (_, i) => smallChat(100 + i));
    await publish(eventsOf(chats.flatMap((c) => c.deliveries)));
    await waitFor(() => notesOf(fake!, chats).every((n) => n >= 1), {
      timeoutMs: 30_000,
      message: 'every note',
    });
    expect(notesOf(fake!, chats)).toEqual(chats.map(() => 1));
    expect(fake!.calls().filter((c) => c.status === 429).length).toBeGreaterThan(0);
    expect(await metric('crm_sync_hubspot_rate_limited_total')).toBeGreaterThan(0);
  });

  it('a DAILY 429 pauses the account (metrics, log, connection row) with only probes, and resumes after the reset', async () => {
    const { publish, schema, logs } = await setUp({ dailyLimit: 4 }, { CRM_PROBE_MS: '300' });
    const chats = Array.from({ length: 5 }, (_, i) => smallChat(200 + i));
    await publish(eventsOf(chats.flatMap((c) => c.deliveries)));
    await waitFor(async () => (await metric('crm_sync_accounts_paused')) === 1, {
      timeoutMs: 20_000,
      message: 'paused',
    });
    const { rows } = await pool.query<{ status: string; code: string }>(
      `select status, code from "${schema}".connections`,
    );
    expect(rows).toEqual([{ status: 'paused', code: 'CRM_HUBSPOT_DAILY_LIMIT' }]);
    expect(logs.lines.some((l) => l.includes('daily limit reached'))).toBe(true);
    // While paused, only a probe now and then (300 ms apart), not a call per waiting thread: wait for three
    // probes, then the calls can be no more than the probe intervals that passed (plus the first).
    const pausedAt = Date.now();
    const whilePaused = () => fake!.calls().filter((c) => c.at >= pausedAt);
    await waitFor(() => whilePaused().length >= 3, { timeoutMs: 10_000, intervalMs: 50, message: 'probes' });
    const calls = whilePaused();
    const elapsed = Date.now() - pausedAt;
    expect(calls.length).toBeLessThanOrEqual(Math.floor(elapsed / 300) + 2);
    expect(calls.every((c) => c.status === 429)).toBe(true);
    // A new day with room to spare: look-ups after a slow answer on a loaded machine must not pause it again.
    fake!.resetDaily(1_000);
    await waitFor(() => notesOf(fake!, chats).every((n) => n >= 1), {
      timeoutMs: 20_000,
      message: 'every note',
    });
    expect(notesOf(fake!, chats)).toEqual(chats.map(() => 1));
    await waitFor(async () => (await metric('crm_sync_accounts_paused')) === 0, { message: 'resumed' });
    const after = await pool.query<{ status: string }>(`select status from "${schema}".connections`);
    expect(after.rows).toEqual([{ status: 'ok' }]);
  });

  it('a 401 marks the connection broken and keeps the work; a valid token resumes it', async () => {
    const { publish, schema } = await setUp({}, { CRM_PROBE_MS: '300' });
    fake!.setToken(TOKEN, null);
    const chats = [smallChat(300), smallChat(301)];
    await publish(eventsOf(chats.flatMap((c) => c.deliveries)));
    await waitFor(
      async () =>
        (await pool.query(`select 1 from "${schema}".connections where status = 'broken'`)).rowCount === 1,
      { timeoutMs: 20_000, message: 'broken connection' },
    );
    expect(await metric('crm_sync_accounts_broken')).toBe(1);
    const pending = await pool.query(`select status from "${schema}".outbox`);
    expect(pending.rows.map((r: { status: string }) => r.status)).toEqual(['pending', 'pending']);
    fake!.setToken(TOKEN, 7);
    await waitFor(() => notesOf(fake!, chats).every((n) => n === 1), {
      timeoutMs: 20_000,
      message: 'every note',
    });
    await waitFor(
      async () =>
        (await pool.query(`select 1 from "${schema}".connections where status = 'ok'`)).rowCount === 1,
      { message: 'connection ok' },
    );
  });

  it("a replaced token (same portal) updates the thread's note instead of creating a second one", async () => {
    // given: a thread synced with the first token
    const { publish, schema, topic } = await setUp();
    const chat = smallChat(320);
    await publish(eventsOf(chat.deliveries));
    await waitFor(() => notesOf(fake!, [chat])[0] === 1, { timeoutMs: 20_000, message: 'the note' });
    await waitFor(
      async () =>
        (await pool.query(`select 1 from "${schema}".outbox where status = 'pending'`)).rowCount === 0,
      { timeoutMs: 20_000, message: 'the outbox drained' },
    );

    // when: the operator replaces the token (the old one revoked), crm-sync starts with the new one, and a
    // change of the customer re-queues the thread
    const replacedAt = Date.now();
    await crm!.stop();
    const NEW_TOKEN = 'pat-na1-CANARY-replaced';
    fake!.setToken(TOKEN, null);
    fake!.setToken(NEW_TOKEN, 7);
    const env = crmEnv(
      { databaseUrl: db.url, topic, apiUrl: fake!.url, token: NEW_TOKEN },
      { CRM_SCHEMA: schema, HUBSPOT_RATE_LIMIT_WAIT_MS: '1000' },
    );
    crm = await startCrmSync(crmConfig(env), captureLogs('info').logger);
    await publish(
      eventsOf([customerUpdate(320, 'ada320.new@mail.example', Date.parse('2026-11-26T00:00:00Z'))]),
    );

    // then: the re-queued thread is synced again by updating its note (no second note)
    await waitFor(
      async () =>
        (
          await pool.query(
            `select 1 from "${schema}".outbox where version >= 2 and synced_version >= version and status = 'done'`,
          )
        ).rowCount === 1,
      { timeoutMs: 20_000, message: 'the thread synced again' },
    );
    expect(notesOf(fake!, [chat])).toEqual([1]);
    const patched = fake!
      .calls()
      .filter((c) => c.at >= replacedAt && c.method === 'PATCH' && c.status === 200);
    expect(patched.map((c) => c.path.replace(/\d+$/, 'N'))).toEqual(['/crm/v3/objects/notes/N']);
  });

  it('a 207 refusing one input moves only that thread to crm.dead_letters; replay sends it again once fixed', async () => {
    const { publish, schema } = await setUp();
    const good = smallChat(400);
    const bad = smallChat(401, { email: 'bob@localhost' });
    await publish(eventsOf([...good.deliveries, ...bad.deliveries]));
    await waitFor(
      async () => (await listDeadLetters(pool, schema)).length === 1 && notesOf(fake!, [good])[0] === 1,
      {
        timeoutMs: 20_000,
        message: 'one note, one dead letter',
      },
    );
    const [letter] = await listDeadLetters(pool, schema);
    expect(letter).toMatchObject({ chatId: bad.chatId, code: 'CRM_HUBSPOT_REJECTED', httpStatus: 207 });
    const stored = await pool.query<{ e: { category: string } }>(
      `select hubspot_error as e from "${schema}".dead_letters`,
    );
    expect(stored.rows[0]!.e.category).toBe('VALIDATION_ERROR');
    expect(fake!.calls().filter((c) => c.status === 207)).toHaveLength(1);

    // The customer's e-mail is corrected in LiveChat; the replay sends the thread with it.
    await publish(eventsOf([customerUpdate(401, 'bob@mail.example', Date.parse('2026-11-26T00:00:00Z'))]));
    await waitFor(
      async () =>
        (await pool.query(`select 1 from "${schema}".customers where email = 'bob@mail.example'`))
          .rowCount === 1,
    );
    expect(await replayDeadLetters(pool, schema, 'all')).toBe(1);
    await waitFor(() => notesOf(fake!, [bad])[0] === 1, { timeoutMs: 20_000, message: 'the replayed note' });
    expect(await listDeadLetters(pool, schema)).toEqual([]);
    expect(
      fake!
        .contacts()
        .map((c) => c.emailKey)
        .sort(),
    ).toEqual(['bob@mail.example', 'customer400@mail.example']);
  });

  it('a 409 from a concurrent create of the same e-mail is convergence: the same contact, the note made', async () => {
    const { publish } = await setUp();
    fake!.injectFaults('contacts', { kind: 'conflict' });
    const chats = [smallChat(550), smallChat(551, { email: 'CUSTOMER550@mail.example' })];
    await publish(eventsOf(chats.flatMap((c) => c.deliveries)));
    await waitFor(() => notesOf(fake!, chats).every((n) => n === 1), {
      timeoutMs: 20_000,
      message: 'both notes',
    });
    expect(fake!.contacts().map((c) => c.emailKey)).toEqual(['customer550@mail.example']);
    expect(fake!.calls().filter((c) => c.status === 409)).toHaveLength(1);
    expect(new Set(fake!.notes().flatMap((n) => n.contactIds))).toEqual(new Set([fake!.contacts()[0]!.id]));
    expect(await metric('crm_sync_dead_letters_total')).toBe(0);
    // not a failure that was retried later: the 409 is convergence at once
    expect(await metric('crm_sync_failures_total')).toBe(0);
  });

  it('a second 409 on the same upsert backs the batch off instead of dead-lettering it', async () => {
    const { publish, schema } = await setUp();
    fake!.injectFaults('contacts', { kind: 'conflict' }, { kind: 'conflict' });
    const chats = [smallChat(560), smallChat(561)];
    await publish(eventsOf(chats.flatMap((c) => c.deliveries)));
    await waitFor(() => notesOf(fake!, chats).every((n) => n === 1), {
      timeoutMs: 20_000,
      message: 'both notes',
    });
    expect(await listDeadLetters(pool, schema)).toEqual([]);
    expect(fake!.calls().filter((c) => c.status === 409)).toHaveLength(2);
  });

  it('ambiguous creates (answer after the client timed out, connection dropped) create no second note', async () => {
    const { publish, schema } = await setUp({}, { HUBSPOT_TIMEOUT_MS: '800' });
    fake!.injectFaults(
      'notes-create',
      { kind: 'answer-late', ms: 1_600 },
      { kind: 'drop-after-write' },
      { kind: 'answer-late', ms: 1_600 },
    );
    const chats = [smallChat(500), smallChat(501), smallChat(502)];
    await publish(eventsOf(chats.flatMap((c) => c.deliveries)));
    await waitFor(
      async () => (await pool.query(`select 1 from "${schema}".outbox where status = 'done'`)).rowCount === 3,
      { timeoutMs: 20_000, message: 'outbox drained' },
    );
    expect(notesOf(fake!, chats)).toEqual([1, 1, 1]);
    // One look-up per ambiguous create at least (an ordinary call slower than the timeout on a loaded machine
    // adds one, and finds its note); never a second create.
    expect(await metric('crm_sync_note_lookups_total')).toBeGreaterThanOrEqual(3);
    expect(
      fake!.calls().filter((c) => c.path === '/crm/v3/objects/notes' && c.method === 'POST'),
    ).toHaveLength(3);
  });

  it('a create whose write lands after the client gave up, and after a look-up at once would have run: no second note', async () => {
    // HubSpot writes 2 s after the request; the client gives up at 0.8 s. A look-up then finds nothing; the
    // worker waits HUBSPOT_LOOKUP_DELAY_MS (3 s) past the create's start before it looks.
    const { publish, schema } = await setUp(
      {},
      { HUBSPOT_TIMEOUT_MS: '800', HUBSPOT_LOOKUP_DELAY_MS: '3000' },
    );
    fake!.injectFaults('notes-create', { kind: 'answer-late', ms: 500, writeAfterMs: 2_000 });
    const chats = [smallChat(570)];
    await publish(eventsOf(chats.flatMap((c) => c.deliveries)));
    await waitFor(
      async () => (await pool.query(`select 1 from "${schema}".outbox where status = 'done'`)).rowCount === 1,
      { timeoutMs: 20_000, message: 'synced' },
    );
    await waitFor(() => fake!.calls().some((c) => c.fault === 'answer-late'), { message: 'the late write' });
    expect(notesOf(fake!, chats)).toEqual([1]);
    expect(await metric('crm_sync_note_lookups_total')).toBeGreaterThanOrEqual(1);
  });

  it('a pass that outlives its 1 s lease leaves the rows another worker claimed: each note once', async () => {
    // The first worker's contact upsert takes 1.5 s: its 1 s lease ends before it reaches the notes, and the
    // second worker claims the same rows and creates their notes (600 ms each, written at the end). The first
    // must not go on with them: a look-up while the second's create is in flight finds nothing.
    fake = await startFakeHubSpot({ tokens: { [TOKEN]: 7 } });
    fake.injectFaults('contacts', { kind: 'slow', ms: 1_500 });
    fake.setFaultPlan(({ target }) => (target === 'notes-create' ? { kind: 'slow', ms: 600 } : undefined));
    const { topic, publish } = await chatEventsTopic(1);
    const schema = uniqueName('crm').replace(/[^a-z0-9_]/g, '_');
    const env = crmEnv(
      { databaseUrl: db.url, topic, apiUrl: fake.url, token: TOKEN },
      {
        CRM_SCHEMA: schema,
        CRM_WORKER_CONCURRENCY: '1',
        CRM_WORKER_LEASE_MS: '1000',
        HUBSPOT_TIMEOUT_MS: '5000',
      },
    );
    const first = await startCrmSync(crmConfig(env), captureLogs().logger);
    let second: CrmSync | undefined;
    try {
      const chats = Array.from({ length: 6 }, (_, i) => smallChat(800 + i));
      await publish(eventsOf(chats.flatMap((c) => c.deliveries)));
      await waitFor(
        async () =>
          (await pool.query(`select 1 from "${schema}".outbox where claimed_until > now()`)).rowCount === 6,
        { timeoutMs: 20_000, intervalMs: 20, message: 'the first worker claimed every row' },
      );
      second = await startCrmSync(crmConfig(env), captureLogs().logger);
      await waitFor(
        async () =>
          (await pool.query(`select 1 from "${schema}".outbox where status = 'done'`)).rowCount === 6,
        { timeoutMs: 30_000, message: 'every thread synced' },
      );
      expect(notesOf(fake, chats)).toEqual(chats.map(() => 1));
      const created = async (c: CrmSync) =>
        Number(
          /outcome="created"} (\d+)/.exec(
            await c.metricsRegistry.getSingleMetricAsString('crm_sync_threads_synced_total'),
          )?.[1] ?? 0,
        );
      expect((await created(first)) + (await created(second))).toBe(6);
    } finally {
      await first.stop();
      await second?.stop();
    }
  });

  it("a customer named after another thread's sync key: the look-up never takes that note for the other thread's", async () => {
    fake = await startFakeHubSpot({ tokens: { [TOKEN]: 7 } });
    const client = new HubSpotClient({ baseUrl: fake.url, timeoutMs: 5_000 });
    const upsert = await client.upsertContacts(TOKEN, [
      { email: 'forger@mail.example', properties: { email: 'forger@mail.example' }, traceId: 'c0' },
    ]);
    const contactId = upsert.ids.get('c0')!;
    const forged = syncKey(ORG, 'CHAT2', 'TH2');
    const first = renderNote({
      tenant: ORG,
      chatId: 'CHAT1',
      threadId: 'TH1',
      closedUs: Date.parse('2026-11-25T10:00:00Z') * 1000,
      customerName: forged,
      customerEmail: 'forger@mail.example',
      tags: [forged],
      ratingScore: null,
      ratingComment: null,
      entries: [
        {
          authorKind: 'customer',
          authorName: forged,
          authorId: 'c',
          kind: 'message',
          text: `Sync key: ${forged}`,
          fileName: null,
          fileUrl: null,
          createdUs: null,
        },
      ],
    });
    const firstId = await client.createNote(TOKEN, {
      body: first.body,
      timestamp: first.timestamp,
      contactId,
    });
    expect(await client.findNoteByMarker(TOKEN, contactId, forged)).toBeNull();
    expect(await client.findNoteByMarker(TOKEN, contactId, syncKey(ORG, 'CHAT1', 'TH1'))).toBe(firstId);
  });

  it('HubSpot down: the consumer keeps committing offsets and intents; the notes follow once it is back', async () => {
    const { publish, schema } = await setUp({}, { CRM_BACKOFF_MAX_MS: '300' });
    fake!.setDown(true);
    const chats = Array.from({ length: 4 }, (_, i) => smallChat(600 + i));
    const events = eventsOf(chats.flatMap((c) => c.deliveries));
    await publish(events);
    await waitFor(
      async () => {
        const { rows } = await pool.query<{ n: string }>(
          `select coalesce(sum(next_offset), 0)::text as n from "${schema}"._offsets`,
        );
        return Number(rows[0]!.n) === events.length;
      },
      { timeoutMs: 20_000, message: 'offsets at the end of the topic' },
    );
    await waitFor(async () => (await pool.query(`select 1 from "${schema}".outbox`)).rowCount === 4);
    await waitFor(() => fake!.calls().filter((c) => c.fault === 'down').length >= 2, {
      message: 'tries while down',
    });
    expect(fake!.notes()).toEqual([]);
    fake!.setDown(false);
    await waitFor(() => notesOf(fake!, chats).every((n) => n === 1), {
      timeoutMs: 20_000,
      message: 'every note',
    });
  });
});
