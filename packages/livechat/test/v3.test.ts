import { describe, expect, it } from 'vitest';
import { parseWebhook } from '../src/index.js';
import type { ChatDomainEvent } from '../src/index.js';
import { deterministicEventId } from '../src/ids.js';
import { canonicalJson } from '../src/json.js';
import { CONTEXT, only, ofType, parseFixture, singleFixture } from './load-fixtures.js';

const ORG = 'f9c7cc55-b35a-4e76-b0d5-ae9fce362314';

function types(events: readonly ChatDomainEvent[]): string[] {
  return events.map((event) => event.type);
}

describe('v3 incoming_chat', () => {
  const events = parseFixture('v3.6-incoming_chat-visit-answer.json');

  it('emits the thread start, the customer, and every event already in the thread as a message', () => {
    expect(types(events)).toEqual([
      'thread_started',
      'customer_identified',
      'message_posted',
      'message_posted',
      'message_posted',
    ]);
    for (const event of events) {
      expect(event).toMatchObject({
        tenant: ORG,
        chat_id: 'PJ0MRSHTDG',
        thread_id: 'K600PKZON8',
        source_format: 'v3',
      });
    }
  });

  it('dates the thread start at thread.created_at and keeps users, groups, tags', () => {
    const started = only(events, 'thread_started');
    expect(started.occurred_at).toBe(Date.parse('2026-11-09T11:59:59Z') * 1000 + 500_000);
    expect(started.body.thread_started.group_ids).toEqual([19]);
    expect(started.body.thread_started.tags).toEqual(['vip']);
    expect(started.body.thread_started.users.map((user) => [user.id, user.kind])).toEqual([
      ['b7eff798-f8df-4364-8059-649c35c9ed0c', 'customer'],
      ['smith@example.com', 'agent'],
      ['0f1e2d3c4b5a69788796a5b4c3d2e1f0', 'bot'],
    ]);
  });

  it('identifies the customer with session fields and the v3.6 visit', () => {
    const customer = only(events, 'customer_identified').body.customer_identified;
    expect(customer).toMatchObject({
      customer_id: 'b7eff798-f8df-4364-8059-649c35c9ed0c',
      name: 'Mary Brown',
      email: 'mary.brown@email.example',
      session_fields_json: '{"plan":"pro"}',
    });
    expect(JSON.parse(customer.visit_json ?? 'null')).toMatchObject({ ip: '203.0.113.7' });
  });

  it('maps form answers (answer, answers[], group_chooser object), bot and agents-only authors', () => {
    const [form, botMessage, note] = ofType(events, 'message_posted').map(
      (event) => event.body.message_posted.message,
    );
    expect(form?.kind).toBe('filled_form');
    expect(form?.created_at).toBe(Date.parse('2026-11-09T12:00:00Z') * 1000 + 1);
    expect(form?.form).toEqual({
      form_id: 'prechat-1',
      form_type: 'prechat',
      fields: [
        { id: 'f1', type: 'name', label: 'Name:', answer: 'Mary Brown', answers: [] },
        { id: 'f2', type: 'checkbox', label: 'Topics?', answer: null, answers: ['Billing', 'Refunds'] },
        {
          id: 'f3',
          type: 'group_chooser',
          label: 'Department',
          answer: '{"id":"g1","group_id":19,"label":"Billing"}',
          answers: [],
        },
      ],
    });
    expect(botMessage).toMatchObject({
      author_kind: 'bot',
      visibility: 'all',
      text: 'Hello, how can I help?',
    });
    expect(note).toMatchObject({ author_kind: 'agent', visibility: 'agents', text: 'VIP customer, be nice' });
  });

  it('gives a thread event the same id via incoming_chat and via incoming_event', () => {
    const viaChat = ofType(events, 'message_posted').find(
      (event) => event.body.message_posted.message.livechat_event_id === 'K600PKZON8_3',
    );
    const otherEvent = only(
      parseFixture('v3.6-incoming_event-agents-only-no-additional_data.json'),
      'message_posted',
    );
    expect(viaChat?.event_id).not.toBe(otherEvent.event_id);
    // The same LiveChat event delivered alone by incoming_event (content may differ in detail) gets the same id.
    const body = {
      action: 'incoming_event',
      organization_id: ORG,
      payload: {
        chat_id: 'PJ0MRSHTDG',
        thread_id: 'K600PKZON8',
        event: { id: 'K600PKZON8_3', type: 'message', text: 'VIP customer, be nice', visibility: 'agents' },
      },
    };
    expect(only(parseWebhook(body, CONTEXT), 'message_posted').event_id).toBe(viaChat?.event_id);
  });

  it('reads v3.2 names: numeric license_id, recipients, last_visit, form `value`', () => {
    const old = parseFixture('v3.2-incoming_chat-last_visit-value.json');
    expect(types(old)).toEqual(['thread_started', 'customer_identified', 'message_posted', 'message_posted']);
    expect(old.every((event) => event.tenant === '21377312')).toBe(true);
    expect(only(old, 'thread_started').body.thread_started.previous_thread_id).toBe('K600PKZOM8');
    const customer = only(old, 'customer_identified').body.customer_identified;
    expect(JSON.parse(customer.visit_json ?? 'null')).toMatchObject({ ip: '192.0.2.62' });
    const [form, welcome] = ofType(old, 'message_posted').map((event) => event.body.message_posted.message);
    expect(form?.form?.form_type).toBe('prechat'); // from properties.lc2.form_type
    expect(form?.form?.fields.map((field) => field.answer)).toEqual(['rewrew', 'test@test.example']);
    expect(welcome).toMatchObject({ author_kind: 'agent', visibility: 'all', custom_id: null });
  });

  it('reads v3.1 incoming_chat_thread like incoming_chat', () => {
    const v31 = parseFixture('v3.1-incoming_chat_thread.json', { tenantHint: 'lic-1' });
    expect(types(v31)).toEqual(['thread_started', 'customer_identified', 'message_posted']);
    expect(only(v31, 'message_posted').body.message_posted.message.text).toBe('hi from 3.1');
  });
});

