import { describe, expect, it } from 'vitest';
import { parseWebhook, v2ThreadId } from '../src/index.js';
import type { ChatDomainEvent } from '../src/index.js';
import { CONTEXT, only, ofType, parseFixture, singleFixture } from './load-fixtures.js';

function types(events: readonly ChatDomainEvent[]): string[] {
  return events.map((event) => event.type);
}

describe('v2 chat_ended with a supervisor whisper', () => {
  const events = parseFixture('v2-chat_ended-supervisor-whisper.json');

  it('emits the start, the customer, the survey, each message, the tag snapshot and the close', () => {
    expect(types(events)).toEqual([
      'thread_started',
      'customer_identified',
      'message_posted',
      'message_posted',
      'message_posted',
      'message_posted',
      'tags_snapshot',
      'thread_closed',
    ]);
    for (const event of events) {
      expect(event).toMatchObject({
        tenant: '1025707',
        chat_id: 'MH022RD0K5',
        thread_id: 'MH022RD0K5',
        source_format: 'v2',
        api_version: '2',
      });
    }
  });

  it('maps visitor → customer, agent → agent, supervisor → agent visible to agents only; times in seconds × 1e6', () => {
    const messages = ofType(events, 'message_posted')
      .map((event) => event.body.message_posted.message)
      .filter((message) => message.kind === 'message');
    expect(
      messages.map((message) => [message.text, message.author_kind, message.visibility, message.created_at]),
    ).toEqual([
      ['Hello', 'agent', 'all', 1_794_937_653_000_000],
      ['This is whispered message.', 'agent', 'agents', 1_794_937_658_000_000],
      ['How are you?', 'customer', 'all', 1_794_937_661_000_000],
    ]);
    expect(messages.map((message) => message.author_id)).toEqual([
      'john.doe@mycompany.example',
      'james@mycompany.example',
      'S126126161.O136OJPO1',
    ]);
    expect(messages.every((message) => message.livechat_event_id === null)).toBe(true);
  });

  it('turns the checkbox survey into a filled_form with the chosen answers only', () => {
    const survey = ofType(events, 'message_posted').find(
      (event) => event.body.message_posted.message.kind === 'filled_form',
    );
    expect(survey?.occurred_at).toBe(1_794_937_653_000_000);
    expect(survey?.body.message_posted.message).toMatchObject({
      author_kind: 'customer',
      author_id: 'S126126161.O136OJPO1',
    });
    expect(survey?.body.message_posted.message.form).toEqual({
      form_id: null,
      form_type: 'prechat',
      fields: [
        {
          id: '135963613764705707',
          type: 'checkbox',
          label: 'What are your favourite music bands?',
          answer: null,
          answers: ['Deep Purple'],
        },
      ],
    });
  });

  it('identifies the customer with custom variables as session fields', () => {
    expect(only(events, 'customer_identified').body.customer_identified).toEqual({
      customer_id: 'S126126161.O136OJPO1',
      name: 'Mary Brown',
      email: 'mary.brown@email.example',
      session_fields_json: '{"Customer ID":"POQ51023XZA"}',
      visit_json: null,
    });
  });

  it('snapshots the tags and closes the thread at ended_timestamp (closer unknown)', () => {
    const snapshot = only(events, 'tags_snapshot');
    expect(snapshot.body.tags_snapshot.tags).toEqual(['sales', 'support', 'feedback']);
    expect(snapshot.occurred_at).toBe(1_794_939_109_000_000);
    const closed = only(events, 'thread_closed');
    expect(closed.occurred_at).toBe(1_794_939_109_000_000);
    expect(closed.body.thread_closed).toEqual({ closed_by_user_id: null, closed_by_kind: 'unknown' });
  });
});

