import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { createTestDatabase, type TestDatabase } from '@livechat-pipeline/testkit';
import { applyInTransaction, createProjectionSchema, eventsFromDeliveries } from './support/projection-db.js';

// Given these webhooks, when they arrive in this (wrong) order, then these rows.
const org = 'f9c7cc55-b35a-4e76-b0d5-ae9fce362314';
const v3 = (action: string, payload: unknown, emittedAt: number) => ({
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
const customer = { id: 'c-1', type: 'customer', name: 'Ada', email: 'ada@example.com' };
const agent = { id: 'agent@example.com', type: 'agent', name: 'Bob' };
const incomingChat = v3(
  'incoming_chat',
  {
    chat: {
      id: 'CHAT1',
      users: [customer, agent],
      thread: { id: 'TH1', created_at: '2026-11-25T10:00:00.000001Z', events: [], tags: [] },
    },
  },
  T0,
);
const message = (id: string, text: string, at: string) =>
  v3(
    'incoming_event',
    {
      chat_id: 'CHAT1',
      thread_id: 'TH1',
      event: { id, type: 'message', text, author_id: 'c-1', created_at: at, visibility: 'all' },
    },
    Date.parse(at) * 1000,
  );

let db: TestDatabase;
let pool: pg.Pool;
let n = 0;
async function project(deliveries: { body: unknown; emittedAt: number }[]): Promise<string> {
  const schema = `order_${++n}`;
  await createProjectionSchema(pool, schema);
  await applyInTransaction(pool, schema, eventsFromDeliveries(deliveries), 1);
  return schema;
}

beforeAll(async () => {
  db = await createTestDatabase('arrival');
  pool = new pg.Pool({ connectionString: db.url, max: 2 });
});
afterAll(async () => {
  await pool.end();
  await db.drop();
});

describe('transcripts: out-of-order arrival', () => {
  it('a thread closed before it was seen to start is closed, started and attributed', async () => {
    const closed = v3(
      'chat_deactivated',
      { chat_id: 'CHAT1', thread_id: 'TH1', user_id: 'agent@example.com' },
      T0 + 60e6,
    );
    const s = await project([closed, incomingChat]);
    const { rows } = await pool.query(
      `select thread_id, started_us::text, closed_by_user_id, closed_by_kind, closed_us is not null as closed from "${s}".threads`,
    );
    expect(rows).toEqual([
      {
        thread_id: 'TH1',
        started_us: String(T0 + 1),
        closed_by_user_id: 'agent@example.com',
        closed_by_kind: 'agent',
        closed: true,
      },
    ]);
    const summary = await pool.query(
      `select ended_at is not null as ended, customer_email from "${s}".chat_summary`,
    );
    expect(summary.rows).toEqual([{ ended: true, customer_email: 'ada@example.com' }]);
  });

  it('a thread closed by the router has no closing user', async () => {
    const closed = v3('chat_deactivated', { chat_id: 'CHAT1', thread_id: 'TH1' }, T0 + 60e6);
    const s = await project([incomingChat, closed]);
    const { rows } = await pool.query(`select closed_by_user_id, closed_by_kind from "${s}".threads`);
    expect(rows).toEqual([{ closed_by_user_id: null, closed_by_kind: 'router' }]);
  });

  it('an edit that arrives before its message keeps the edited text and the original time', async () => {
    const original = message('EV1', 'helo', '2026-11-25T10:00:05.123456Z');
    const edited = v3(
      'event_updated',
      {
        chat_id: 'CHAT1',
        thread_id: 'TH1',
        event: {
          id: 'EV1',
          type: 'message',
          text: 'hello',
          author_id: 'c-1',
          created_at: '2026-11-25T10:00:05.123456Z',
          visibility: 'all',
        },
      },
      T0 + 9e6,
    );
    const s = await project([incomingChat, edited, original]);
    const { rows } = await pool.query(
      `select text, author_type, to_char(created_at at time zone 'UTC', 'HH24:MI:SS.US') as created, edited_at is not null as edited from "${s}".chat_transcript`,
    );
    expect(rows).toEqual([
      { text: 'hello', author_type: 'customer', created: '10:00:05.123456', edited: true },
    ]);
  });

  it('a deletion that arrives before its message marks the message deleted', async () => {
    const deleted = v3('event_deleted', { chat_id: 'CHAT1', thread_id: 'TH1', event_id: 'EV2' }, T0 + 20e6);
    const s = await project([deleted, incomingChat, message('EV2', 'oops', '2026-11-25T10:00:06.000000Z')]);
    const { rows } = await pool.query(
      `select text, deleted_at is not null as deleted from "${s}".chat_transcript`,
    );
    expect(rows).toEqual([{ text: 'oops', deleted: true }]);
    const summary = await pool.query(`select message_count from "${s}".chat_summary`);
    expect(summary.rows).toEqual([{ message_count: 0 }]);
  });

  it('an untag that arrives before its tag leaves the thread untagged', async () => {
    const tag = v3('thread_tagged', { chat_id: 'CHAT1', thread_id: 'TH1', tag: 'vip' }, T0 + 10e6);
    const untag = v3('thread_untagged', { chat_id: 'CHAT1', thread_id: 'TH1', tag: 'vip' }, T0 + 20e6);
    const keep = v3('thread_tagged', { chat_id: 'CHAT1', thread_id: 'TH1', tag: 'sales' }, T0 + 30e6);
    const s = await project([incomingChat, untag, keep, tag]);
    const { rows } = await pool.query(`select tags from "${s}".chat_summary`);
    expect(rows).toEqual([{ tags: ['sales'] }]);
  });

  it('a v2 chat_ended before its chat_started gives one transcript without duplicates', async () => {
    const chat = (ended: boolean) => ({
      id: 'V2CHAT',
      started_timestamp: 1795600000,
      ...(ended ? { ended_timestamp: 1795600300 } : {}),
      messages: [
        { user_type: 'visitor', author_name: 'Ada', text: 'Hi', timestamp: 1795600001 },
        {
          user_type: 'agent',
          author_name: 'Bob',
          agent_id: 'agent@example.com',
          text: 'Hello Ada',
          timestamp: 1795600002,
        },
        ...(ended
          ? [
              {
                user_type: 'supervisor',
                author_name: 'Sue',
                agent_id: 'sue@example.com',
                text: 'be nice',
                timestamp: 1795600003,
              },
            ]
          : []),
      ],
      tags: ended ? ['billing'] : [],
      groups: [0],
    });
    const body = (eventType: string, ended: boolean) => ({
      event_type: eventType,
      token: 'v2-token-fixture',
      license_id: '1025707',
      chat: chat(ended),
      visitor: { id: 'S1', name: 'Ada', email: 'ada@example.com' },
      pre_chat_survey: [],
    });
    const s = await project([
      { body: body('chat_ended', true), emittedAt: 1795600300e6 },
      { body: body('chat_started', false), emittedAt: 1795600000e6 },
    ]);
    const { rows } = await pool.query(
      `select author_type, visibility, text from "${s}".chat_transcript order by created_at`,
    );
    expect(rows).toEqual([
      { author_type: 'customer', visibility: 'all', text: 'Hi' },
      { author_type: 'agent', visibility: 'all', text: 'Hello Ada' },
      { author_type: 'agent', visibility: 'agents', text: 'be nice' },
    ]);
    const summary = await pool.query(
      `select tenant, customer_email, tags, message_count, extract(epoch from started_at)::int as started, extract(epoch from ended_at)::int as ended from "${s}".chat_summary`,
    );
    expect(summary.rows).toEqual([
      {
        tenant: '1025707',
        customer_email: 'ada@example.com',
        tags: ['billing'],
        message_count: 3,
        started: 1795600000,
        ended: 1795600300,
      },
    ]);
  });

  it('v2 tag lists: the one received last wins, also over chat_ended (tags edited in the archive)', async () => {
    const chat = { id: 'V2TAGS', started_timestamp: 1795600000, messages: [], groups: [0] };
    const body = (eventType: string, tags: string[], ended?: number) => ({
      event_type: eventType,
      token: 'v2-token-fixture',
      license_id: '1025707',
      chat: { ...chat, tags, ...(ended === undefined ? {} : { ended_timestamp: ended }) },
      visitor: { id: 'S1', name: 'Ada', email: 'ada@example.com' },
    });
    const s = await project([
      { body: body('chat_changed', ['billing']), emittedAt: 1795600100e6 },
      { body: body('chat_ended', ['billing', 'bug'], 1795600300), emittedAt: 1795600300e6 },
      // an agent re-tags the chat in the archive after it ended
      { body: body('chat_changed', ['billing', 'spam']), emittedAt: 1795600400e6 },
    ]);
    const { rows } = await pool.query(`select tags from "${s}".chat_summary`);
    expect(rows).toEqual([{ tags: ['billing', 'spam'] }]);
  });
});