describe('v3 incoming_event', () => {
  it('maps a v3.2 message with recipients and license_id', () => {
    const event = only(parseFixture('v3.2-incoming_event-license_id-recipients.json'), 'message_posted');
    expect(event).toMatchObject({
      tenant: '21377312',
      chat_id: 'PS0X0L086G',
      thread_id: 'PZ070E0W1B',
      occurred_at: Date.parse('2020-05-07T07:11:30Z') * 1000 + 288_340,
    });
    expect(event.body.message_posted.message).toMatchObject({
      livechat_event_id: 'PZ070E0W1B_3',
      kind: 'message',
      text: 'old format',
      visibility: 'all',
      author_kind: 'customer',
    });
  });

  it('maps a file', () => {
    const message = only(parseFixture('v3.6-incoming_event-file.json'), 'message_posted').body.message_posted
      .message;
    expect(message.kind).toBe('file');
    expect(message.file).toEqual({
      name: 'invoice.pdf',
      url: 'https://cdn.files.example/invoice.pdf',
      content_type: 'application/pdf',
      size: 48211,
      width: null,
      height: null,
      thumbnail_url: null,
    });
    expect(message.created_at).toBe(Date.parse('2026-11-09T12:03:11Z') * 1000 + 100);
  });

  it('maps a rating system message without author', () => {
    const message = only(parseFixture('v3.6-incoming_event-system_rating.json'), 'message_posted').body
      .message_posted.message;
    expect(message).toMatchObject({
      kind: 'system_message',
      system_message_type: 'rating.chat_rated',
      author_id: null,
      author_kind: 'system',
      text_vars_json: '{"score":"good"}',
    });
  });

  it('maps an agents-only message without additional_data', () => {
    const message = only(
      parseFixture('v3.6-incoming_event-agents-only-no-additional_data.json'),
      'message_posted',
    ).body.message_posted.message;
    expect(message).toMatchObject({ visibility: 'agents', author_kind: 'agent', text: 'internal note' });
  });

  it('keeps rich message elements and custom content as JSON', () => {
    const rich = only(parseFixture('v3.6-incoming_event-rich_message.json'), 'message_posted').body
      .message_posted.message;
    expect(rich.template_id).toBe('quick_replies');
    expect(JSON.parse(rich.content_json ?? 'null')).toEqual([
      {
        title: 'Was this helpful?',
        buttons: [{ text: 'Yes', type: 'message', value: 'yes', postback_id: 'yes_btn', user_ids: [] }],
      },
    ]);
    const custom = only(parseFixture('v3.6-incoming_event-custom.json'), 'message_posted').body.message_posted
      .message;
    expect(custom).toMatchObject({
      kind: 'custom',
      custom_id: 'cart-42',
      content_json: '{"cart":{"items":2,"total":"129.00"}}',
    });
  });
});

