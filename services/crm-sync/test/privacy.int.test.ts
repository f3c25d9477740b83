import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer, connect, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chatEventKeyScope, sealChatEvent } from '@livechat-pipeline/events';
import { startFakeHubSpot, type FakeHubSpot } from '@livechat-pipeline/hubspot-fake';
import type { ChatDomainEvent } from '@livechat-pipeline/livechat';
import { PrivacyVault, migratePrivacy, parsePrivacyConfig } from '@livechat-pipeline/privacy';
import {
  createTestDatabase,
  testKafka,
  uniqueName,
  waitFor,
  type TestDatabase,
} from '@livechat-pipeline/testkit';
import { syncKey } from '../src/sync/note.js';
import type { ClaimedItem } from '../src/sync/store.js';
import { accountOf } from '../src/sync/tokens.js';
import { ChatEventOpener, openCrmPrivacyVault } from '../src/privacy.js';
import { startCrmSync, type CrmSync } from '../src/start.js';
import { ORG, customerUpdate, smallChat } from './support/chats.js';
import { allRowsText, captureLogs, chatEventsTopic, crmConfig, crmEnv, eventsOf } from './support/harness.js';

// Issue 19 in crm-sync, on the real stack and the fake HubSpot over HTTP: sealed chat events opened before the
// projection, crm.erase_chats, and the worker deleting an erased customer's notes in HubSpot.

const TOKEN = 'pat-na1-privacy-test';
const PORTAL = 11;
const cli = fileURLToPath(new URL('../src/cli.ts', import.meta.url));
const tsx = fileURLToPath(new URL('../node_modules/.bin/tsx', import.meta.url));

let db: TestDatabase;
let pool: pg.Pool;
let vaultPool: pg.Pool;
let vault: PrivacyVault;
let fake: FakeHubSpot;
let crm: CrmSync;
let schema: string;
let publish: (events: readonly ChatDomainEvent[]) => Promise<void>;
let logs: ReturnType<typeof captureLogs>;
/** Test seams of the worker, set by the test that needs one (an erasure around a note create). */
let beforeCreate: ((item: ClaimedItem) => Promise<void>) | undefined;
let afterCreate: ((item: ClaimedItem) => Promise<void>) | undefined;

const privacyEnv = {
  // Test keys, made here and never stored.
  PRIVACY_KEYS: `t1:${randomBytes(32).toString('base64')}`,
  PRIVACY_EMAIL_HASH_KEY: randomBytes(32).toString('base64'),
};

beforeAll(async () => {
  db = await createTestDatabase('crm_privacy');
  pool = new pg.Pool({ connectionString: db.url, max: 2 });
  // The writer's side (the normalizer in production): its own vault on the same key store.
  const privacyConfig = parsePrivacyConfig(privacyEnv)!;
  vaultPool = new pg.Pool({ connectionString: db.url, max: 2 });
  await migratePrivacy(vaultPool, { schema: privacyConfig.schema });
  vault = new PrivacyVault(vaultPool, privacyConfig);

  fake = await startFakeHubSpot({ tokens: { [TOKEN]: PORTAL } });
  const topic = await chatEventsTopic(2);
  publish = topic.publish;
  schema = uniqueName('crm').replace(/[^a-z0-9_]/g, '_');
  logs = captureLogs('info');
  crm = await startCrmSync(
    crmConfig(
      crmEnv(
        { databaseUrl: db.url, topic: topic.topic, apiUrl: fake.url, token: TOKEN },
        // A create in doubt is looked up 1 s after HUBSPOT_TIMEOUT_MS (the fake writes a late note 0.5 s after it)
        { CRM_SCHEMA: schema, HUBSPOT_LOOKUP_DELAY_MS: '1000', CRM_ERASURE_PASS_MS: '300', ...privacyEnv },
      ),
    ),
    logs.logger,
    {
      hooks: {
        beforeNoteCreate: async (item) => beforeCreate?.(item),
        afterNoteCreate: async (item) => afterCreate?.(item),
      },
    },
  );
});

afterAll(async () => {
  await crm?.stop();
  await fake?.close();
  await vaultPool?.end();
  await pool?.end();
  await db?.drop();
});

