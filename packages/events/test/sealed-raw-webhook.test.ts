import { randomBytes } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseWebhook } from '@livechat-pipeline/livechat';
import { ChatKey, PrivacyError } from '@livechat-pipeline/privacy';
import type { ChatKeyState } from '@livechat-pipeline/privacy';
import { describe, expect, it } from 'vitest';
import { rawWebhookSchema } from '../src/raw-webhook.js';
import type { RawWebhook } from '../src/raw-webhook.js';
import { KEY_SCOPE_MAX, boundedKeyScope, chatEventKeyScope } from '../src/sealed-chat-event.js';
import { openRawBody, rawKeyScope, scopeToOpen, sealRawBody } from '../src/sealed-raw-webhook.js';

// Issue 19, docs/privacy.md sections 1-4: the raw webhook's whole redacted body is one envelope under its key scope.

const fixturesDir = fileURLToPath(new URL('../../livechat/test/fixtures/single/', import.meta.url));
const fixture = (name: string): Record<string, unknown> =>
  JSON.parse(readFileSync(`${fixturesDir}${name}`, 'utf8')) as Record<string, unknown>;
const actionOf = (body: Record<string, unknown>): string => (body['action'] ?? body['event_type']) as string;
const EVENT_ID = 'e'.repeat(64);

/** The scope of a fixture's body, as the ingest would ask for it. */
const scopeOf = (name: string, chatId: string | null = null): string | null => {
  const body = fixture(name);
  return rawKeyScope({ action: actionOf(body), chatId, eventId: EVENT_ID, body });
};

const record = (body: string): RawWebhook => ({
  event_id: EVENT_ID,
  received_at: 1_794_937_653_123_456,
  format: 'v3',
  api_version: '3.6+',
  action: 'incoming_event',
  tenant: 'org-1',
  tenant_source: 'body',
  chat_id: 'PJ0MRSHTDG',
  thread_id: 'K600PKZON8',
  webhook_id: null,
  body,
  content_length: Buffer.byteLength(body),
  user_agent: null,
  remote_address: '127.0.0.1',
});

const CANARY_BODY = JSON.stringify({
  action: 'incoming_event',
  payload: { chat_id: 'PJ0MRSHTDG', event: { type: 'message', text: 'Canary text żółw', author_id: 'c1' } },
});

const type = rawWebhookSchema().type;
const viaAvro = (value: RawWebhook): RawWebhook => type.fromBuffer(type.toBuffer(value)) as RawWebhook;