describe('v3 edits, deletions, closes, tags', () => {
  it('event_updated → event_edited without an edit time', () => {
    const edited = only(parseFixture('v3.6-event_updated.json'), 'event_edited');
    expect(edited.occurred_at).toBeNull();
    expect(edited.body.event_edited.message).toMatchObject({
      livechat_event_id: 'K600PKZON8_3',
      text: 'hello there (edited)',
    });
  });

  it('event_deleted → event_deleted', () => {
    const deleted = only(parseFixture('v3.6-event_deleted.json'), 'event_deleted');
    expect(deleted).toMatchObject({ chat_id: 'PJ0MRSHTDG', thread_id: 'K600PKZON8', occurred_at: null });
    expect(deleted.body.event_deleted.livechat_event_id).toBe('K600PKZON8_3');
  });

  it('chat_deactivated with user_id → closed by that user; without → closed by the router; same id', () => {
    const byAgent = only(parseFixture('v3.6-chat_deactivated-by-agent.json'), 'thread_closed');
    const byRouter = only(parseFixture('v3.6-chat_deactivated-by-router.json'), 'thread_closed');
    expect(byAgent.body.thread_closed).toEqual({
      closed_by_user_id: 'smith@example.com',
      closed_by_kind: 'agent',
    });
    expect(byRouter.body.thread_closed).toEqual({ closed_by_user_id: null, closed_by_kind: 'router' });
    // A thread closes once: both renderings of the fact share the thread's close id.
    expect(byAgent.event_id).toBe(byRouter.event_id);
  });

  it('v3.1 thread_closed reads like chat_deactivated', () => {
    const closed = only(parseFixture('v3.1-thread_closed.json', { tenantHint: 'lic' }), 'thread_closed');
    expect(closed.body.thread_closed).toEqual({
      closed_by_user_id: '345f8235-d60d-433e-63c5-7f813a6ffe25',
      closed_by_kind: 'customer',
    });
  });

  it('thread_tagged / thread_untagged (v3.6 and v3.2)', () => {
    expect(only(parseFixture('v3.6-thread_tagged.json'), 'thread_tagged').body.thread_tagged.tag).toBe(
      'sales',
    );
    expect(only(parseFixture('v3.6-thread_untagged.json'), 'thread_untagged').body.thread_untagged.tag).toBe(
      'sales',
    );
    const old = only(parseFixture('v3.2-thread_untagged-license_id.json'), 'thread_untagged');
    expect(old).toMatchObject({
      tenant: '21377312',
      chat_id: 'PS0X0L086G',
      body: { thread_untagged: { tag: 'spam' } },
    });
    expect(only(parseFixture('v3.6-thread_tagged.json'), 'thread_tagged').event_id).not.toBe(
      only(parseFixture('v3.6-thread_untagged.json'), 'thread_untagged').event_id,
    );
  });
});

