import { describe, expect, it } from 'vitest';
import { eventIdOf, canonicalJson, dedupKey } from '../src/event-id.js';
import type { IngestError } from '../src/errors.js';
import { kafkaKeyOf } from '../src/kafka-key.js';
import { REDACTED, redactBody } from '../src/redact.js';
import { classifyWebhook } from '../src/webhook.js';
import { fixture, loadFixtures } from './support/fixtures.js';

const ORG = 'f9c7cc55-b35a-4e76-b0d5-ae9fce362314';

/** fixture → [format, action, tenant, chat_id, thread_id, kafka key, api_version] */
const expected: Record<string, [string, string, string | null, string | null, string | null, string, string | null]> = {
  'v2-canned_response_changed': ['v2', 'canned_response_changed', '1025707', null, null, '1025707|canned_response:1', '2'],
  'v2-chat_changed': ['v2', 'chat_changed', '1025707', 'MH022RD0K5', null, '1025707|MH022RD0K5', '2'],
  'v2-chat_ended-event_unique_id': ['v2', 'chat_ended', '8762851', 'OQ422UEDW5', null, '8762851|OQ422UEDW5', '2'],
  'v2-chat_ended-supervisor-whisper': ['v2', 'chat_ended', '1025707', 'MH022RD0K5', null, '1025707|MH022RD0K5', '2'],
  'v2-chat_started-no-survey': ['v2', 'chat_started', '1025707', 'MH022RD0K5', null, '1025707|MH022RD0K5', '2'],
  'v2-ticket_created': ['v2', 'ticket_created', '1025707', null, null, '1025707|ticket:CCWWM', '2'],
  'v2-visitor_queued': ['v2', 'visitor_queued', '1025707', null, null, '1025707|visitor:S1354547427.0c151b0e1b', '2'],
  'v3.2-incoming_chat-license_id': ['v3', 'incoming_chat', '21377312', 'PS0X0L086G', 'PZ070E0W1B', '21377312|PS0X0L086G', '3.2/3.3'],
  'v3.2-incoming_event-license_id-recipients': ['v3', 'incoming_event', '21377312', 'PS0X0L086G', 'PZ070E0W1B', '21377312|PS0X0L086G', '3.2/3.3'],
  'v3.6-agent_updated': ['v3', 'agent_updated', ORG, null, null, `${ORG}|agent:smith@example.com`, '3.6+'],
  'v3.6-auto_accesses_updated-array-payload': ['v3', 'auto_accesses_updated', ORG, null, null, `${ORG}|auto_accesses`, '3.5+'],
  'v3.6-bot_created': ['v3', 'bot_created', ORG, null, null, `${ORG}|bot:5c9871d5372c824cbf22d860a707a578`, '3.4+'],
  'v3.6-chat_access_updated': ['v3', 'chat_access_updated', ORG, 'PJ0MRSHTDG', null, `${ORG}|PJ0MRSHTDG`, '3.4+'],
  'v3.6-chat_deactivated': ['v3', 'chat_deactivated', ORG, 'PJ0MRSHTDG', 'K600PKZON8', `${ORG}|PJ0MRSHTDG`, '3.4+'],
  'v3.6-customer_session_fields_updated': ['v3', 'customer_session_fields_updated', ORG, 'PJ0MRSHTDG', 'K600PKZON8', `${ORG}|PJ0MRSHTDG`, '3.4+'],
  'v3.6-event_deleted': ['v3', 'event_deleted', ORG, 'PJ0MRSHTDG', 'K600PKZON8', `${ORG}|PJ0MRSHTDG`, '3.6+'],
  'v3.6-group_created': ['v3', 'group_created', ORG, null, null, `${ORG}|group:19`, '3.6+'],
  'v3.6-incoming_chat': ['v3', 'incoming_chat', ORG, 'PJ0MRSHTDG', 'K600PKZON8', `${ORG}|PJ0MRSHTDG`, '3.4+'],
  'v3.6-no-tenant': ['v3', 'incoming_event', null, 'Q1', 'T1', '|Q1', null],
  'v3.6-routing_status_set': ['v3', 'routing_status_set', ORG, null, null, `${ORG}|agent:smith@example.com`, '3.4+'],
  'v3.6-tag_created': ['v3', 'tag_created', ORG, null, null, `${ORG}|tag:vip`, '3.6+'],
  'v3.6-thread_summary_set': ['v3', 'thread_summary_set', ORG, 'PJ0MRSHTDG', 'K600PKZON8', `${ORG}|PJ0MRSHTDG`, '3.6+'],
  'v3.6-unknown_future_action': ['v3', 'brand_new_action_2027', ORG, 'PJ0MRSHTDG', null, `${ORG}|PJ0MRSHTDG`, '3.4+'],
};