describe('rawKeyScope', () => {
  it('a chat webhook: its chat id, whatever the action', () => {
    expect(scopeOf('v3.6-incoming_event-file.json', 'PJ0MRSHTDG')).toBe('PJ0MRSHTDG');
    expect(scopeOf('v3.6-unknown_action.json', 'PJ0MRSHTDG')).toBe('PJ0MRSHTDG');
  });

  it('outside a chat: customer:<id>, visitor:<id>, ticket:<id>, else raw:<event_id>', () => {
    expect(scopeOf('v3.3-incoming_customer-last_visit.json')).toBe(
      'customer:c0ffee00-1111-4222-8333-444455556666',
    );
    expect(
      rawKeyScope({
        action: 'incoming_customer',
        chatId: null,
        eventId: EVENT_ID,
        body: { action: 'incoming_customer', payload: { customer: { id: 'cust-7' } } },
      }),
    ).toBe('customer:cust-7');
    expect(scopeOf('v2-visitor_queued.json')).toBe('visitor:S1354547427.0c151b0e1b');
    expect(scopeOf('v2-ticket_created.json')).toBe('ticket:CCWWM');
    expect(scopeOf('v3.6-unknown_action.json')).toBe(`raw:${EVENT_ID}`);
    expect(scopeOf('v2-unknown_event_type.json')).toBe(`raw:${EVENT_ID}`);
    // The id missing, or a body that is not JSON: the record's own scope.
    expect(rawKeyScope({ action: 'incoming_customer', chatId: null, eventId: EVENT_ID, body: {} })).toBe(
      `raw:${EVENT_ID}`,
    );
    expect(rawKeyScope({ action: 'visitor_queued', chatId: null, eventId: EVENT_ID, body: 'not json' })).toBe(
      `raw:${EVENT_ID}`,
    );
    expect(rawKeyScope({ action: null, chatId: null, eventId: EVENT_ID, body: null })).toBe(
      `raw:${EVENT_ID}`,
    );
    // A JSON string body is read like the parsed one.
    const ticket = fixture('v2-ticket_created.json');
    expect(
      rawKeyScope({
        action: 'ticket_created',
        chatId: null,
        eventId: EVENT_ID,
        body: JSON.stringify(ticket),
      }),
    ).toBe('ticket:CCWWM');
  });

  it('configuration and routing webhooks: null (nothing personal, not sealed)', () => {
    for (const name of [
      'v3.6-agent_updated.json',
      'v3.6-group_created.json',
      'v3.5-tag_created.json',
      'v3.4-auto_access_added.json',
      'v3.6-auto_accesses_updated-array-payload.json',
      'v3.6-routing_status_set.json',
      'v3.1-agent_status_changed-spaces.json',
      'v2-canned_response_changed.json',
    ])
      expect(scopeOf(name), name).toBeNull();
  });

  it('an action not known to be configuration is sealed, even with a configuration-like name', () => {
    for (const action of [
      'bot_conversation_started',
      'agent_chat_note_added',
      'group_member_message',
      'tag_',
    ])
      expect(
        rawKeyScope({ action, chatId: null, eventId: EVENT_ID, body: { action, payload: {} } }),
        action,
      ).toBe(`raw:${EVENT_ID}`);
    for (const action of [
      'agent_suspended',
      'bot_deleted',
      'group_updated',
      'tag_deleted',
      'auto_access_deleted',
    ])
      expect(
        rawKeyScope({ action, chatId: null, eventId: EVENT_ID, body: { action, payload: {} } }),
        action,
      ).toBeNull();
  });

  it('agrees with chatEventKeyScope: a record without a chat and its personal events share one key', () => {
    let compared = 0;
    for (const name of readdirSync(fixturesDir).filter((n) => n.endsWith('.json'))) {
      const body = fixture(name);
      const events = parseWebhook(body, {
        rawEventId: EVENT_ID,
        receivedAtMicros: 1_800_000_000_000_000,
        tenantHint: 'tenant-hint',
      });
      const raw = rawKeyScope({ action: actionOf(body), chatId: null, eventId: EVENT_ID, body });
      for (const event of events.filter((e) => e.chat_id === null)) {
        const scope = chatEventKeyScope(event);
        if (scope === null) continue;
        expect(scope, `${name} ${event.type}`).toBe(raw);
        compared += 1;
      }
      // Nothing personal in a null-scoped webhook's events.
      if (raw === null) expect(events.map(chatEventKeyScope), name).toEqual(events.map(() => null));
    }
    expect(compared).toBeGreaterThanOrEqual(3);
  });
});

describe('rawKeyScope reads ids as the parser does (the record and its events share one scope)', () => {
  /** Both scopes of a body without a chat id: the record's and those of its personal events. */
  const scopes = (body: Record<string, unknown>) => ({
    raw: rawKeyScope({ action: actionOf(body), chatId: null, eventId: EVENT_ID, body }),
    events: parseWebhook(body, {
      rawEventId: EVENT_ID,
      receivedAtMicros: 1_800_000_000_000_000,
      tenantHint: 'tenant-hint',
    })
      .filter((e) => e.chat_id === null)
      .map(chatEventKeyScope)
      .filter((scope) => scope !== null),
  });
  const customer = fixture('v3.3-incoming_customer-last_visit.json') as { payload: Record<string, unknown> };

  it.each([
    [
      'a numeric customer id',
      { ...customer, payload: { ...customer.payload, id: 12345 } },
      `raw:${EVENT_ID}`,
    ],
    [
      'a customer object without an id (the payload has one)',
      { ...customer, payload: { id: 'outer-id', customer: { name: 'Canary' } } },
      `raw:${EVENT_ID}`,
    ],
    [
      'a customer object with its id',
      { ...customer, payload: { id: 'outer-id', customer: { id: 'inner-id', name: 'Canary' } } },
      'customer:inner-id',
    ],
    [
      'a numeric visitor id',
      { ...fixture('v2-visitor_queued.json'), visitor: { id: 4242, name: 'Canary' } },
      `raw:${EVENT_ID}`,
    ],
    [
      'a numeric ticket id',
      {
        ...fixture('v2-ticket_created.json'),
        ticket: { ...(fixture('v2-ticket_created.json')['ticket'] as object), id: 77 },
      },
      'ticket:77',
    ],
  ])('%s', (_, body, expected) => {
    const { raw, events } = scopes(body as Record<string, unknown>);
    expect(raw).toBe(expected);
    expect(events.length).toBeGreaterThan(0);
    for (const scope of events) expect(scope).toBe(raw);
  });
});