describe('v3 chat-level actions', () => {
  it('chat_transferred keeps the target and the queue', () => {
    const transferred = only(parseFixture('v3.6-chat_transferred.json'), 'chat_transferred');
    expect(transferred.body.chat_transferred).toEqual({
      requester_id: 'jones@example.com',
      reason: 'manual',
      transferred_to_group_ids: [19],
      transferred_to_agent_ids: ['smith@example.com'],
      queue: {
        position: 42,
        wait_time: 1337,
        queued_at: Date.parse('2026-11-09T12:01:18Z') * 1000 + 909_000,
      },
    });
  });

  it('chat_access_updated names the chat `id`', () => {
    const access = only(parseFixture('v3.4-chat_access_updated.json'), 'chat_access_changed');
    expect(access).toMatchObject({
      chat_id: 'PJ0MRSHTDG',
      body: { chat_access_changed: { change: 'updated', group_ids: [0, 19] } },
    });
  });

  it('user_added_to_chat / user_removed_from_chat', () => {
    const added = only(parseFixture('v3.6-user_added_to_chat.json'), 'participant_added').body
      .participant_added;
    expect(added).toMatchObject({
      user_id: 'jones@example.com',
      user_kind: 'agent',
      reason: 'manual',
      requester_id: 'smith@example.com',
    });
    expect(added.user).toMatchObject({ name: 'Ann Jones', kind: 'agent' });
    const removed = only(parseFixture('v3.6-user_removed_from_chat.json'), 'participant_removed').body
      .participant_removed;
    expect(removed).toEqual({
      user_id: 'jones@example.com',
      user_kind: 'agent',
      reason: 'manual',
      requester_id: 'smith@example.com',
    });
  });

  it('properties updated and deleted', () => {
    const chat = only(parseFixture('v3.6-chat_properties_updated.json'), 'properties_changed');
    expect(chat).toMatchObject({ chat_id: 'PJ0MRSHTDG', thread_id: null });
    expect(chat.body.properties_changed).toEqual({
      scope: 'chat',
      change: 'updated',
      livechat_event_id: null,
      properties_json: '{"rating":{"score":1,"comment":"Very helpful"}}',
    });
    const event = only(parseFixture('v3.6-event_properties_deleted.json'), 'properties_changed').body
      .properties_changed;
    expect(event).toEqual({
      scope: 'event',
      change: 'deleted',
      livechat_event_id: 'K600PKZON8_3',
      properties_json: '{"rating":["score"]}',
    });
  });

  it('customer_session_fields_updated → customer_identified on the active chat', () => {
    const customer = only(parseFixture('v3.6-customer_session_fields_updated.json'), 'customer_identified');
    expect(customer).toMatchObject({ chat_id: 'PJ0MRSHTDG', thread_id: 'K600PKZON8', occurred_at: null });
    expect(customer.body.customer_identified).toEqual({
      customer_id: 'b7eff798-f8df-4364-8059-649c35c9ed0c',
      name: null,
      email: null,
      session_fields_json: '{"plan":"pro","cart_value":"129.00"}',
      visit_json: null,
    });
  });

  it('v3.3 incoming_customer with last_visit → customer_identified', () => {
    const customer = only(parseFixture('v3.3-incoming_customer-last_visit.json'), 'customer_identified');
    expect(customer).toMatchObject({
      tenant: '21377312',
      chat_id: null,
      occurred_at: Date.parse('2021-05-04T10:00:00Z') * 1000,
    });
    expect(customer.body.customer_identified).toMatchObject({
      name: 'Old Visitor',
      session_fields_json: '{"source":"ads"}',
    });
    expect(JSON.parse(customer.body.customer_identified.visit_json ?? 'null')).toMatchObject({
      ip: '198.51.100.4',
    });
  });

  it('thread_summary_set is dated by the summary', () => {
    const summary = only(parseFixture('v3.6-thread_summary_set.json'), 'thread_summary_set');
    const updatedAt = Date.parse('2026-11-09T12:09:18Z') * 1000 + 909_000;
    expect(summary.occurred_at).toBe(updatedAt);
    expect(summary.body.thread_summary_set).toEqual({
      status: 'ok',
      text: 'Customer asks about discount codes.',
      updated_at: updatedAt,
    });
  });

  it('events_marked_as_seen keeps seen_up_to, with no time of its own', () => {
    const seen = only(parseFixture('v3.6-events_marked_as_seen.json'), 'events_marked_as_seen');
    expect(seen).toMatchObject({ chat_id: 'PJ0MRSHTDG', occurred_at: null });
    expect(seen.body.events_marked_as_seen).toEqual({
      user_id: 'smith@example.com',
      seen_up_to: Date.parse('2026-11-09T12:05:00Z') * 1000,
    });
  });

  it('incoming_rich_message_postback', () => {
    const postback = only(parseFixture('v3.6-incoming_rich_message_postback.json'), 'rich_message_postback');
    expect(postback.body.rich_message_postback).toEqual({
      user_id: 'b7eff798-f8df-4364-8059-649c35c9ed0c',
      livechat_event_id: 'K600PKZON8_7',
      postback_json: '{"id":"yes_btn","toggled":true}',
    });
  });
});

