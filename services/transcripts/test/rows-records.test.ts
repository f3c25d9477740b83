import { describe, expect, it } from 'vitest';
import { transcriptRowChanges } from '../src/projection/rows.js';
import { AT, RECEIVED, TENANT, event } from './support/events.js';

// Pure: given events, then the rows of the records family (tickets, canned responses).
const ticket = {
  ticket_id: 'T-1',
  status: 'open',
  subject: 'Refund',
  requester_name: 'Ada',
  requester_email: 'ada@x',
  assignee_id: 'agent@x',
  tags: ['billing'],
  group_ids: [2],
  source_chat_id: 'CHAT1',
  ticket_json: '{"id":"T-1","events":[]}',
};

describe('transcript rows: records', () => {
  it('a created ticket is a ticket of the tenant, its body parsed', () => {
    const rows = transcriptRowChanges([event('ticket_created', ticket, { chat_id: null, thread_id: null })]);
    expect(rows.tickets).toEqual([
      {
        tenant: TENANT,
        ticket_id: 'T-1',
        status: 'open',
        subject: 'Refund',
        requester_name: 'Ada',
        requester_email: 'ada@x',
        assignee_id: 'agent@x',
        tags: ['billing'],
        group_ids: [2],
        source_chat_id: 'CHAT1',
        body: { id: 'T-1', events: [] },
        created_us: AT,
      },
    ]);
    expect(rows.chats).toEqual([]);
  });

  it('a ticket body that is not JSON is kept as text; a ticket without an id is nothing', () => {
    expect(
      transcriptRowChanges([
        event('ticket_created', { ...ticket, ticket_json: 'oops' }, { occurred_at: null }),
      ]).tickets[0],
    ).toMatchObject({ body: 'oops', created_us: RECEIVED });
    expect(transcriptRowChanges([event('ticket_created', { ...ticket, ticket_id: null })]).tickets).toEqual(
      [],
    );
  });

  it('a changed canned response is kept at the fact time; without an id, nothing', () => {
    const body = { canned_response_id: 7, group_id: 0, text: 'Hi #name', tags: ['greeting'] };
    expect(
      transcriptRowChanges([event('canned_response_changed', body, { chat_id: null, thread_id: null })])
        .cannedResponses,
    ).toEqual([
      {
        tenant: TENANT,
        canned_response_id: 7,
        group_id: 0,
        text: 'Hi #name',
        tags: ['greeting'],
        updated_us: AT,
      },
    ]);
    expect(
      transcriptRowChanges([event('canned_response_changed', { ...body, canned_response_id: null })])
        .cannedResponses,
    ).toEqual([]);
  });
});