describe('key scopes stay within what the vault stores (KEY_SCOPE_MAX)', () => {
  /** A fixture with one of its ids replaced, everywhere, by `id`. */
  const withId = (name: string, from: string, id: string): Record<string, unknown> =>
    JSON.parse(readFileSync(`${fixturesDir}${name}`, 'utf8').replaceAll(from, id)) as Record<string, unknown>;
  const cases = [
    ['v3.3-incoming_customer-last_visit.json', 'c0ffee00-1111-4222-8333-444455556666', 'customer'],
    ['v2-visitor_queued.json', 'S1354547427.0c151b0e1b', 'visitor'],
    ['v2-ticket_created.json', 'CCWWM', 'ticket'],
  ] as const;

  it('a 300-character customer, visitor or ticket id: raw:<event id> in both scope functions', () => {
    for (const [name, from, prefix] of cases) {
      const body = withId(name, from, 'x'.repeat(300));
      const raw = rawKeyScope({ action: actionOf(body), chatId: null, eventId: EVENT_ID, body });
      expect(raw, name).toBe(`raw:${EVENT_ID}`);
      const events = parseWebhook(body, {
        rawEventId: EVENT_ID,
        receivedAtMicros: 1_800_000_000_000_000,
        tenantHint: 'tenant-hint',
      });
      const scopes = events.map(chatEventKeyScope).filter((scope) => scope !== null);
      expect(scopes.length, name).toBeGreaterThan(0);
      for (const scope of scopes) expect(scope, name).toBe(raw);
      // At the limit the id's own scope is kept.
      const fits = 'y'.repeat(KEY_SCOPE_MAX - prefix.length - 1);
      const atLimit = withId(name, from, fits);
      expect(rawKeyScope({ action: actionOf(atLimit), chatId: null, eventId: EVENT_ID, body: atLimit })).toBe(
        `${prefix}:${fits}`,
      );
    }
  });

  it('a chat id over the limit: raw:<event id> too, for the record and its events', () => {
    const long = 'C'.repeat(KEY_SCOPE_MAX + 1);
    expect(rawKeyScope({ action: 'incoming_event', chatId: long, eventId: EVENT_ID, body: {} })).toBe(
      `raw:${EVENT_ID}`,
    );
    const body = fixture('v3.6-incoming_event-file.json');
    for (const event of parseWebhook(body, {
      rawEventId: EVENT_ID,
      receivedAtMicros: 1_800_000_000_000_000,
      tenantHint: 'tenant-hint',
    })) {
      if (chatEventKeyScope(event) === null) continue;
      expect(chatEventKeyScope({ ...event, chat_id: long })).toBe(`raw:${EVENT_ID}`);
      expect(chatEventKeyScope({ ...event, chat_id: 'C'.repeat(KEY_SCOPE_MAX) })).toBe(
        'C'.repeat(KEY_SCOPE_MAX),
      );
    }
    expect(boundedKeyScope('s'.repeat(KEY_SCOPE_MAX), EVENT_ID)).toBe('s'.repeat(KEY_SCOPE_MAX));
  });
});