describe('v3 agent-level and configuration actions', () => {
  it('routing_status_set, and v3.1 agent_status_changed with the docs’ spaces', () => {
    expect(only(parseFixture('v3.6-routing_status_set.json'), 'routing_status_set')).toMatchObject({
      chat_id: null,
      body: { routing_status_set: { agent_id: 'smith@example.com', status: 'not_accepting_chats' } },
    });
    expect(
      only(parseFixture('v3.1-agent_status_changed-spaces.json', { tenantHint: 'lic' }), 'routing_status_set')
        .body,
    ).toEqual({ routing_status_set: { agent_id: 'smith@example.com', status: 'accepting_chats' } });
  });

  it('routing_status_set: a status repeated later is a new fact, a replay of the same delivery is not', () => {
    const id = (receivedAtMicros: number) =>
      only(parseFixture('v3.6-routing_status_set.json', { receivedAtMicros }), 'routing_status_set').event_id;
    // The body has no id and no time: accepting → not accepting → accepting repeats a payload byte for byte.
    expect(id(CONTEXT.receivedAtMicros + 3_600_000_000)).not.toBe(id(CONTEXT.receivedAtMicros));
    expect(id(CONTEXT.receivedAtMicros)).toBe(id(CONTEXT.receivedAtMicros));
  });

  it('agent_updated → configuration_changed with the requester and the payload as JSON', () => {
    const changed = only(parseFixture('v3.6-agent_updated.json'), 'configuration_changed');
    expect(changed.chat_id).toBeNull();
    expect(changed.body.configuration_changed).toMatchObject({
      entity: 'agent',
      change: 'updated',
      entity_id: 'smith@example.com',
      requester_user_id: 'user@example.com',
      requester_client_id: '1b4237f476826986da63022a76c35bb1',
    });
    expect(JSON.parse(changed.body.configuration_changed.payload_json)).toMatchObject({
      work_scheduler: { timezone: 'Europe/Warsaw' },
    });
  });

  it('group_created (numeric id), tag_created (by name, dated), v3.4 auto_access_added', () => {
    expect(
      only(parseFixture('v3.6-group_created.json'), 'configuration_changed').body.configuration_changed,
    ).toMatchObject({
      entity: 'group',
      change: 'created',
      entity_id: '19',
    });
    const tag = only(parseFixture('v3.5-tag_created.json'), 'configuration_changed');
    expect(tag.occurred_at).toBe(Date.parse('2026-11-09T10:00:00Z') * 1000);
    expect(tag.body.configuration_changed).toMatchObject({
      entity: 'tag',
      change: 'created',
      entity_id: 'vip',
    });
    expect(
      only(parseFixture('v3.4-auto_access_added.json'), 'configuration_changed').body.configuration_changed,
    ).toMatchObject({
      entity: 'auto_access',
      change: 'added',
      entity_id: '1e7fb3a3b3a3c9a8c3a4f9d7e2c1b0a9',
    });
  });

  it('auto_accesses_updated with an array payload → one event per entry, each entry mapped on its own', () => {
    const name = 'v3.6-auto_accesses_updated-array-payload.json';
    const events = parseFixture(name);
    const entries = (singleFixture(name) as { payload: Record<string, unknown>[] }).payload;
    expect(entries.length).toBeGreaterThanOrEqual(3);
    expect(types(events)).toEqual(entries.map(() => 'configuration_changed'));
    expect(
      events.map((event) => event.type === 'configuration_changed' && event.body.configuration_changed),
    ).toEqual([
      {
        entity: 'auto_access',
        change: 'added',
        entity_id: '1e7fb3a3b3a3c9a8c3a4f9d7e2c1b0a9',
        requester_user_id: null,
        requester_client_id: null,
        payload_json: JSON.stringify(entries[0]),
      },
      {
        entity: 'auto_access',
        change: 'updated',
        entity_id: '2f8ac4b4c4b4dab9d4b5fae8f3d2c1ba',
        requester_user_id: null,
        requester_client_id: null,
        payload_json: JSON.stringify(entries[1]),
      },
      {
        entity: 'auto_access',
        change: 'removed',
        entity_id: '3a9bd5c5d5c5ebcae5c6abf9a4e3d2cb',
        requester_user_id: null,
        requester_client_id: null,
        payload_json: JSON.stringify(entries[2]),
      },
    ]);
    for (const event of events) {
      expect(event).toMatchObject({ tenant: ORG, chat_id: null, thread_id: null, occurred_at: null });
    }
    // Each entry is its own fact: the id is the delivery's (action + canonical payload) plus the entry's index.
    expect(events.map((event) => event.event_id)).toEqual(
      entries.map((_, index) =>
        deterministicEventId(['v3-action', ORG, 'auto_accesses_updated', canonicalJson(entries), index]),
      ),
    );
    expect(new Set(events.map((event) => event.event_id)).size).toBe(entries.length);
  });

  it('an unknown action → unrecognised_webhook, not an error', () => {
    const unknown = only(parseFixture('v3.6-unknown_action.json'), 'unrecognised_webhook');
    expect(unknown).toMatchObject({ chat_id: 'PJ0MRSHTDG', thread_id: 'K600PKZON8', occurred_at: null });
    expect(unknown.body.unrecognised_webhook).toEqual({
      discriminator: 'chat_teleported',
      payload_json: '{"chat_id":"PJ0MRSHTDG","thread_id":"K600PKZON8","destination":"mars"}',
    });
  });
});

describe('v3 incoming_chat of a queued thread', () => {
  const body = (queue?: unknown) => ({
    webhook_id: 'w',
    secret_key: 's',
    action: 'incoming_chat',
    organization_id: ORG,
    payload: {
      chat: {
        id: 'QCHAT',
        users: [],
        thread: {
          id: 'QTHREAD',
          created_at: '2026-11-25T10:00:00.000000Z',
          events: [],
          ...(queue === undefined ? {} : { queue }),
        },
      },
    },
  });

  it('carries thread.queue on the thread start (position, seconds waited, queued_at in µs)', () => {
    const started = parseWebhook(
      body({ position: 3, wait_time: 42, queued_at: '2026-11-25T10:00:00.250000Z' }),
      CONTEXT,
    ).find((e) => e.type === 'thread_started');
    expect(started?.body).toMatchObject({
      thread_started: {
        queue: { position: 3, wait_time: 42, queued_at: Date.parse('2026-11-25T10:00:00Z') * 1000 + 250_000 },
      },
    });
  });

  it('has no queue when the thread is not queued', () => {
    const started = parseWebhook(body(), CONTEXT).find((e) => e.type === 'thread_started');
    expect(started?.body).toMatchObject({ thread_started: { queue: null } });
  });
});