/** The chat's events sealed as the normalizer seals them (one key per chat or scope, made at first sight). */
async function sealed(events: readonly ChatDomainEvent[]): Promise<ChatDomainEvent[]> {
  const scopes = [...new Set(events.map((e) => chatEventKeyScope(e)).filter((s): s is string => s !== null))];
  const keys = await vault.keysFor(ORG, scopes, { create: true });
  return events.map((event) => {
    const scope = chatEventKeyScope(event);
    if (scope === null) return event;
    const state = keys.get(scope);
    if (state?.state !== 'active') throw new Error(`no key for ${scope}`);
    return sealChatEvent(event, scope, state.key) as ChatDomainEvent;
  });
}

const notesOf = (chat: { chatId: string; threadId: string }) =>
  fake
    .notes()
    .filter((n) => n.properties['hs_note_body']?.includes(syncKey(ORG, chat.chatId, chat.threadId)));

async function outbox(chatId: string): Promise<{ status: string; version: string }[]> {
  const { rows } = await pool.query<{ status: string; version: string }>(
    `select status, version::text from "${schema}".outbox where tenant = $1 and chat_id = $2 order by thread_id`,
    [ORG, chatId],
  );
  return rows;
}

async function metric(name: string, label: string): Promise<number> {
  const text = await crm.metricsRegistry.getSingleMetricAsString(name);
  return text
    .split('\n')
    .filter((l) => l.startsWith(name) && l.includes(label))
    .reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
}

async function deadLettersInKafka(): Promise<number> {
  const admin = testKafka('crm-privacy-admin').admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(crm.consumer.options.deadLetterTopic);
    return offsets.reduce((sum, o) => sum + Number(o.high), 0);
  } finally {
    await admin.disconnect();
  }
}