describe('sealRawBody / openRawBody', () => {
  const scope = 'PJ0MRSHTDG';
  const key = new ChatKey('org-1', scope, 2, randomBytes(32));

  it("given the batch's key map or a lookup, opens with the state of the record's own sealed.key_scope", () => {
    const sealed = viaAvro(sealRawBody(record(CANARY_BODY), scope, key));
    const keys = new Map<string, ChatKeyState>([[scope, { state: 'active', key }]]);
    expect(openRawBody(sealed, keys)).toEqual({ body: CANARY_BODY });
    expect(openRawBody(sealed, (s) => keys.get(s))).toEqual({ body: CANARY_BODY });
    expect(() => openRawBody(sealed, new Map([['other', { state: 'active' as const, key }]]))).toThrow(
      expect.objectContaining({ code: 'PRIVACY_KEY_UNAVAILABLE' }),
    );
    expect(
      openRawBody(sealed, new Map([[scope, { state: 'erased' as const, erasedAt: new Date() }]])),
    ).toEqual({
      erased: true,
    });
  });

  it('seals the body ("" in clear), encodes through Avro, and opens back to the same body', () => {
    const plain = record(CANARY_BODY);
    const sealed = sealRawBody(plain, scope, key);
    expect(plain.body).toBe(CANARY_BODY);
    expect(sealed).toMatchObject({ ...plain, body: '', sealed: { key_scope: scope, key_version: 2 } });
    const read = viaAvro(sealed);
    expect(Buffer.isBuffer(read.sealed?.envelope)).toBe(true);
    expect(type.toBuffer(read).toString('latin1')).not.toMatch(/Canary/);
    expect(openRawBody(read, { state: 'active', key })).toEqual({ body: CANARY_BODY });
  });

  it('erased scope: body "" and envelope null; opens as erased without a key', () => {
    const erased = viaAvro(sealRawBody(record(CANARY_BODY), scope, 'erased'));
    expect(erased.body).toBe('');
    expect(erased.sealed).toEqual({ key_scope: scope, key_version: 0, envelope: null });
    expect(openRawBody(erased, undefined)).toEqual({ erased: true });
    const sealed = viaAvro(sealRawBody(record(CANARY_BODY), scope, key));
    expect(openRawBody(sealed, { state: 'erased', erasedAt: new Date() })).toEqual({ erased: true });
  });

  it('a plain record (written before sealing) opens as its body', () => {
    const plain = viaAvro(record(CANARY_BODY));
    expect(plain.sealed).toBeNull();
    expect(openRawBody(plain, undefined)).toEqual({ body: CANARY_BODY });
  });

  it('a tampered envelope throws PRIVACY_CIPHERTEXT_INVALID; an envelope without key state PRIVACY_KEY_UNAVAILABLE', () => {
    const sealed = viaAvro(sealRawBody(record(CANARY_BODY), scope, key));
    const flipped = Buffer.from(sealed.sealed!.envelope!);
    flipped[20]! ^= 0x80;
    const tampered = { ...sealed, sealed: { ...sealed.sealed!, envelope: flipped } };
    expect(() => openRawBody(tampered, { state: 'active', key })).toThrow(
      expect.objectContaining({ code: 'PRIVACY_CIPHERTEXT_INVALID', retryable: false }),
    );
    for (const state of [undefined, { state: 'absent' as const }]) {
      let thrown: unknown;
      try {
        openRawBody(sealed, state);
      } catch (err) {
        thrown = err;
      }
      expect(thrown).toBeInstanceOf(PrivacyError);
      expect(thrown).toMatchObject({ code: 'PRIVACY_KEY_UNAVAILABLE', retryable: true });
    }
  });

  it('sealing a sealed record again keeps its envelope', () => {
    const sealed = sealRawBody(record(CANARY_BODY), scope, key);
    const again = sealRawBody(sealed, scope, new ChatKey('org-1', scope, 2, randomBytes(32)));
    expect(again).toBe(sealed);
    expect(sealRawBody(sealed, scope, 'erased')).toBe(sealed);
    expect(openRawBody(again, { state: 'active', key })).toEqual({ body: CANARY_BODY });
  });

  it('scopeToOpen: the scope of a record holding an envelope; null for plain and erased records', () => {
    expect(scopeToOpen(sealRawBody(record(CANARY_BODY), scope, key))).toBe(scope);
    expect(scopeToOpen(sealRawBody(record(CANARY_BODY), scope, 'erased'))).toBeNull();
    expect(scopeToOpen(record(CANARY_BODY))).toBeNull();
    expect(scopeToOpen(viaAvro(record(CANARY_BODY)))).toBeNull();
  });

  it('refuses a key of another scope', () => {
    const other = new ChatKey('org-1', 'OTHERCHAT', 1, randomBytes(32));
    expect(() => sealRawBody(record(CANARY_BODY), scope, other)).toThrow(
      expect.objectContaining({ code: 'PRIVACY_INVALID_ARGUMENT' }),
    );
    const sealed = sealRawBody(record(CANARY_BODY), scope, key);
    expect(() => openRawBody(sealed, { state: 'active', key: other })).toThrow(
      expect.objectContaining({ code: 'PRIVACY_INVALID_ARGUMENT' }),
    );
  });
});
