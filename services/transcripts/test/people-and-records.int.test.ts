import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { createTestDatabase, type TestDatabase } from '@livechat-pipeline/testkit';
import { applyInTransaction, createProjectionSchema, eventsFromDeliveries } from './support/projection-db.js';

// Given these webhooks, when they arrive (some in the wrong order), then these people, survey answers,
// tickets, canned responses, summaries and queue facts.
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
const v2 = (body: Record<string, unknown>, emittedAt: number) => ({
  emittedAt,
  body: { token: 'fixture-token', license_id: '1025707', ...body },
});
const T0 = Date.parse('2026-11-25T10:00:00Z') * 1000;

let db: TestDatabase;
let pool: pg.Pool;
let n = 0;
async function project(deliveries: { body: unknown; emittedAt: number }[]): Promise<string> {
  const schema = `people_${++n}`;
  await createProjectionSchema(pool, schema);
  await applyInTransaction(pool, schema, eventsFromDeliveries(deliveries), 1);
  return schema;
}

beforeAll(async () => {
  db = await createTestDatabase('people');
  pool = new pg.Pool({ connectionString: db.url, max: 2 });
});
afterAll(async () => {
  await pool.end();
  await db.drop();
});

describe('transcripts: people and records', () => {
  it('keeps the customer from the chat, their session fields, and links the chat to them', async () => {
    const s = await project([
      v3(
        'customer_session_fields_updated',
        {
          id: 'cust-1',
          active_chat: { chat_id: 'CHAT1', thread_id: 'TH1' },
          session_fields: [{ plan: 'pro' }, { cart_value: '129.00' }],
        },
        T0 + 5e6,
      ),
      v3(
        'incoming_chat',
        {
          chat: {
            id: 'CHAT1',
            users: [
              { id: 'cust-1', type: 'customer', name: 'Ada Lovelace', email: 'ada@example.com' },
              { id: 'agent@example.com', type: 'agent', name: 'Bob', email: 'agent@example.com' },
            ],
            thread: { id: 'TH1', created_at: '2026-11-25T10:00:00.000000Z', events: [] },
          },
        },
        T0,
      ),
    ]);
    const customers = await pool.query(
      `select customer_id, name, email, session_fields from "${s}".customers`,
    );
    expect(customers.rows).toEqual([
      {
        customer_id: 'cust-1',
        name: 'Ada Lovelace',
        email: 'ada@example.com',
        session_fields: { plan: 'pro', cart_value: '129.00' },
      },
    ]);
    const summary = await pool.query(`select customer_id, customer_name, agent_ids from "${s}".chat_summary`);
    expect(summary.rows).toEqual([
      { customer_id: 'cust-1', customer_name: 'Ada Lovelace', agent_ids: ['agent@example.com'] },
    ]);
  });

  it('keeps the v2 pre-chat survey answers', async () => {
    const s = await project([
      v2(
        {
          event_type: 'chat_started',
          chat: { id: 'V2CHAT', started_timestamp: 1795600000, messages: [], tags: [] },
          visitor: { id: 'S1', name: 'Ada', email: 'ada@example.com' },
          pre_chat_survey: [
            { id: '2001', type: 'name', label: 'Name:', answer: 'Ada' },
            { id: '2002', type: 'email', label: 'E-mail:', answer: 'ada@example.com' },
          ],
        },
        1795600000e6,
      ),
    ]);
    const { rows } = await pool.query(
      `select form_type, label, answer from "${s}".survey_answers order by position`,
    );
    expect(rows).toEqual([
      { form_type: 'prechat', label: 'Name:', answer: 'Ada' },
      { form_type: 'prechat', label: 'E-mail:', answer: 'ada@example.com' },
    ]);
  });

  it('keeps v2 tickets, and the newest version of a canned response whatever the order', async () => {
    const canned = (text: string, modified: number) =>
      v2(
        {
          event_type: 'canned_response_changed',
          canned_response: { group: 0, id: 1, modification_date: modified, tags: ['bye'], text },
        },
        modified * 1e6,
      );
    const s = await project([
      v2(
        {
          event_type: 'ticket_created',
          ticket: {
            id: 'CCWWM',
            status: 'open',
            subject: 'Welcome',
            tags: ['support'],
            requester: { mail: 'mary@example.com', name: 'Mary' },
            groups: [{ id: 0 }],
            source: { type: 'lc2', id: 'V2CHAT' },
          },
        },
        1795600000e6,
      ),
      canned('Anything else?', 1795600200),
      canned('Can I help you with anything else?', 1795600100), // older, arrives last
    ]);
    const tickets = await pool.query(
      `select ticket_id, status, subject, requester_email, tags, source_chat_id from "${s}".tickets`,
    );
    expect(tickets.rows).toEqual([
      {
        ticket_id: 'CCWWM',
        status: 'open',
        subject: 'Welcome',
        requester_email: 'mary@example.com',
        tags: ['support'],
        source_chat_id: 'V2CHAT',
      },
    ]);
    const responses = await pool.query(
      `select canned_response_id::int as id, text from "${s}".canned_responses`,
    );
    expect(responses.rows).toEqual([{ id: 1, text: 'Anything else?' }]);
  });

  it('keeps the newest thread summary and the queue facts of a transfer', async () => {
    const summary = (text: string, at: string) =>
      v3(
        'thread_summary_set',
        { chat_id: 'CHAT1', thread_id: 'TH1', summary: { status: 'ok', text, updated_at: at } },
        T0 + 90e6,
      );
    const s = await project([
      summary('• newer summary', '2026-11-25T10:05:00.000000Z'),
      v3(
        'chat_transferred',
        {
          chat_id: 'CHAT1',
          thread_id: 'TH1',
          reason: 'manual',
          transferred_to: { group_ids: [19] },
          queue: { position: 2, wait_time: 37, queued_at: '2026-11-25T10:01:00.000000Z' },
        },
        T0 + 60e6,
      ),
      summary('• older summary', '2026-11-25T10:04:00.000000Z'),
    ]);
    const { rows } = await pool.query(`select summary_text, queue_wait_seconds from "${s}".threads`);
    expect(rows).toEqual([{ summary_text: '• newer summary', queue_wait_seconds: 37 }]);
    const chats = await pool.query(`select group_ids from "${s}".chat_summary`);
    expect(chats.rows).toEqual([{ group_ids: [19] }]);
  });
});