describe('classifyWebhook + kafkaKeyOf', () => {
  it.each(Object.entries(expected))('%s', (name, [format, action, tenant, chatId, threadId, key, apiVersion]) => {
    const w = classifyWebhook(fixture(name));
    expect([w.format, w.action, w.bodyTenant, w.chatId, w.threadId, w.apiVersion]).toEqual([format, action, tenant, chatId, threadId, apiVersion]);
    expect(kafkaKeyOf(w, w.bodyTenant, 'EVENT')).toBe(key);
  });

  it('classifies every fixture', () => {
    for (const f of loadFixtures()) expect(() => classifyWebhook(f.body), f.name).not.toThrow();
  });

  it.each([
    ['an array', [1, 2]],
    ['null', null],
    ['a string', 'hello'],
    ['an object with neither discriminator', { payload: {} }],
    ['both discriminators', { action: 'a', event_type: 'b' }],
    ['an empty action', { action: '' }],
    ['a numeric event_type', { event_type: 7 }],
  ])('refuses %s with INGEST_UNRECOGNIZED_WEBHOOK', (_what, body) => {
    expect(() => classifyWebhook(body)).toThrowError(expect.objectContaining({ code: 'INGEST_UNRECOGNIZED_WEBHOOK', status: 422 }) as IngestError);
  });

  it('falls back to <tenant>|<event_id> for an unknown non-chat webhook', () => {
    const w = classifyWebhook({ action: 'mystery', organization_id: 'o', payload: { x: 1 } });
    expect(kafkaKeyOf(w, 'o', 'abc')).toBe('o|abc');
  });
});

describe('redactBody', () => {
  it('replaces token and secret_key, keeps everything else and the key order', () => {
    const body = { event_type: 'x', token: 'T', license_id: '1', secret_key: 'S', nested: { token: 'kept' } };
    const out = redactBody(body);
    expect(out).toEqual({ event_type: 'x', token: REDACTED, license_id: '1', secret_key: REDACTED, nested: { token: 'kept' } });
    expect(Object.keys(out)).toEqual(Object.keys(body));
    expect(body.token).toBe('T');
  });
  it('adds no fields that were not there', () => {
    expect(redactBody({ action: 'a' })).toEqual({ action: 'a' });
  });
});

describe('event ids', () => {
  const idOf = (body: Record<string, unknown>, tenant?: string | null) => {
    const w = classifyWebhook(body);
    return eventIdOf(w, tenant === undefined ? w.bodyTenant : tenant, redactBody(w.body));
  };

  it('are 64 hex characters and deterministic', () => {
    for (const f of loadFixtures()) {
      const id = idOf(f.body);
      expect(id).toMatch(/^[0-9a-f]{64}$/);
      expect(idOf(structuredClone(f.body))).toBe(id);
    }
  });

  it('differ between all fixtures', () => {
    const ids = loadFixtures().map((f) => idOf(f.body));
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('use the natural key of incoming_event (webhook_id, secret and additional_data do not matter)', () => {
    const body = fixture('v3.6-incoming_event-file');
    const w = classifyWebhook(body);
    expect(dedupKey(w, w.bodyTenant ?? '', body)).toBe(`v3|${ORG}|PJ0MRSHTDG|K600PKZON8|K600PKZON8_4|incoming_event`);
    const other = { ...body, webhook_id: 'another-registration', secret_key: 'rotated', additional_data: {} };
    expect(idOf(other)).toBe(idOf(body));
  });

  it('give two different edits of one event two ids, and a retried edit one', () => {
    const edit = fixture('v3.6-event_updated');
    const payload = edit.payload as { event: { text: string } };
    const edit2 = { ...edit, payload: { ...payload, event: { ...payload.event, text: 'second edit' } } };
    expect(idOf(edit2)).not.toBe(idOf(edit));
    expect(idOf(structuredClone(edit))).toBe(idOf(edit));
  });

  it('use the v2 event_unique_id when present', () => {
    const body = fixture('v2-chat_ended-event_unique_id');
    const w = classifyWebhook(body);
    expect(dedupKey(w, '8762851', body)).toBe('v2|8762851|8dd982355fdae65ded2d44a99f2243e8');
    expect(idOf({ ...body, chat: { id: 'changed' } })).toBe(idOf(body));
  });

  it('fall back to the canonical body hash, ignoring key order and webhook_id', () => {
    const body = fixture('v3.6-agent_updated');
    const reordered = Object.fromEntries(Object.entries(body).reverse());
    expect(idOf(reordered)).toBe(idOf(body));
    expect(idOf({ ...body, webhook_id: 'other' })).toBe(idOf(body));
    expect(idOf({ ...body, payload: { id: 'smith@example.com', name: 'new' } })).not.toBe(idOf(body));
  });

  it('include the tenant', () => {
    const body = fixture('v3.6-no-tenant');
    expect(idOf(body, 'a')).not.toBe(idOf(body, 'b'));
  });

  it('canonical JSON sorts keys at every level', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { f: 1, e: 2 }], c: null } })).toBe('{"a":{"c":null,"d":[3,{"e":2,"f":1}]},"b":1}');
  });
});
