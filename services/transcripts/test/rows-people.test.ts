import { describe, expect, it } from 'vitest';
import { transcriptRowChanges } from '../src/projection/rows.js';
import { AT, RECEIVED, TENANT, event } from './support/events.js';

// Pure: given events, then the rows of the people family (participants, customers, agents).
const chatRow = {
  tenant: TENANT,
  chat_id: 'CHAT1',
  thread_id: null,
  thread_started_us: null,
  customer_id: null,
  group_ids: [],
};

describe('transcript rows: people', () => {
  it('an added participant with its user is a participant, and an agent or customer of the tenant', () => {
    const rows = transcriptRowChanges([
      event('participant_added', {
        user_id: 'agent@x',
        user_kind: 'agent',
        user: { id: 'agent@x', kind: 'agent', name: 'Bob', email: 'agent@x', present: true },
        reason: null,
        requester_id: null,
      }),
    ]);
    expect(rows.participants).toEqual([
      { tenant: TENANT, chat_id: 'CHAT1', user_id: 'agent@x', kind: 'agent', name: 'Bob', email: 'agent@x' },
    ]);
    expect(rows.agents).toEqual([{ tenant: TENANT, agent_id: 'agent@x', name: 'Bob', email: 'agent@x' }]);
    expect(rows.customers).toEqual([]);
  });

  it('an added participant known only by id takes the kind the event gives, also over an unknown user kind', () => {
    const bare = transcriptRowChanges([
      event('participant_added', {
        user_id: 'cust-2',
        user_kind: 'customer',
        user: null,
        reason: null,
        requester_id: null,
      }),
    ]);
    expect(bare.participants).toEqual([
      { tenant: TENANT, chat_id: 'CHAT1', user_id: 'cust-2', kind: 'customer', name: null, email: null },
    ]);
    expect(bare.customers).toEqual([
      {
        tenant: TENANT,
        customer_id: 'cust-2',
        name: null,
        email: null,
        session_fields: null,
        visit: null,
        updated_us: AT,
      },
    ]);
    const unknown = transcriptRowChanges([
      event('participant_added', {
        user_id: null,
        user_kind: 'agent',
        user: { id: 'agent@y', kind: 'unknown', name: 'Y', email: null, present: null },
        reason: null,
        requester_id: null,
      }),
    ]);
    expect(unknown.participants).toEqual([
      { tenant: TENANT, chat_id: 'CHAT1', user_id: 'agent@y', kind: 'agent', name: 'Y', email: null },
    ]);
    expect(unknown.agents).toEqual([{ tenant: TENANT, agent_id: 'agent@y', name: 'Y', email: null }]);
  });

  it('an added participant without an id or a chat is nothing; a bot is a participant only', () => {
    const none = transcriptRowChanges([
      event('participant_added', {
        user_id: null,
        user_kind: 'agent',
        user: null,
        reason: null,
        requester_id: null,
      }),
      event(
        'participant_added',
        { user_id: 'a', user_kind: 'agent', user: null, reason: null, requester_id: null },
        { chat_id: null },
      ),
    ]);
    expect(none.participants).toEqual([]);
    expect(none.agents).toEqual([]);
    const bot = transcriptRowChanges([
      event('participant_added', {
        user_id: 'bot-1',
        user_kind: 'bot',
        user: null,
        reason: null,
        requester_id: null,
      }),
    ]);
    expect(bot.participants).toHaveLength(1);
    expect(bot.agents).toEqual([]);
    expect(bot.customers).toEqual([]);
  });

  it('an identified customer keeps session fields and visit as JSON, and links the chat to them', () => {
    const body = {
      customer_id: 'cust-1',
      name: 'Ada',
      email: 'ada@x',
      session_fields_json: '{"plan":"pro"}',
      visit_json: null,
    };
    const rows = transcriptRowChanges([event('customer_identified', body, { occurred_at: null })]);
    expect(rows.customers).toEqual([
      {
        tenant: TENANT,
        customer_id: 'cust-1',
        name: 'Ada',
        email: 'ada@x',
        session_fields: { plan: 'pro' },
        visit: null,
        updated_us: RECEIVED,
      },
    ]);
    expect(rows.chats).toEqual([chatRow, { ...chatRow, customer_id: 'cust-1' }]);
    expect(rows.participants).toEqual([
      { tenant: TENANT, chat_id: 'CHAT1', user_id: 'cust-1', kind: 'customer', name: 'Ada', email: 'ada@x' },
    ]);
  });

  it('an identified customer outside a chat is a customer only; without an id, nothing', () => {
    const body = {
      customer_id: 'cust-1',
      name: null,
      email: null,
      session_fields_json: null,
      visit_json: '{"ip":"1.2.3.4"}',
    };
    const rows = transcriptRowChanges([
      event('customer_identified', body, { chat_id: null, thread_id: null }),
    ]);
    expect(rows.customers).toEqual([
      {
        tenant: TENANT,
        customer_id: 'cust-1',
        name: null,
        email: null,
        session_fields: null,
        visit: { ip: '1.2.3.4' },
        updated_us: AT,
      },
    ]);
    expect(rows.chats).toEqual([]);
    expect(rows.participants).toEqual([]);
    expect(
      transcriptRowChanges([event('customer_identified', { ...body, customer_id: null })]).customers,
    ).toEqual([]);
  });

  it('a queued visitor is a customer; without an id, nothing', () => {
    const rows = transcriptRowChanges([
      event('visitor_queued', { visitor_id: 'v-1', name: 'V', email: null }),
    ]);
    expect(rows.customers).toEqual([
      {
        tenant: TENANT,
        customer_id: 'v-1',
        name: 'V',
        email: null,
        session_fields: null,
        visit: null,
        updated_us: AT,
      },
    ]);
    expect(rows.participants).toEqual([]);
    expect(
      transcriptRowChanges([event('visitor_queued', { visitor_id: null, name: 'V', email: null })]).customers,
    ).toEqual([]);
  });
});