describe('crm-sync: privacy (issue 19)', () => {
  it('erase_chats: the outbox row is erased, the note deleted in HubSpot, the contact listed for the tenant; a later event never syncs it again; other chats unchanged', async () => {
    const erased = smallChat(901, {
      name: 'Canary Zyx',
      email: 'canary.zyx@mail.example',
      texts: ['my secret canary text', 'agent answer'],
    });
    const kept = smallChat(902, { email: 'kept.customer@mail.example' });
    await publish(await sealed(eventsOf([...erased.deliveries, ...kept.deliveries])));
    await waitFor(() => notesOf(erased).length === 1 && notesOf(kept).length === 1, {
      timeoutMs: 20_000,
      message: 'both notes in HubSpot',
    });
    // sealed events were opened: the note shows the customer's message
    expect(notesOf(erased)[0]!.properties['hs_note_body']).toContain('my secret canary text');
    const keptNote = structuredClone(notesOf(kept)[0]!);
    const contactId = fake.contacts().find((c) => c.emailKey === erased.email)!.id;

    // HubSpot is busy at first: the deletes go through the sync's retry rules (a 503 backs off, a 429 waits its
    // window), nothing is marked done before the note is gone
    fake.injectFaults(
      'notes-delete',
      { kind: 'status', status: 503 },
      { kind: 'rate-limit', policy: 'TEN_SECONDLY_ROLLING', retryAfterSeconds: 1 },
    );
    // when: the privacy service erases the chat (keys, then crm's function with its own connection, whose
    // search_path is the default one)
    const erasure = await vault.eraseChats(ORG, [erased.chatId], { actor: 'test', requestId: 'req-crm-1' });
    const plain = new pg.Client({ connectionString: db.url });
    await plain.connect();
    let removed: string;
    try {
      const { rows } = await plain.query<{ n: string }>(
        `select "${schema}".erase_chats($1, $2, $3)::text as n`,
        [ORG, [erased.chatId], erasure.requestId],
      );
      removed = rows[0]!.n;
    } finally {
      await plain.end();
    }
    expect(Number(removed)).toBeGreaterThan(5);

    // then: the outbox row is erased, the note deleted in HubSpot, the contact untouched and listed
    expect((await outbox(erased.chatId)).map((r) => r.status)).toEqual(['erased']);
    await waitFor(() => notesOf(erased).length === 0, { timeoutMs: 10_000, message: 'note deleted' });
    const { rows: erasures } = await pool.query<{
      status: string;
      contact_id: string;
      notes_deleted: number;
      note_ids: string[];
      request_id: string;
    }>(`select status, contact_id, notes_deleted, note_ids, request_id from "${schema}".hubspot_erasures`);
    await waitFor(
      async () =>
        (await pool.query(`select 1 from "${schema}".hubspot_erasures where status = 'contact_manual'`))
          .rowCount === 1,
      { message: 'erasure row done' },
    );
    const done = (
      await pool.query(
        `select status, contact_id, notes_deleted, note_ids, request_id from "${schema}".hubspot_erasures`,
      )
    ).rows;
    expect(erasures).toHaveLength(1);
    expect(done).toEqual([
      {
        status: 'contact_manual',
        contact_id: contactId,
        notes_deleted: 1,
        note_ids: [],
        request_id: 'req-crm-1',
      },
    ]);
    expect(fake.contacts().some((c) => c.id === contactId)).toBe(true);
    expect(
      fake
        .calls()
        .filter((c) => c.method === 'DELETE')
        .map((c) => c.status),
    ).toEqual([503, 429, 204]);
    expect(await metric('crm_sync_erased_notes_total', 'outcome="deleted"')).toBe(1);

    // nothing of the customer is left in any table of the schema
    const everything = await allRowsText(pool, schema);
    for (const value of ['Canary Zyx', 'canary.zyx', 'my secret canary text'])
      expect(everything).not.toContain(value);

    // the CLI lists it: HubSpot ids and states, nothing personal
    const { stdout } = await promisify(execFile)(tsx, [cli, 'erasures', '--tenant', ORG], {
      env: { ...process.env, DATABASE_URL: db.url, CRM_SCHEMA: schema },
    });
    expect(stdout).toContain(`| req-crm-1 | contact_manual | ${contactId} | 1 | 0 | 0 |`);
    expect(stdout).not.toContain('canary');
    // the tenant erased the contact in HubSpot: the row closes and forgets the contact id
    const erasureId = stdout
      .split('\n')
      .find((l) => l.includes('| req-crm-1 |'))!
      .split(' | ')[0]!;
    const marked = await promisify(execFile)(
      tsx,
      [cli, 'erasures', 'done', '--tenant', ORG, '--id', erasureId],
      {
        env: { ...process.env, DATABASE_URL: db.url, CRM_SCHEMA: schema },
      },
    );
    expect(marked.stderr).toContain('1 row(s) marked contact_erased');
    expect(
      (
        await pool.query(`select status, contact_id from "${schema}".hubspot_erasures where id = $1`, [
          erasureId,
        ])
      ).rows,
    ).toEqual([{ status: 'contact_erased', contact_id: null }]);

    // a later event of the chat (a plain copy replayed, the worst case: it carries the e-mail) does not bring it back
    const version = (await outbox(erased.chatId))[0]!.version;
    // (new event ids: the same ones would be deduplicated by the runtime)
    await publish(eventsOf(erased.deliveries).map((e) => ({ ...e, event_id: `${e.event_id}-late` })));
    await waitFor(
      async () =>
        (await pool.query(`select 1 from "${schema}".entries where chat_id = $1`, [erased.chatId]))
          .rowCount! > 0,
      { timeoutMs: 15_000, message: 'the late events applied' },
    );
    // the intent is written in the same transaction as the rows: none was made
    expect(await outbox(erased.chatId)).toEqual([{ status: 'erased', version }]);
    expect(notesOf(erased)).toEqual([]);

    // the other chat is as it was
    expect(await outbox(kept.chatId)).toEqual([{ status: 'done', version: '1' }]);
    expect(notesOf(kept)).toEqual([keptNote]);
  });

  it('a chat whose key was erased before its events were read: projected without personal values, never synced, never dead-lettered', async () => {
    const chat = smallChat(903, { email: 'late.canary@mail.example', texts: ['erased before read'] });
    const events = await sealed(eventsOf(chat.deliveries));
    await vault.eraseChats(ORG, [chat.chatId], { actor: 'test' });
    const before = await metric('crm_sync_privacy_fields_undecryptable_total', 'reason="erased"');
    await publish(events);
    await waitFor(
      async () =>
        (
          await pool.query(`select 1 from "${schema}".threads where chat_id = $1 and closed_us is not null`, [
            chat.chatId,
          ])
        ).rowCount === 1,
      { timeoutMs: 15_000, message: 'the events applied' },
    );
    const { rows } = await pool.query<{ email: string | null; name: string | null }>(
      `select u.email, u.name from "${schema}".customers u where customer_id = 'cust-903'`,
    );
    expect(rows).toEqual([{ email: null, name: null }]);
    const texts = await pool.query(`select text from "${schema}".entries where chat_id = $1`, [chat.chatId]);
    expect(texts.rows.every((r: { text: string | null }) => r.text === null)).toBe(true);
    expect(await outbox(chat.chatId)).toEqual([]);
    expect(await metric('crm_sync_privacy_fields_undecryptable_total', 'reason="erased"')).toBeGreaterThan(
      before,
    );
    expect(await deadLettersInKafka()).toBe(0);
    expect(notesOf(chat)).toEqual([]);
    expect(fake.contacts().some((c) => c.emailKey === chat.email)).toBe(false);
  });

  it('a tampered envelope: projected without personal values, counted invalid, never synced, never dead-lettered', async () => {
    const chat = smallChat(906, { email: 'tampered.canary@mail.example', texts: ['tampered text'] });
    const events = (await sealed(eventsOf(chat.deliveries))).map((e) => {
      const s = (e as { sealed?: { envelope: Uint8Array | null } | null }).sealed;
      if (s?.envelope == null) return e;
      const envelope = Buffer.from(s.envelope);
      envelope[envelope.length - 1]! ^= 0x01;
      return { ...e, sealed: { ...s, envelope } } as unknown as ChatDomainEvent;
    });
    const before = await metric('crm_sync_privacy_fields_undecryptable_total', 'reason="invalid"');
    await publish(events);
    await waitFor(
      async () =>
        (
          await pool.query(`select 1 from "${schema}".threads where chat_id = $1 and closed_us is not null`, [
            chat.chatId,
          ])
        ).rowCount === 1,
      { timeoutMs: 15_000, message: 'the events applied' },
    );
    const { rows } = await pool.query(
      `select email, name from "${schema}".customers where customer_id = 'cust-906'`,
    );
    expect(rows).toEqual([{ email: null, name: null }]);
    expect(await outbox(chat.chatId)).toEqual([]);
    expect(await metric('crm_sync_privacy_fields_undecryptable_total', 'reason="invalid"')).toBeGreaterThan(
      before,
    );
    expect(await deadLettersInKafka()).toBe(0);
  });

  it('a note whose create was in doubt at the erasure (no id recorded) is found by its sync key and deleted', async () => {
    const chat = smallChat(905, { email: 'doubt.canary@mail.example' });
    await publish(await sealed(eventsOf(chat.deliveries)));
    await waitFor(
      async () => notesOf(chat).length === 1 && (await outbox(chat.chatId))[0]?.status === 'done',
      { timeoutMs: 20_000, message: 'the note in HubSpot' },
    );
    // The state a timeout or a crash after the create call leaves: create_started_at set, no note id.
    const marked = await pool.query(
      `update "${schema}".notes set note_id = null where tenant = $1 and chat_id = $2 and create_started_at is not null`,
      [ORG, chat.chatId],
    );
    expect(marked.rowCount).toBe(1);
    const erasure = await vault.eraseChats(ORG, [chat.chatId], { actor: 'test' });
    await pool.query(`select "${schema}".erase_chats($1, $2, $3)`, [ORG, [chat.chatId], erasure.requestId]);
    const { rows } = await pool.query<{ lookup_keys: string[] }>(
      `select lookup_keys from "${schema}".hubspot_erasures where request_id = $1`,
      [erasure.requestId],
    );
    // the SQL function computes the same sync key as the worker's note header
    expect(rows.map((r) => r.lookup_keys)).toEqual([[syncKey(ORG, chat.chatId, chat.threadId)]]);
    await waitFor(() => notesOf(chat).length === 0, { timeoutMs: 10_000, message: 'note found and deleted' });
    await waitFor(
      async () =>
        (
          await pool.query(
            `select 1 from "${schema}".hubspot_erasures where request_id = $1 and status = 'contact_manual'
               and notes_deleted = 1 and cardinality(lookup_keys) = 0`,
            [erasure.requestId],
          )
        ).rowCount === 1,
      { message: 'erasure row done' },
    );
    // the sweep calls it again: nothing left to remove, no second erasure row
    const again = await pool.query<{ n: string }>(`select "${schema}".erase_chats($1, $2, $3)::text as n`, [
      ORG,
      [chat.chatId],
      erasure.requestId,
    ]);
    expect(again.rows).toEqual([{ n: '0' }]);
    expect(
      (
        await pool.query(`select 1 from "${schema}".hubspot_erasures where request_id = $1`, [
          erasure.requestId,
        ])
      ).rowCount,
    ).toBe(1);
  });

  /** The privacy service's erasure of a chat: keys, then crm's function. Its request id. */
  async function eraseChat(chatId: string): Promise<string> {
    const erasure = await vault.eraseChats(ORG, [chatId], { actor: 'test' });
    await pool.query(`select "${schema}".erase_chats($1, $2, $3)`, [ORG, [chatId], erasure.requestId]);
    return erasure.requestId;
  }

  async function erasureRows(requestId: string): Promise<{ status: string; notes_deleted: number }[]> {
    const { rows } = await pool.query<{ status: string; notes_deleted: number }>(
      `select status, notes_deleted from "${schema}".hubspot_erasures where request_id = $1 order by id`,
      [requestId],
    );
    return rows;
  }

  it('an erasure while a note create is in flight, HubSpot writing the note after the timeout: the look-up waits for it, the note ends deleted', async () => {
    const chat = smallChat(907, { email: 'inflight.canary@mail.example' });
    let requestId: string | undefined;
    beforeCreate = async (item) => {
      if (item.chatId !== chat.chatId || requestId !== undefined) return;
      // The create is about to be sent; HubSpot will write the note 1.5 s after it arrives, past the client's
      // 1 s timeout. The erasure runs now: the create is in doubt.
      fake.injectFaults('notes-create', { kind: 'answer-late', ms: 100, writeAfterMs: 1_500 });
      requestId = await eraseChat(chat.chatId);
    };
    try {
      await publish(await sealed(eventsOf(chat.deliveries)));
      await waitFor(() => notesOf(chat).length === 1, {
        timeoutMs: 20_000,
        message: 'the late note written',
      });
      await waitFor(
        async () =>
          notesOf(chat).length === 0 && (await erasureRows(requestId!)).every((r) => r.status !== 'pending'),
        { timeoutMs: 10_000, message: 'the late note deleted, the erasure finished' },
      );
      expect((await erasureRows(requestId!)).reduce((n, r) => n + r.notes_deleted, 0)).toBe(1);
    } finally {
      beforeCreate = undefined;
    }
  });

  it('a note created after its thread was erased (the erasure ran while the create was in flight) is queued for deletion by its id, not dropped', async () => {
    const chat = smallChat(908, { email: 'after.canary@mail.example' });
    let requestId: string | undefined;
    afterCreate = async (item) => {
      if (item.chatId !== chat.chatId || requestId !== undefined) return;
      // HubSpot answered with the note's id; the erasure commits before the worker records it.
      requestId = await eraseChat(chat.chatId);
    };
    try {
      await publish(await sealed(eventsOf(chat.deliveries)));
      await waitFor(() => requestId !== undefined, { timeoutMs: 20_000, message: 'the create done' });
      await waitFor(
        async () =>
          notesOf(chat).length === 0 && (await erasureRows(requestId!)).every((r) => r.status !== 'pending'),
        { timeoutMs: 10_000, message: 'the note deleted, the erasure finished' },
      );
      // one row from erase_chats (the create in doubt: a look-up), one with the id the worker got afterwards
      const rows = await erasureRows(requestId!);
      expect(rows).toHaveLength(2);
      expect(rows.reduce((n, r) => n + r.notes_deleted, 0)).toBe(1);
      const { rowCount } = await pool.query(`select 1 from "${schema}".notes where chat_id = $1`, [
        chat.chatId,
      ]);
      expect(rowCount).toBe(0);
    } finally {
      afterCreate = undefined;
    }
  });

  it('a key store that stops answering (a black-holed connection) fails the open with PRIVACY_KEY_UNAVAILABLE (retried) instead of hanging', async () => {
    // A TCP relay to Postgres that, once told, swallows everything both ways (no RST, no answer).
    let blackhole = false;
    const sockets: Socket[] = [];
    const upstreamUrl = new URL(db.url);
    const relay = createServer((socket) => {
      const upstream = connect(Number(upstreamUrl.port), upstreamUrl.hostname);
      sockets.push(socket, upstream);
      socket.on('data', (d) => blackhole || upstream.write(d));
      upstream.on('data', (d) => blackhole || socket.write(d));
      socket.on('error', () => undefined);
      upstream.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
    const relayUrl = new URL(db.url);
    relayUrl.hostname = '127.0.0.1';
    relayUrl.port = String((relay.address() as { port: number }).port);
    const config = crmConfig(
      crmEnv(
        { databaseUrl: db.url, topic: 'unused', apiUrl: fake.url, token: TOKEN },
        {
          PRIVACY_DATABASE_URL: relayUrl.toString(),
          CRM_SYNC_PRIVACY_QUERY_TIMEOUT_MS: '300',
          ...privacyEnv,
        },
      ),
    );
    const opened = (await openCrmPrivacyVault(config))!;
    try {
      const events = await sealed(eventsOf(smallChat(909, { email: 'hang.canary@mail.example' }).deliveries));
      blackhole = true;
      const outcome = await Promise.race([
        new ChatEventOpener(opened.vault).open(events).then(
          () => 'opened',
          (error: { code?: string }) => error.code,
        ),
        new Promise((resolve) => setTimeout(resolve, 5_000, 'hung')),
      ]);
      expect(outcome).toBe('PRIVACY_KEY_UNAVAILABLE');
    } finally {
      for (const socket of sockets) socket.destroy();
      await opened.close();
      await new Promise((resolve) => relay.close(resolve));
    }
  });

  it("an erasure's notes made with another HubSpot account than the current token's: not deleted with the current token (its 404 says nothing), the row waits with CRM_ERASURE_ACCOUNT_CHANGED", async () => {
    // As erase_chats writes it for a note made before the tenant's token changed to another portal.
    const { rows } = await pool.query<{ id: string }>(
      `insert into "${schema}".hubspot_erasures (tenant, request_id, account, contact_id, note_ids)
       values ($1, 'req-other-account', 'hs-0123456789abcdef', '424242', '{987654321}') returning id::text`,
      [ORG],
    );
    const id = rows[0]!.id;
    const row = async () =>
      (
        await pool.query<{ status: string; last_error_code: string | null; note_ids: string[] }>(
          `select status, last_error_code, note_ids from "${schema}".hubspot_erasures where id = $1`,
          [id],
        )
      ).rows[0]!;
    await waitFor(async () => (await row()).last_error_code !== null || (await row()).status !== 'pending', {
      message: 'the worker took the row',
    });
    expect(await row()).toEqual({
      status: 'pending',
      last_error_code: 'CRM_ERASURE_ACCOUNT_CHANGED',
      note_ids: ['987654321'],
    });
    expect(fake.calls().some((c) => c.method === 'DELETE' && c.path.includes('987654321'))).toBe(false);
    await pool.query(`delete from "${schema}".hubspot_erasures where id = $1`, [id]);
  });

  it('a large erasure does not starve the sync: its deletes take a share of each pass, a new thread is synced while notes are left to delete', async () => {
    // 16 notes to delete (404s: long gone), each DELETE answered after 150 ms: 2.4 s of erasure work
    const noteIds = Array.from({ length: 16 }, (_, i) => String(880_000_000 + i));
    fake.injectFaults('notes-delete', ...noteIds.map(() => ({ kind: 'slow' as const, ms: 150 })));
    const { rows } = await pool.query<{ id: string }>(
      `insert into "${schema}".hubspot_erasures (tenant, request_id, account, contact_id, note_ids)
       values ($1, 'req-large', $2, null, $3) returning id::text`,
      [ORG, accountOf(TOKEN), noteIds],
    );
    const id = rows[0]!.id;
    const notesLeft = async () =>
      (
        await pool.query<{ n: number }>(
          `select cardinality(note_ids) as n from "${schema}".hubspot_erasures where id = $1`,
          [id],
        )
      ).rows[0]!.n;
    // the erasure under way first, then a thread to sync
    await waitFor(async () => (await notesLeft()) < noteIds.length, { message: 'the erasure started' });
    const chat = smallChat(910, { email: 'synced.meanwhile@mail.example' });
    await publish(await sealed(eventsOf(chat.deliveries)));
    await waitFor(() => notesOf(chat).length === 1, { timeoutMs: 20_000, message: 'the new thread synced' });
    // synced while the erasure was still under way
    expect(await notesLeft()).toBeGreaterThan(0);
    await waitFor(async () => (await notesLeft()) === 0, { timeoutMs: 20_000, message: 'the erasure done' });
  });

  it('no e-mail is left in crm.contacts after an erasure: an e-mail changed after the sync, a non-ASCII upper-case one', async () => {
    const changed = smallChat(911, { email: 'old.canary911@mail.example' });
    const unicode = smallChat(912, { email: 'Ünïcode.Canary912@Example.com' });
    await publish(await sealed(eventsOf([...changed.deliveries, ...unicode.deliveries])));
    await waitFor(async () => notesOf(changed).length === 1 && notesOf(unicode).length === 1, {
      timeoutMs: 20_000,
      message: 'both synced',
    });
    // the customer's e-mail is corrected: the thread is synced again with the new e-mail's contact
    await publish(
      await sealed(
        eventsOf([customerUpdate(911, 'new.canary911@mail.example', Date.parse('2026-11-28T00:00:00Z'))]),
      ),
    );
    await waitFor(() => fake.contacts().some((c) => c.emailKey === 'new.canary911@mail.example'), {
      timeoutMs: 20_000,
      message: "the new e-mail's contact",
    });
    await waitFor(
      async () =>
        (await pool.query(`select 1 from "${schema}".contacts where email_key like 'new.canary911%'`))
          .rowCount === 1,
      { message: 'the new contact recorded' },
    );
    await eraseChat(changed.chatId);
    await eraseChat(unicode.chatId);
    const everything = (await allRowsText(pool, schema)).toLowerCase();
    for (const value of ['canary911', 'canary912', 'ünïcode']) expect(everything).not.toContain(value);
  });

  // Last: it leaves a partition waiting.
  it('a sealed event whose key the store does not have (PRIVACY_KEY_UNAVAILABLE) waits, retried: no rows with nulls, no dead letter', async () => {
    // sealed with a key of another key store: crm-sync's has no row for the chat
    const otherPool = new pg.Pool({ connectionString: db.url, max: 1 });
    try {
      const config = { ...parsePrivacyConfig(privacyEnv)!, schema: 'privacy_elsewhere' };
      await migratePrivacy(otherPool, { schema: config.schema });
      const other = new PrivacyVault(otherPool, config);
      const chat = smallChat(904, { email: 'unavailable@mail.example' });
      const events = eventsOf(chat.deliveries);
      const scopes = [
        ...new Set(events.map((e) => chatEventKeyScope(e)).filter((x): x is string => x !== null)),
      ];
      const keys = await other.keysFor(ORG, scopes, { create: true });
      await publish(
        events.map((e) => {
          const scope = chatEventKeyScope(e);
          const state = scope === null ? undefined : keys.get(scope);
          return state?.state === 'active' ? (sealChatEvent(e, scope!, state.key) as ChatDomainEvent) : e;
        }),
      );
      await waitFor(
        () =>
          logs.lines.filter((l) => l.includes('PRIVACY_KEY_UNAVAILABLE') && l.includes('retrying')).length >=
          2,
        { timeoutMs: 15_000, message: 'retried transient failures' },
      );
      const rows = await pool.query(`select 1 from "${schema}".threads where chat_id = $1`, [chat.chatId]);
      expect(rows.rowCount).toBe(0);
      expect(await deadLettersInKafka()).toBe(0);
    } finally {
      await otherPool.end();
    }
  });
});
