import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { createTestDatabase, type TestDatabase } from '@livechat-pipeline/testkit';
import { applyInTransaction, createProjectionSchema, eventsFromDeliveries } from './support/projection-db.js';

// Given these webhooks, when they arrive in this (wrong) order, then these facts and aggregates.
const org = 'f9c7cc55-b35a-4e76-b0d5-ae9fce362314';
type Delivery = { body: unknown; emittedAt: number };
const v3 = (action: string, payload: unknown, emittedAt: number): Delivery => ({
  emittedAt,
  body: {
    webhook_id: 'wh',
    secret_key: 'fixture-secret',
    action,
    organization_id: org,
    payload,
    additional_data: {},
  },
});
const T0 = Date.parse('2026-11-25T10:00:00Z') * 1000;
const iso = (secondsAfterT0: number) => new Date(T0 / 1000 + secondsAfterT0 * 1000).toISOString();
const customer = { id: 'c-1', type: 'customer', name: 'Ada', email: 'ada@example.com' };
const agent = { id: 'agent@example.com', type: 'agent', name: 'Bob' };
const incomingChat = v3(
  'incoming_chat',
  {
    chat: {
      id: 'CHAT1',
      users: [customer, agent],
      access: { group_ids: [2] },
      thread: { id: 'TH1', created_at: iso(0), events: [], tags: [], access: { group_ids: [2] } },
    },
  },
  T0,
);
const event = (id: string, at: number, fields: Record<string, unknown>): Delivery =>
  v3(
    'incoming_event',
    { chat_id: 'CHAT1', thread_id: 'TH1', event: { id, created_at: iso(at), visibility: 'all', ...fields } },
    T0 + at * 1e6,
  );
const say = (id: string, at: number, who: 'customer' | 'agent', text = 'hi') =>
  event(id, at, { type: 'message', text, author_id: who === 'customer' ? 'c-1' : 'agent@example.com' });
const closed = (at: number) =>
  v3('chat_deactivated', { chat_id: 'CHAT1', thread_id: 'TH1', user_id: 'agent@example.com' }, T0 + at * 1e6);
const archived = (at: number) =>
  event('ARCH', at, { type: 'system_message', system_message_type: 'manual_archived_agent', text: 'closed' });
const rated = (at: number, score: 'good' | 'bad') =>
  event(`RATE-${at}`, at, {
    type: 'system_message',
    system_message_type: 'rating.chat_rated',
    text: `Customer rated the chat as ${score}`,
    text_vars: { score },
  });

let db: TestDatabase;
let pool: pg.Pool;
let n = 0;
async function project(deliveries: Delivery[], batchSize = 1): Promise<string> {
  const schema = `order_${++n}`;
  await createProjectionSchema(pool, schema);
  await applyInTransaction(pool, schema, eventsFromDeliveries(deliveries), batchSize);
  return schema;
}
async function facts(schema: string): Promise<Record<string, unknown>[]> {
  const { rows } = await pool.query(
    `select thread_id, started_at, ended_at, duration_seconds::float8 as duration_seconds,
            first_response_seconds::float8 as first_response_seconds, customer_messages, agent_messages, agent_ids,
            first_responder_id, group_ids::float8[] as group_ids, tags, rating, rating_comment, started_by, transfers
     from "${schema}".thread_facts order by thread_id`,
  );
  return rows;
}

beforeAll(async () => {
  db = await createTestDatabase('analytics_order');
  pool = new pg.Pool({ connectionString: db.url, max: 2 });
});
afterAll(async () => {
  await pool.end();
  await db.drop();
});

