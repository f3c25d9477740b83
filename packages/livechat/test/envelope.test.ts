import { describe, expect, it } from 'vitest';
import { LiveChatParseError, canonicalJson, parseWebhook, readEnvelope } from '../src/index.js';
import { CONTEXT, singleFixture, singleFixtureNames } from './load-fixtures.js';

function codeOf(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    if (error instanceof LiveChatParseError) return error.code;
    throw error;
  }
  return 'no error';
}

const ORG = 'f9c7cc55-b35a-4e76-b0d5-ae9fce362314';

describe('readEnvelope', () => {
  it.each([
    // fixture → [format, action, tenant, chat, thread, webhook_id, api version hint]
    [
      'v3.6-thread_untagged.json',
      ['v3', 'thread_untagged', ORG, 'PJ0MRSHTDG', 'K600PKZON8', expect.any(String), '3.4+'],
    ],
    [
      'v3.2-incoming_event-license_id-recipients.json',
      ['v3', 'incoming_event', '21377312', 'PS0X0L086G', 'PZ070E0W1B', expect.any(String), '3.2/3.3'],
    ],
    [
      'v3.1-thread_closed.json',
      ['v3', 'thread_closed', null, 'PS0X0L086G', 'PZ070E0W1B', expect.any(String), null],
    ],
    ['v2-visitor_queued.json', ['v2', 'visitor_queued', '1025707', null, null, null, '2']],
  ])('%s', (name, expected) => {
    const e = readEnvelope(singleFixture(name));
    expect([e.format, e.action, e.tenant, e.chatId, e.threadId, e.webhookId, e.apiVersionHint]).toEqual(
      expected,
    );
  });

  it('reads every fixture, with the tenant and format the parser gives its events', () => {
    for (const name of singleFixtureNames()) {
      const envelope = readEnvelope(singleFixture(name));
      for (const event of parseWebhook(singleFixture(name), { ...CONTEXT, tenantHint: 'hint' })) {
        expect(event.tenant, name).toBe(envelope.tenant ?? 'hint');
        expect(event.source_format, name).toBe(envelope.format);
      }
    }
  });

  it('reads organization_id before license_id, in v2 as in v3', () => {
    expect(
      readEnvelope({ event_type: 'chat_started', organization_id: 'org-1', license_id: '7' }).tenant,
    ).toBe('org-1');
    expect(readEnvelope({ action: 'incoming_event', organization_id: 'org-1', license_id: 7 }).tenant).toBe(
      'org-1',
    );
    expect(readEnvelope({ action: 'incoming_event', organization_id: '', license_id: 7 }).tenant).toBe('7');
  });

  it('reads the chat where each action keeps it, numbers as their text', () => {
    expect(
      readEnvelope({ action: 'incoming_chat', payload: { chat: { id: 'C', thread: { id: 'T' } } } }),
    ).toMatchObject({ chatId: 'C', threadId: 'T' });
    expect(readEnvelope({ action: 'chat_access_updated', payload: { id: 'C' } }).chatId).toBe('C');
    expect(
      readEnvelope({
        action: 'customer_session_fields_updated',
        payload: { id: 'cust', active_chat: { chat_id: 'C', thread_id: 'T' } },
      }),
    ).toMatchObject({ chatId: 'C', threadId: 'T' });
    expect(readEnvelope({ action: 'incoming_event', payload: { chat_id: 12, thread_id: 'T' } }).chatId).toBe(
      '12',
    );
    expect(readEnvelope({ event_type: 'chat_started', chat: { id: 'C' } }).chatId).toBe('C');
  });

  it.each([
    [
      'both discriminators',
      { action: 'incoming_event', event_type: 'chat_started' },
      'LIVECHAT_DISCRIMINATOR_AMBIGUOUS',
    ],
    [
      'both, the action empty',
      { action: '', event_type: 'chat_started' },
      'LIVECHAT_DISCRIMINATOR_AMBIGUOUS',
    ],
    [
      'both, the event_type null',
      { action: 'incoming_event', event_type: null },
      'LIVECHAT_DISCRIMINATOR_AMBIGUOUS',
    ],
    ['neither', { payload: {} }, 'LIVECHAT_DISCRIMINATOR_MISSING'],
    ['an empty action', { action: '' }, 'LIVECHAT_DISCRIMINATOR_MISSING'],
    ['a numeric event_type', { event_type: 7 }, 'LIVECHAT_DISCRIMINATOR_MISSING'],
    ['an array', [{ action: 'incoming_event' }], 'LIVECHAT_NOT_AN_OBJECT'],
  ])('refuses %s, and so does the parser', (_what, body, code) => {
    expect(codeOf(() => readEnvelope(body))).toBe(code);
    expect(codeOf(() => parseWebhook(body, { ...CONTEXT, tenantHint: 't' }))).toBe(code);
  });
});

describe('canonicalJson', () => {
  it('sorts keys at every level, without whitespace', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { f: 1, e: 2 }], c: null } })).toBe(
      '{"a":{"c":null,"d":[3,{"e":2,"f":1}]},"b":1}',
    );
  });

  it('sorts integer-like keys as text too (an object copy would put them first, in numeric order)', () => {
    expect(canonicalJson({ b: 1, 10: 2, 9: 3 })).toBe('{"10":2,"9":3,"b":1}');
  });

  it('keeps an own __proto__ key, so two bodies that differ only there do not collide', () => {
    const a = JSON.parse('{"x":1,"__proto__":{"y":1}}') as unknown;
    const b = JSON.parse('{"x":1,"__proto__":{"y":2}}') as unknown;
    expect(canonicalJson(a)).toBe('{"__proto__":{"y":1},"x":1}');
    expect(canonicalJson(a)).not.toBe(canonicalJson(b));
  });

  it('leaves out undefined properties and writes undefined array items as null, as JSON.stringify does', () => {
    expect(canonicalJson({ a: undefined, b: [undefined, 1] })).toBe('{"b":[null,1]}');
    expect(canonicalJson(undefined)).toBe('null');
  });
});