describe('v2 chat_started and chat_ended of the same chat', () => {
  it('share the thread start id and the ids of the repeated messages', () => {
    const started = parseFixture('v2-chat_started-no-survey.json');
    const ended = parseFixture('v2-chat_ended-supervisor-whisper.json');
    expect(only(started, 'thread_started').event_id).toBe(only(ended, 'thread_started').event_id);

    // Add the first message to chat_started, as LiveChat does when the agent greets at once.
    const body = singleFixture('v2-chat_started-no-survey.json') as { chat: { messages: unknown[] } };
    body.chat.messages = [
      {
        user_type: 'agent',
        author_name: 'John Doe',
        agent_id: 'john.doe@mycompany.example',
        text: 'Hello',
        timestamp: 1794937653,
      },
    ];
    const greeting = ofType(parseWebhook(body, CONTEXT), 'message_posted')[0];
    const endedGreeting = ofType(ended, 'message_posted').find(
      (event) => event.body.message_posted.message.text === 'Hello',
    );
    expect(greeting?.event_id).toBeDefined();
    expect(greeting?.event_id).toBe(endedGreeting?.event_id);
  });

  it('chat_started with an empty survey emits no filled_form, and no close or tag snapshot', () => {
    const started = parseFixture('v2-chat_started-no-survey.json');
    expect(types(started)).toEqual(['thread_started', 'customer_identified']);
    expect(only(started, 'thread_started').body.thread_started).toMatchObject({ active: true, tags: [] });
  });

  it('chat_started without visitor takes name and email from the survey', () => {
    const events = parseFixture('v2-chat_started-survey-only.json');
    expect(types(events)).toEqual(['thread_started', 'customer_identified', 'message_posted']);
    expect(only(events, 'customer_identified').body.customer_identified).toMatchObject({
      customer_id: null,
      name: 'Survey Sam',
      email: 'sam@mail.example',
    });
    expect(
      only(events, 'message_posted').body.message_posted.message.form?.fields.map((field) => field.answer),
    ).toEqual(['Survey Sam', 'sam@mail.example']);
  });
});

describe('v2 chat_ended closed by the visitor', () => {
  const events = parseFixture('v2-chat_ended-closed-by-visitor.json');

  it('keeps two identical messages in the same second as two events', () => {
    const oks = ofType(events, 'message_posted').filter(
      (event) => event.body.message_posted.message.text === 'ok',
    );
    expect(oks).toHaveLength(2);
    expect(oks[0]?.event_id).not.toBe(oks[1]?.event_id);
  });

  it('turns chat.events into system messages and names the closer', () => {
    const system = ofType(events, 'message_posted').filter(
      (event) => event.body.message_posted.message.kind === 'system_message',
    );
    expect(system.map((event) => event.body.message_posted.message)).toMatchObject([
      { system_message_type: 'v2.closed', author_kind: 'system', text: 'Thomas Anderson closed the chat.' },
    ]);
    expect(only(events, 'thread_closed').body.thread_closed).toEqual({
      closed_by_user_id: 'S1493177572.a78cd5f8c4',
      closed_by_kind: 'customer',
    });
  });

  it('lists the agents and groups of the chat, and the visitor location as the visit', () => {
    const started = only(events, 'thread_started').body.thread_started;
    expect(started.group_ids).toEqual([0]);
    expect(started.active).toBe(false);
    expect(started.users.map((user) => [user.id, user.kind])).toEqual([
      ['S1493177572.a78cd5f8c4', 'customer'],
      ['smith@matrix.example', 'agent'],
    ]);
    expect(
      JSON.parse(only(events, 'customer_identified').body.customer_identified.visit_json ?? 'null'),
    ).toEqual({
      country: 'Australia',
      city: 'Adelaide',
      timezone: 'Australia/South',
    });
  });
});

