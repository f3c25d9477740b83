import { describe, expect, it } from 'vitest';
import {
  CHAT_EVENT_TYPES,
  LIVECHAT_PARSE_ERROR_CODES,
  LiveChatParseError,
  bodyOf,
  detectFormat,
  parseWebhook,
  webhookDiscriminator,
  webhookTenant,
} from '../src/index.js';
import { CONTEXT, RECEIVED_AT, parseFixture, singleFixture, singleFixtureNames } from './load-fixtures.js';

function parseError(body: unknown, context = CONTEXT): LiveChatParseError {
  try {
    parseWebhook(body, context);
  } catch (error) {
    if (error instanceof LiveChatParseError) return error;
    throw error;
  }
  throw new Error('expected a LiveChatParseError');
}

describe('parseWebhook errors', () => {
  it.each([null, undefined, 'a string', 42, [], [{ action: 'incoming_event' }]])(
    'rejects a body that is not an object (%j) with LIVECHAT_NOT_AN_OBJECT',
    (body) => {
      const error = parseError(body);
      expect(error.code).toBe('LIVECHAT_NOT_AN_OBJECT');
      expect(error.retryable).toBe(false);
    },
  );

  it.each([{}, { payload: {} }, { action: 42 }, { action: '' }, { event_type: null }])(
    'rejects an object without a string discriminator (%j) with LIVECHAT_DISCRIMINATOR_MISSING',
    (body) => {
      expect(parseError(body).code).toBe('LIVECHAT_DISCRIMINATOR_MISSING');
    },
  );

  it('rejects a body naming no tenant when the context gives no hint', () => {
    const error = parseError({ action: 'incoming_event', payload: {} });
    expect(error.code).toBe('LIVECHAT_TENANT_UNKNOWN');
    expect(error.details).toEqual({ discriminator: 'incoming_event' });
  });

  it('uses the tenant hint when the body names no tenant (v3.1 bodies)', () => {
    const events = parseFixture('v3.1-thread_closed.json', { tenantHint: 'license-from-registration' });
    expect(events.map((event) => event.tenant)).toEqual(['license-from-registration']);
  });

  it('lists every error code it can throw', () => {
    expect(LIVECHAT_PARSE_ERROR_CODES).toEqual([
      'LIVECHAT_NOT_AN_OBJECT',
      'LIVECHAT_DISCRIMINATOR_MISSING',
      'LIVECHAT_DISCRIMINATOR_AMBIGUOUS',
      'LIVECHAT_TENANT_UNKNOWN',
      'LIVECHAT_TOO_MANY_EVENTS',
      'LIVECHAT_TOO_MANY_THREADS',
      'LIVECHAT_TOO_MANY_USERS',
      'LIVECHAT_TOO_DEEP',
      'LIVECHAT_ARCHIVE_NOT_A_THREAD',
    ]);
  });
});

describe('discriminators named like Object.prototype members', () => {
  it.each(['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf'])(
    '%s is an unknown action / event type (one unrecognised_webhook), not a lookup on Object.prototype',
    (name) => {
      const v3 = parseWebhook({ action: name, organization_id: 'org-1', payload: { chat_id: 'C' } }, CONTEXT);
      expect(v3.map((event) => [event.type, bodyOf(event)])).toEqual([
        ['unrecognised_webhook', { discriminator: name, payload_json: '{"chat_id":"C"}' }],
      ]);
      const v2 = parseWebhook({ event_type: name, license_id: '1', chat: { id: 'C' } }, CONTEXT);
      expect(v2.map((event) => [event.type, bodyOf(event)])).toEqual([
        ['unrecognised_webhook', { discriminator: name, payload_json: '{"chat":{"id":"C"}}' }],
      ]);
    },
  );
});

describe('format helpers', () => {
  it('detects the format from the discriminator, and none when the body has both', () => {
    expect(detectFormat({ action: 'incoming_chat' })).toBe('v3');
    expect(detectFormat({ event_type: 'chat_started' })).toBe('v2');
    expect(detectFormat({ action: 'x', event_type: 'y' })).toBeNull();
    expect(detectFormat({})).toBeNull();
    expect(detectFormat('chat_started')).toBeNull();
    expect(webhookDiscriminator({ event_type: 'chat_started' })).toBe('chat_started');
    expect(webhookDiscriminator([])).toBeNull();
  });

  it('reads the tenant from organization_id, a numeric v3.2/3.3 license_id, or a v2 license_id string', () => {
    expect(webhookTenant(singleFixture('v3.6-thread_untagged.json'))).toBe(
      'f9c7cc55-b35a-4e76-b0d5-ae9fce362314',
    );
    expect(webhookTenant(singleFixture('v3.2-incoming_event-license_id-recipients.json'))).toBe('21377312');
    expect(webhookTenant(singleFixture('v2-visitor_queued.json'))).toBe('1025707');
    expect(webhookTenant(singleFixture('v3.1-thread_closed.json'))).toBeNull();
  });
});

describe('every fixture', () => {
  const names = singleFixtureNames();

  it('has fixtures for both formats', () => {
    expect(names.length).toBeGreaterThanOrEqual(40);
  });

  it.each(names)('%s: parses to events with a complete envelope', (name) => {
    const events = parseFixture(name, { tenantHint: 'hint-tenant' });
    expect(events.length).toBeGreaterThan(0);
    const format = detectFormat(singleFixture(name));
    for (const event of events) {
      expect(event.event_id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(event.raw_event_id).toBe('raw-fixture-1');
      expect(event.received_at).toBe(RECEIVED_AT);
      expect(event.source_format).toBe(format);
      expect(event.api_version).toBe(format === 'v2' ? '2' : null);
      expect(CHAT_EVENT_TYPES).toContain(event.type);
      expect(Object.keys(event.body)).toEqual([event.type]);
      expect(bodyOf(event)).toBeDefined();
      if (event.occurred_at !== null) expect(Number.isSafeInteger(event.occurred_at)).toBe(true);
    }
    // Distinct facts within one body never share an id.
    expect(new Set(events.map((event) => event.event_id)).size).toBe(events.length);
  });

  // routing_status_set has no id and no time: its receipt time is part of its id (a repeated status is a new fact).
  const idHasReceiptTime = (name: string) => /routing_status_set|agent_status_changed/.test(name);
  it.each(names)('%s: is deterministic (same body twice, another delivery → same ids and facts)', (name) => {
    const first = parseFixture(name, { tenantHint: 'hint-tenant' });
    const again = parseFixture(name, {
      tenantHint: 'hint-tenant',
      rawEventId: 'raw-2',
      ...(idHasReceiptTime(name) ? {} : { receivedAtMicros: 1 }),
    });
    expect(again.map((event) => event.event_id)).toEqual(first.map((event) => event.event_id));
    expect(again.map((event) => event.body)).toEqual(first.map((event) => event.body));
  });

  it.each(names)('%s: carries no credential (secret_key, token) into any event', (name) => {
    const text = JSON.stringify(parseFixture(name, { tenantHint: 'hint-tenant' }));
    expect(text).not.toContain('fixture-secret');
    expect(text).not.toContain('fixture-token');
  });

  it('passes the api version the caller knows for v3, and says 2 for v2', () => {
    expect(parseFixture('v3.6-thread_untagged.json', { apiVersion: '3.6' })[0]?.api_version).toBe('3.6');
    expect(parseFixture('v2-visitor_queued.json', { apiVersion: '3.6' })[0]?.api_version).toBe('2');
  });
});