describe('analytics: out-of-order arrival', () => {
  const conversation = [
    incomingChat,
    say('M1', 5, 'customer'),
    say('M2', 12, 'agent'),
    archived(300),
    closed(300),
  ];

  it('in order: the thread facts of a plain conversation', async () => {
    const s = await project(conversation);
    expect(await facts(s)).toEqual([
      {
        thread_id: 'TH1',
        started_at: new Date(T0 / 1000),
        ended_at: new Date(T0 / 1000 + 300_000),
        duration_seconds: 300,
        first_response_seconds: 7,
        customer_messages: 1,
        agent_messages: 1,
        agent_ids: ['agent@example.com'],
        first_responder_id: 'agent@example.com',
        group_ids: [2],
        tags: [],
        rating: null,
        rating_comment: null,
        started_by: 'customer',
        transfers: 0,
      },
    ]);
  });

  it('a rating that arrives before the thread exists rates the thread', async () => {
    const inOrder = await facts(await project([...conversation, rated(320, 'good')]));
    const ratingFirst = await facts(await project([rated(320, 'good'), ...conversation]));
    expect(ratingFirst).toEqual(inOrder);
    expect(ratingFirst[0]).toMatchObject({ rating: 'good', duration_seconds: 300 });
  });

  it('a rating property (no time) before the thread exists rates the thread; its deletion cancels it', async () => {
    const property = v3(
      'thread_properties_updated',
      { chat_id: 'CHAT1', thread_id: 'TH1', properties: { rating: { score: 0, comment: 'slow' } } },
      T0 + 310e6,
    );
    const deleted = v3(
      'thread_properties_deleted',
      { chat_id: 'CHAT1', thread_id: 'TH1', properties: { rating: ['score', 'comment'] } },
      T0 + 330e6,
    );
    const rated = await facts(await project([property, ...conversation]));
    expect(rated[0]).toMatchObject({ rating: 'bad', rating_comment: 'slow' });
    const canceled = await facts(await project([property, ...conversation, deleted]));
    expect(canceled[0]).toMatchObject({ rating: null, rating_comment: null });
  });

  it('a cancelled rating is null, whichever of rating and cancel arrives first', async () => {
    const cancel = event('CANCEL', 400, {
      type: 'system_message',
      system_message_type: 'rating.chat_rating_canceled',
      text: 'Customer canceled the rating',
    });
    const forward = await facts(await project([...conversation, rated(320, 'bad'), cancel]));
    const backward = await facts(await project([cancel, rated(320, 'bad'), ...conversation]));
    expect(forward[0]).toMatchObject({ rating: null });
    expect(backward).toEqual(forward);
  });

  it('the close before the first message: the duration and first response are those of in-order delivery', async () => {
    const inOrder = await facts(await project(conversation));
    const closeFirst = await facts(
      await project([
        closed(300),
        archived(300),
        say('M2', 12, 'agent'),
        incomingChat,
        say('M1', 5, 'customer'),
      ]),
    );
    expect(closeFirst).toEqual(inOrder);
  });

  it('an edit before its message counts the message once, with its original time', async () => {
    const edit = v3(
      'event_updated',
      {
        chat_id: 'CHAT1',
        thread_id: 'TH1',
        event: {
          id: 'M1',
          type: 'message',
          text: 'hello!',
          author_id: 'c-1',
          created_at: iso(5),
          visibility: 'all',
        },
      },
      T0 + 20e6,
    );
    const s = await project([edit, ...conversation]);
    expect((await facts(s))[0]).toMatchObject({ customer_messages: 1, first_response_seconds: 7 });
  });

  it('a deletion before its message removes it from the counts and from the first response', async () => {
    const deletion = v3('event_deleted', { chat_id: 'CHAT1', thread_id: 'TH1', event_id: 'M1' }, T0 + 20e6);
    const s = await project([deletion, ...conversation, say('M3', 30, 'customer'), say('M4', 40, 'agent')]);
    expect((await facts(s))[0]).toMatchObject({
      customer_messages: 1,
      agent_messages: 2,
      first_response_seconds: 10,
    });
  });

  it('a deletion then an edit of the same message (either order): the message stays deleted', async () => {
    const deletion = v3('event_deleted', { chat_id: 'CHAT1', thread_id: 'TH1', event_id: 'M1' }, T0 + 20e6);
    const edit = v3(
      'event_updated',
      {
        chat_id: 'CHAT1',
        thread_id: 'TH1',
        event: {
          id: 'M1',
          type: 'message',
          text: 'edited',
          author_id: 'c-1',
          created_at: iso(5),
          visibility: 'all',
        },
      },
      T0 + 25e6,
    );
    for (const deliveries of [
      [...conversation, deletion, edit],
      [edit, deletion, ...conversation],
      [deletion, ...conversation, edit],
    ])
      expect((await facts(await project(deliveries)))[0]).toMatchObject({
        customer_messages: 0,
        agent_messages: 1,
        first_response_seconds: null,
        started_by: 'agent',
      });
  });

  it('a greeting before the customer speaks is not the first response, and the customer started the chat', async () => {
    const greeting = event('G1', 1, {
      type: 'message',
      text: 'Can I help?',
      author_id: 'agent@example.com',
      properties: { lc2: { greeting_id: 7 } },
    });
    const s = await project([greeting, ...conversation]);
    const { rows } = await pool.query(
      `select first_response_seconds::float8 as frt, agent_messages, started_by, started_from_greeting
       from "${s}".thread_facts`,
    );
    expect(rows).toEqual([
      { frt: 7, agent_messages: 2, started_by: 'customer', started_from_greeting: true },
    ]);
  });

  it('a message that arrives after its day was read changes that day on the next read', async () => {
    const s = await project(conversation);
    const day = async () =>
      (
        await pool.query(
          `select day::text, group_id::float8 as group_id, chats, chats_with_reply, avg_first_response_seconds::float8 as frt
           from "${s}".daily`,
        )
      ).rows;
    expect(await day()).toEqual([{ day: '2026-11-25', group_id: 2, chats: 1, chats_with_reply: 1, frt: 7 }]);
    // A late customer message dated before the agent's first reply: the reply now answers an earlier message.
    await applyInTransaction(pool, s, eventsFromDeliveries([say('M0', 2, 'customer')]), 1);
    expect(await day()).toEqual([{ day: '2026-11-25', group_id: 2, chats: 1, chats_with_reply: 1, frt: 10 }]);
  });

  it('a tag removed after the day closed leaves the day without it', async () => {
    const tag = v3('thread_tagged', { chat_id: 'CHAT1', thread_id: 'TH1', tag: 'vip' }, T0 + 100e6);
    const s = await project([...conversation, tag]);
    const tags = async () =>
      (await pool.query(`select day::text, tag, chats from "${s}".tag_daily order by tag`)).rows;
    expect(await tags()).toEqual([{ day: '2026-11-25', tag: 'vip', chats: 1 }]);
    const untag = v3(
      'thread_untagged',
      { chat_id: 'CHAT1', thread_id: 'TH1', tag: 'vip' },
      T0 + 2 * 86_400e6,
    );
    await applyInTransaction(pool, s, eventsFromDeliveries([untag]), 1);
    expect(await tags()).toEqual([]);
  });

  it('a transfer before the thread start counts once and adds its group', async () => {
    const transfer = v3(
      'chat_transferred',
      {
        chat_id: 'CHAT1',
        thread_id: 'TH1',
        reason: 'manual',
        transferred_to: { group_ids: [5], agent_ids: ['other@example.com'] },
      },
      T0 + 50e6,
    );
    const s = await project([transfer, transfer, ...conversation]);
    expect((await facts(s))[0]).toMatchObject({ transfers: 1, group_ids: [2, 5] });
  });

  it('a queued thread: waiting time until the first agent message, or left the queue when closed before', async () => {
    const queued = v3(
      'chat_transferred',
      {
        chat_id: 'CHAT1',
        thread_id: 'TH1',
        reason: 'other',
        transferred_to: { group_ids: [2] },
        queue: { position: 1, wait_time: 0, queued_at: iso(1) },
      },
      T0 + 1e6,
    );
    const answered = await project([...conversation, queued]);
    const q = async (s: string) =>
      (
        await pool.query(
          `select queued, queued_seconds::float8 as seconds, left_queue from "${s}".thread_facts`,
        )
      ).rows;
    expect(await q(answered)).toEqual([{ queued: true, seconds: 11, left_queue: false }]);
    const abandoned = await project([
      closed(90),
      queued,
      incomingChat,
      say('M1', 5, 'customer'),
      archived(90),
    ]);
    expect(await q(abandoned)).toEqual([{ queued: true, seconds: 89, left_queue: true }]);
  });

  it('days and hours are the tenant’s local ones when its time zone is configured', async () => {
    const late = (id: string, at: string) =>
      v3(
        'incoming_chat',
        { chat: { id, users: [customer, agent], thread: { id: `T-${id}`, created_at: at, events: [] } } },
        Date.parse(at) * 1000,
      );
    const s = await project([
      late('LATE', '2026-11-25T23:30:00.000000Z'),
      late('EARLY', '2026-11-25T22:30:00.000000Z'),
    ]);
    const days = async () =>
      (await pool.query(`select day::text, chats from "${s}".daily order by day`)).rows;
    expect(await days()).toEqual([{ day: '2026-11-25', chats: 2 }]);
    await pool.query(`insert into "${s}".tenant_settings (tenant, time_zone) values ($1, 'Europe/Warsaw')`, [
      org,
    ]);
    expect(await days()).toEqual([
      { day: '2026-11-25', chats: 1 },
      { day: '2026-11-26', chats: 1 },
    ]);
    const hours = await pool.query(
      `select to_char(hour, 'YYYY-MM-DD HH24') as hour from "${s}".hourly order by 1`,
    );
    expect(hours.rows).toEqual([{ hour: '2026-11-25 23' }, { hour: '2026-11-26 00' }]);
  });

  it('agent availability: accepting-chats time per local day, split at the tenant’s midnight', async () => {
    const status = (status: string, at: string): Delivery =>
      v3('routing_status_set', { agent_id: 'agent@example.com', status }, Date.parse(at) * 1000);
    // Receipt times are the statuses' only times; eventsFromDeliveries receives each 1 ms after its emission.
    const s = await project([
      status('accepting_chats', '2026-11-25T22:00:00Z'),
      status('not_accepting_chats', '2026-11-26T01:00:00Z'),
      status('offline', '2026-11-26T02:00:00Z'),
    ]);
    const rows = async () =>
      (
        await pool.query(
          `select day::text, round(accepting_chats_seconds) as accepting, round(not_accepting_chats_seconds) as not_accepting
           from "${s}".agent_availability order by day`,
        )
      ).rows;
    expect(await rows()).toEqual([
      { day: '2026-11-25', accepting: '7200', not_accepting: '0' },
      { day: '2026-11-26', accepting: '3600', not_accepting: '3600' },
    ]);
    await pool.query(`insert into "${s}".tenant_settings (tenant, time_zone) values ($1, 'Europe/Warsaw')`, [
      org,
    ]);
    expect(await rows()).toEqual([
      { day: '2026-11-25', accepting: '3600', not_accepting: '0' },
      { day: '2026-11-26', accepting: '7200', not_accepting: '3600' },
    ]);
  });

  it('agent availability: a status repeated later in the day counts again (accepting, not accepting, accepting)', async () => {
    const status = (status: string, at: string): Delivery =>
      v3('routing_status_set', { agent_id: 'agent@example.com', status }, Date.parse(at) * 1000);
    const s = await project([
      status('accepting_chats', '2026-11-25T09:00:00Z'),
      status('not_accepting_chats', '2026-11-25T12:00:00Z'),
      status('accepting_chats', '2026-11-25T13:00:00Z'),
      status('offline', '2026-11-25T17:00:00Z'),
      status('accepting_chats', '2026-11-26T09:00:00Z'),
      status('offline', '2026-11-26T10:00:00Z'),
    ]);
    const { rows } = await pool.query(
      `select day::text, round(accepting_chats_seconds) as accepting, round(not_accepting_chats_seconds) as not_accepting
       from "${s}".agent_availability order by day`,
    );
    expect(rows).toEqual([
      { day: '2026-11-25', accepting: String(7 * 3600), not_accepting: '3600' },
      { day: '2026-11-26', accepting: '3600', not_accepting: '0' },
    ]);
  });

  it('the ranking score is LiveChat’s: the docs’ samples 13 good / 6 bad → 0.423267, 36 / 174 → 0.114734', async () => {
    const s = await project([]);
    const { rows } = await pool.query(
      `select "${s}".wilson_score(13, 6) as a, "${s}".wilson_score(36, 174) as b, "${s}".wilson_score(0, 0) as none`,
    );
    expect(rows[0].a).toBeCloseTo(0.423267, 6);
    expect(rows[0].b).toBeCloseTo(0.114734, 6);
    expect(rows[0].none).toBeNull();
  });

  it('a rating property received two days after the close (a later receipt time) rates the thread and moves nothing else', async () => {
    const property = v3(
      'thread_properties_updated',
      { chat_id: 'CHAT1', thread_id: 'TH1', properties: { rating: { score: 1 } } },
      T0 + 2 * 86_400e6,
    );
    const inOrder = await facts(await project(conversation));
    const late = await facts(await project([...conversation, property]));
    expect(late).toEqual([{ ...inOrder[0], rating: 'good' }]);
  });

  it('a routing status retried minutes later (a later receipt time) changes no availability', async () => {
    const status = (status: string, at: string): Delivery =>
      v3('routing_status_set', { agent_id: 'agent@example.com', status }, Date.parse(at) * 1000);
    const accepting = status('accepting_chats', '2026-11-25T09:00:00Z');
    const retried = { ...accepting, emittedAt: Date.parse('2026-11-25T09:05:00Z') * 1000 };
    const availability = async (deliveries: Delivery[]) =>
      (
        await pool.query(
          `select day::text, round(accepting_chats_seconds) as accepting from "${await project(deliveries)}".agent_availability`,
        )
      ).rows;
    const offline = status('offline', '2026-11-25T10:00:00Z');
    expect(await availability([accepting, retried, offline])).toEqual([
      { day: '2026-11-25', accepting: '3600' },
    ]);
  });

  it('a chat-level rating stays with its thread when the customer comes back the next day (a new thread)', async () => {
    const chatRating = v3(
      'chat_properties_updated',
      { chat_id: 'CHAT1', properties: { rating: { score: 1 } } },
      T0 + 320e6,
    );
    const nextDay = v3(
      'incoming_chat',
      {
        chat: {
          id: 'CHAT1',
          users: [customer, agent],
          thread: { id: 'TH2', created_at: iso(86_400), events: [], tags: [], access: { group_ids: [2] } },
        },
      },
      T0 + 86_400e6,
    );
    const ratings = async (deliveries: Delivery[]) =>
      (await facts(await project(deliveries))).map((f) => [f['thread_id'], f['rating']]);
    const expected = [
      ['TH1', 'good'],
      ['TH2', null],
    ];
    expect(await ratings([...conversation, chatRating, nextDay])).toEqual(expected);
    // received before either thread start arrived: the threads' LiveChat start times still decide
    expect(await ratings([chatRating, nextDay, ...conversation])).toEqual(expected);
  });

  it('v2: a returning visitor queued on the second visit marks the second chat queued, not the first', async () => {
    const visitor = { id: 'S1.visitor', name: 'Mary', email: 'mary@example.com' };
    const v2 = (body: Record<string, unknown>, emittedAt: number): Delivery => ({
      emittedAt,
      body: { token: 'fixture-token', license_id: '1025707', visitor, ...body },
    });
    const started = (id: string, at: number) =>
      v2(
        { event_type: 'chat_started', chat: { id, started_timestamp: at, messages: [], tags: [] } },
        at * 1e6,
      );
    const day1 = 1_795_600_800;
    const day2 = day1 + 86_400;
    const queued = v2({ event_type: 'visitor_queued' }, (day2 - 5) * 1e6);
    const queuedChats = async (deliveries: Delivery[]) =>
      (
        await pool.query(
          `select chat_id, queued from "${await project(deliveries)}".thread_facts order by chat_id`,
        )
      ).rows;
    const expected = [
      { chat_id: 'FIRSTVISIT', queued: false },
      { chat_id: 'SECONDVISIT', queued: true },
    ];
    expect(await queuedChats([started('FIRSTVISIT', day1), queued, started('SECONDVISIT', day2)])).toEqual(
      expected,
    );
    expect(await queuedChats([queued, started('SECONDVISIT', day2), started('FIRSTVISIT', day1)])).toEqual(
      expected,
    );
  });

  it('a welcome message 30 ms after the customer’s first message is not the first response; a bot’s reply is', async () => {
    const welcome = event('W1', 5.03, {
      type: 'message',
      text: 'Welcome! An agent will be with you shortly.',
      author_id: 'agent@example.com',
      properties: { lc2: { welcome_message: true } },
    });
    const frt = async (deliveries: Delivery[]) =>
      (
        await pool.query(
          `select first_response_seconds::float8 as frt, first_responder_id, agent_messages
           from "${await project(deliveries)}".thread_facts`,
        )
      ).rows;
    expect(await frt([...conversation, welcome])).toEqual([
      { frt: 7, first_responder_id: 'agent@example.com', agent_messages: 2 },
    ]);
    const withBot = v3(
      'incoming_chat',
      {
        chat: {
          id: 'CHAT1',
          users: [customer, agent, { id: 'bot-1', type: 'bot', name: 'ChatBot' }],
          access: { group_ids: [2] },
          thread: { id: 'TH1', created_at: iso(0), events: [], tags: [], access: { group_ids: [2] } },
        },
      },
      T0,
    );
    const botReply = event('B1', 8, { type: 'message', text: 'I can help with that.', author_id: 'bot-1' });
    expect(await frt([withBot, ...conversation.slice(1), botReply])).toEqual([
      { frt: 3, first_responder_id: 'bot-1', agent_messages: 2 },
    ]);
  });

  it('group ids above 2^31 - 1 (Avro longs) are kept, in the facts and the daily rows', async () => {
    const big = 3_000_000_000;
    const start = v3(
      'incoming_chat',
      {
        chat: {
          id: 'CHAT1',
          users: [customer, agent],
          access: { group_ids: [big] },
          thread: { id: 'TH1', created_at: iso(0), events: [], tags: [], access: { group_ids: [big] } },
        },
      },
      T0,
    );
    const transfer = v3(
      'chat_transferred',
      { chat_id: 'CHAT1', thread_id: 'TH1', reason: 'manual', transferred_to: { group_ids: [big + 1] } },
      T0 + 50e6,
    );
    const s = await project([start, ...conversation.slice(1), transfer]);
    expect((await facts(s))[0]).toMatchObject({ group_ids: [big, big + 1] });
    const { rows } = await pool.query(`select group_id::text from "${s}".daily order by 1`);
    expect(rows).toEqual([{ group_id: String(big) }, { group_id: String(big + 1) }]);
  });

  it('v3 close: the archiving message’s time, not a later system message’s; without entries, the close’s receipt', async () => {
    const transcriptSent = event('SENT', 900, {
      type: 'system_message',
      system_message_type: 'transcript_sent',
      text: 'Transcript sent',
    });
    expect((await facts(await project([...conversation, transcriptSent])))[0]).toMatchObject({
      duration_seconds: 300,
    });
    expect((await facts(await project([incomingChat, closed(120)])))[0]).toMatchObject({
      duration_seconds: 120.001,
    });
  });

  it('an open thread whose start never arrived still has its facts, started at its first message', async () => {
    // Without the chat's user list, the author's kind comes from the id's shape (a UUID is a customer).
    const uuid = 'b7eff798-f8df-4364-8059-649c35c9ed0c';
    const fromCustomer = event('M1', 5, { type: 'message', text: 'hi', author_id: uuid });
    const s = await project([fromCustomer, say('M2', 12, 'agent')]);
    expect((await facts(s))[0]).toMatchObject({
      thread_id: 'TH1',
      started_at: new Date(T0 / 1000 + 5_000),
      duration_seconds: null,
      first_response_seconds: 7,
    });
  });

  it('a rating property redelivered late (receipt time, another clock) does not override dated rating messages', async () => {
    const property = (score: number, at: number) =>
      v3(
        'thread_properties_updated',
        { chat_id: 'CHAT1', thread_id: 'TH1', properties: { rating: { score } } },
        T0 + at * 1e6,
      );
    // The customer rated bad, then good (two dated messages); the bad rating's property arrives last.
    const s = await project([
      ...conversation,
      rated(320, 'bad'),
      rated(330, 'good'),
      property(1, 330),
      property(0, 900),
    ]);
    expect((await facts(s))[0]).toMatchObject({ rating: 'good' });
  });
});