describe('v2 other event types', () => {
  it('chat_changed → a tag snapshot without a time', () => {
    const snapshot = only(parseFixture('v2-chat_changed.json'), 'tags_snapshot');
    expect(snapshot).toMatchObject({
      chat_id: 'MH022RD0K5',
      thread_id: v2ThreadId('MH022RD0K5'),
      occurred_at: null,
    });
    expect(snapshot.body.tags_snapshot.tags).toEqual(['sales', 'support']);
  });

  it('visitor_queued', () => {
    const queued = only(parseFixture('v2-visitor_queued.json'), 'visitor_queued');
    expect(queued).toMatchObject({ tenant: '1025707', chat_id: null, occurred_at: null });
    expect(queued.body.visitor_queued).toEqual({
      visitor_id: 'S1354547427.0c151b0e1b',
      name: 'John',
      email: 'john.smith@mail.example',
    });
  });

  it('ticket_created, dated by its first event (an ISO time, unlike the rest of v2)', () => {
    const ticket = only(parseFixture('v2-ticket_created.json'), 'ticket_created');
    expect(ticket.occurred_at).toBe(Date.parse('2026-11-18T10:05:05Z') * 1000);
    expect(ticket.body.ticket_created).toMatchObject({
      ticket_id: 'CCWWM',
      status: 'open',
      subject: 'Welcome',
      requester_name: 'Mary Brown',
      requester_email: 'mary.brown@email.example',
      assignee_id: 'agent.gregory@email.example',
      tags: ['support'],
      group_ids: [0],
      source_chat_id: 'NO4Y5FAERW',
    });
  });

  it('canned_response_changed, dated by modification_date', () => {
    const canned = only(parseFixture('v2-canned_response_changed.json'), 'canned_response_changed');
    expect(canned.occurred_at).toBe(1_794_230_856_000_000);
    expect(canned.body.canned_response_changed).toEqual({
      canned_response_id: 1,
      group_id: 0,
      text: 'Can I help you with anything else?',
      tags: ['shortcut1', 'shortcut2'],
    });
  });

  it('an unknown event_type → unrecognised_webhook without the credentials', () => {
    const unknown = only(parseFixture('v2-unknown_event_type.json'), 'unrecognised_webhook');
    expect(unknown.body.unrecognised_webhook).toEqual({
      discriminator: 'chat_rated',
      payload_json: '{"chat":{"id":"MH022RD0K5"},"rating":"good"}',
    });
  });
});

describe('v2 chat groups', () => {
  it('are a fact of their own, so chat_ended adds the groups that chat_started (same thread_started id) lacked', () => {
    const started = structuredClone(singleFixture('v2-chat_started-no-survey.json')) as {
      chat: { groups?: unknown };
    };
    delete started.chat.groups;
    const ended = structuredClone(started) as { event_type: string; chat: { groups?: unknown } };
    ended.event_type = 'chat_ended';
    ended.chat.groups = [0, 7];
    const startedEvents = parseWebhook(started, CONTEXT);
    const endedEvents = parseWebhook(ended, CONTEXT);
    expect(ofType(startedEvents, 'chat_access_changed')).toEqual([]);
    expect(only(startedEvents, 'thread_started').event_id).toBe(only(endedEvents, 'thread_started').event_id);
    expect(only(endedEvents, 'chat_access_changed').body.chat_access_changed).toEqual({
      change: 'set',
      group_ids: [0, 7],
    });
  });
});

describe('v2 chat.rate', () => {
  const body = (rate: string) => ({
    event_type: 'chat_ended',
    license_id: '8762851',
    token: 't',
    chat: { id: 'RATED1', started_timestamp: 1795600000, ended_timestamp: 1795600300, messages: [], rate },
  });

  it('rated_good / rated_bad become the rating.score thread property (1 / 0), dated at the chat end', () => {
    for (const [rate, score] of [
      ['rated_good', 1],
      ['rated_bad', 0],
    ] as const) {
      const events = parseWebhook(body(rate), CONTEXT).filter((e) => e.type === 'properties_changed');
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({
        chat_id: 'RATED1',
        thread_id: 'RATED1',
        occurred_at: 1795600300 * 1_000_000,
        body: {
          properties_changed: {
            scope: 'thread',
            change: 'updated',
            properties_json: JSON.stringify({ rating: { score } }),
          },
        },
      });
    }
  });

  it('not_rated (also after a cancelled rating) says nothing', () => {
    expect(parseWebhook(body('not_rated'), CONTEXT).some((e) => e.type === 'properties_changed')).toBe(false);
  });
});
