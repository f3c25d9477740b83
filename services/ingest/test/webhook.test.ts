import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  LiveChatParseError,
  canonicalJson,
  parseWebhook,
  readEnvelope,
  webhookTenant,
} from '@livechat-pipeline/livechat';
import { eventIdOf, dedupKey } from '../src/event-id.js';
import { IngestError } from '../src/errors.js';
import { kafkaKeyOf } from '../src/kafka-key.js';
import { REDACTED, redactBody } from '../src/redact.js';
import { classifyWebhook } from '../src/webhook.js';
import { fixture, loadFixtures } from './support/fixtures.js';

const ORG = 'f9c7cc55-b35a-4e76-b0d5-ae9fce362314';

/** fixture → [format, action, tenant, chat_id, thread_id, kafka key, api_version] */
const expected: Record<
  string,
  [string, string, string | null, string | null, string | null, string, string | null]
> = {
  'v2-canned_response_changed': [
    'v2',
    'canned_response_changed',
    '1025707',
    null,
    null,
    '1025707|canned_response:1',
    '2',
  ],
  'v2-chat_changed': ['v2', 'chat_changed', '1025707', 'MH022RD0K5', null, '1025707|MH022RD0K5', '2'],
  'v2-chat_ended-event_unique_id': [
    'v2',
    'chat_ended',
    '8762851',
    'OQ422UEDW5',
    null,
    '8762851|OQ422UEDW5',
    '2',
  ],
  'v2-chat_ended-supervisor-whisper': [
    'v2',
    'chat_ended',
    '1025707',
    'MH022RD0K5',
    null,
    '1025707|MH022RD0K5',
    '2',
  ],
  'v2-chat_started-no-survey': [
    'v2',
    'chat_started',
    '1025707',
    'MH022RD0K5',
    null,
    '1025707|MH022RD0K5',
    '2',
  ],
  'v2-ticket_created': ['v2', 'ticket_created', '1025707', null, null, '1025707|ticket:CCWWM', '2'],
  'v2-visitor_queued': [
    'v2',
    'visitor_queued',
    '1025707',
    null,
    null,
    '1025707|visitor:S1354547427.0c151b0e1b',
    '2',
  ],
  'v3.2-incoming_chat-license_id': [
    'v3',
    'incoming_chat',
    '21377312',
    'PS0X0L086G',
    'PZ070E0W1B',
    '21377312|PS0X0L086G',
    '3.2/3.3',
  ],
  'v3.2-incoming_event-license_id-recipients': [
    'v3',
    'incoming_event',
    '21377312',
    'PS0X0L086G',
    'PZ070E0W1B',
    '21377312|PS0X0L086G',
    '3.2/3.3',
  ],
  'v3.6-agent_updated': ['v3', 'agent_updated', ORG, null, null, `${ORG}|agent:smith@example.com`, '3.6+'],
  'v3.6-auto_accesses_updated-array-payload': [
    'v3',
    'auto_accesses_updated',
    ORG,
    null,
    null,
    `${ORG}|auto_accesses`,
    '3.5+',
  ],
  'v3.6-bot_created': [
    'v3',
    'bot_created',
    ORG,
    null,
    null,
    `${ORG}|bot:5c9871d5372c824cbf22d860a707a578`,
    '3.4+',
  ],
  'v3.6-chat_access_updated': [
    'v3',
    'chat_access_updated',
    ORG,
    'PJ0MRSHTDG',
    null,
    `${ORG}|PJ0MRSHTDG`,
    '3.4+',
  ],
  'v3.6-chat_deactivated': [
    'v3',
    'chat_deactivated',
    ORG,
    'PJ0MRSHTDG',
    'K600PKZON8',
    `${ORG}|PJ0MRSHTDG`,
    '3.4+',
  ],
  'v3.6-customer_session_fields_updated': [
    'v3',
    'customer_session_fields_updated',
    ORG,
    'PJ0MRSHTDG',
    'K600PKZON8',
    `${ORG}|PJ0MRSHTDG`,
    '3.4+',
  ],
  'v3.6-event_deleted': ['v3', 'event_deleted', ORG, 'PJ0MRSHTDG', 'K600PKZON8', `${ORG}|PJ0MRSHTDG`, '3.6+'],
  'v3.6-group_created': ['v3', 'group_created', ORG, null, null, `${ORG}|group:19`, '3.6+'],
  'v3.6-incoming_chat': ['v3', 'incoming_chat', ORG, 'PJ0MRSHTDG', 'K600PKZON8', `${ORG}|PJ0MRSHTDG`, '3.4+'],
  'v3.6-no-tenant': ['v3', 'incoming_event', null, 'Q1', 'T1', '|Q1', null],
  'v3.6-routing_status_set': [
    'v3',
    'routing_status_set',
    ORG,
    null,
    null,
    `${ORG}|agent:smith@example.com`,
    '3.4+',
  ],
  'v3.6-tag_created': ['v3', 'tag_created', ORG, null, null, `${ORG}|tag:vip`, '3.6+'],
  'v3.6-thread_summary_set': [
    'v3',
    'thread_summary_set',
    ORG,
    'PJ0MRSHTDG',
    'K600PKZON8',
    `${ORG}|PJ0MRSHTDG`,
    '3.6+',
  ],
  'v3.6-unknown_future_action': [
    'v3',
    'brand_new_action_2027',
    ORG,
    'PJ0MRSHTDG',
    null,
    `${ORG}|PJ0MRSHTDG`,
    '3.4+',
  ],
};

describe('classifyWebhook + kafkaKeyOf', () => {
  it.each(Object.entries(expected))(
    '%s',
    (name, [format, action, tenant, chatId, threadId, key, apiVersion]) => {
      const w = classifyWebhook(fixture(name));
      expect([w.format, w.action, w.bodyTenant, w.chatId, w.threadId, w.apiVersion]).toEqual([
        format,
        action,
        tenant,
        chatId,
        threadId,
        apiVersion,
      ]);
      expect(kafkaKeyOf(w, w.bodyTenant, 'EVENT')).toBe(key);
    },
  );

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
    expect(() => classifyWebhook(body)).toThrowError(
      expect.objectContaining({ code: 'INGEST_UNRECOGNIZED_WEBHOOK', status: 422 }) as IngestError,
    );
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
    expect(out).toEqual({
      event_type: 'x',
      token: REDACTED,
      license_id: '1',
      secret_key: REDACTED,
      nested: { token: 'kept' },
    });
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
    expect(dedupKey(w, w.bodyTenant ?? '', body)).toBe(
      `v3|${ORG}|PJ0MRSHTDG|K600PKZON8|K600PKZON8_4|incoming_event`,
    );
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
    expect(canonicalJson({ b: 1, a: { d: [3, { f: 1, e: 2 }], c: null } })).toBe(
      '{"a":{"c":null,"d":[3,{"e":2,"f":1}]},"b":1}',
    );
  });
});

/** event_id of every fixture (tenant: the body's, else 'path-label'), computed before the separator escaping. */
const PINNED_IDS: Record<string, string> = {
  'v2-canned_response_changed.json': '9c7b3df261ceceaf519a75ce59ec23cc3c0c6e00327a4706a24f0cbd26da5436',
  'v2-chat_changed.json': '893f4b81a07e66b8ba41760b2ca52733b8fbdac4867aa5eae24494cddfe5edfe',
  'v2-chat_ended-event_unique_id.json': 'ecd3476828aadab0bc9975200dccd16c84f1e1110195ad5753f729cd4a52317a',
  'v2-chat_ended-supervisor-whisper.json': '8248877bc181d568cd7b2acd52e795e4c216ede33e3004551c2f756c2f4b808c',
  'v2-chat_started-no-survey.json': '12ed167cba707dc305e56147a46a76a604365223eb42897d9b82cd6051d5f762',
  'v2-ticket_created.json': '564ccf0b757326102b8a37c0c25311cb4ff6580f9c21771a43b2ed0d33b54943',
  'v2-visitor_queued.json': '4e16aebad6a69f3cbc5c626ca26f32b827f1826343f8456c4dfdc980c06afd44',
  'v3.2-incoming_chat-license_id.json': 'de6424dae8467ce1ff9365494e7cb3fa9c720cc1c7f10cceeafad6037cec54b4',
  'v3.2-incoming_event-license_id-recipients.json':
    '563f730b2e023b0796d3c6f0feca2a37e8ebfce297a61bf52b22653751ee8e36',
  'v3.6-agent_updated.json': '2ad81542c6eb1bc77219f58371621db51b59c99fbe1535163b2f18144e10ba33',
  'v3.6-auto_accesses_updated-array-payload.json':
    'afb31b3b0b36fe3f2d46869d9ff742de34b003f41d4a1abd70cffc73bb371990',
  'v3.6-bot_created.json': '90d8e82e07baa1c041af71232d974e2a6239ddd89af9a315abe350f10cb0d2a5',
  'v3.6-chat_access_updated.json': '85a43bdab45da441e8b802c9a62123bba0c9bf6a9babea0a9dfe4cb29de964f6',
  'v3.6-chat_deactivated-by-router.json': '6a326d3f9f9aa9fef22632799ec3ec351e6e7357d2fb71bbadefb0f58e09ec10',
  'v3.6-chat_deactivated.json': 'f2116e56b4189f545e0b987c274ac62e5383872c8dd73f17be79ee844f77c5cd',
  'v3.6-chat_properties_updated.json': 'e001c24510059f88b8928c58d4557f12eeb94c48e5c8ae098a9bfda338c79d4c',
  'v3.6-chat_transferred.json': '6c894802b0c3a6e1c667a41701fea6e18164b2568ce0f8bf19fe031ec270fab5',
  'v3.6-customer_session_fields_updated.json':
    '0150e620d707a65f74737ff7eefcdd193f1db00e70b1ecb22174b9e31df1d4dd',
  'v3.6-event_deleted.json': '2d49a95bce4ceeecc921eeb81607180671965440be7bf039db53995770e98b42',
  'v3.6-event_properties_updated.json': 'f0d5cbbaf4a62d1459a26cbfa48998c4049f08df6a2d3d8c7a151d8740e8cc61',
  'v3.6-event_updated.json': '6f6ccbf463d144a4557b0f12dd51058320adced1c688796bdae7bd6c797ae48d',
  'v3.6-events_marked_as_seen.json': 'f4f6306bdf6cda2481e7c47c2f66635203d2473c4ba5961a4c82e1152effed4e',
  'v3.6-group_created.json': 'c617871955861e6873aad4061eac312c8421782c73f2ca5cd6e38534e5b27b08',
  'v3.6-incoming_chat.json': '05a2a83bdceb01d5c925f527937dde8b3cbd6edb73649487b85b5c07e39db4d7',
  'v3.6-incoming_event-file.json': 'b6ad370fec0a06d9712b4324170b73e579161ddf47725b0b0c4969eca1dcb002',
  'v3.6-incoming_event-system_rating.json':
    '9ebb21631c142d4c93598ed611c19f20a0d8a670bb69ced8af7b044fe0a0c543',
  'v3.6-incoming_rich_message_postback.json':
    '21439e23c91a5b36caf1aed2159797a931c132ffc69f95e7b37ab3e75dcc8897',
  'v3.6-no-tenant.json': '1191fb109482ced6b468d2d383f9c16128bdf39d7e72dc5f4c92edb936940413',
  'v3.6-routing_status_set.json': '1dd2a45d19f78edf69286066a258ecceed98df8fb66b20c9c5b7d03916d6095e',
  'v3.6-tag_created.json': '9f1191a6d6dd3cbe602ee145621bd08c0985c968c6557ca9a6a413109594156a',
  'v3.6-thread_summary_set.json': 'd3aa97d2ed810bc7cad00ddd46f3d8e1045e155a96917bd3f6ac064c6ad11170',
  'v3.6-thread_tagged.json': '8fdf7b43b642414547035a963c374484261cd37684bef29f3cea5a92c7783867',
  'v3.6-thread_untagged.json': 'c082b1bc1eca0c3d04cc177a0691c00150ed753f67d226fef1b2d9058869a651',
  'v3.6-unknown_future_action.json': 'be454205e25c5a1eeda4cbbdd2ec2ddea508040808f972e5dedca5b0d8f23fe6',
};

describe('dedup keys with the separator inside a part', () => {
  const idOf = (body: Record<string, unknown>) => {
    const w = classifyWebhook(body);
    return eventIdOf(w, w.bodyTenant ?? 'path-label', redactBody(w.body));
  };

  it('leave the event ids of existing records unchanged', () => {
    const fixtures = loadFixtures();
    expect(fixtures.length).toBe(Object.keys(PINNED_IDS).length);
    for (const f of fixtures) expect(idOf(f.body), f.name).toBe(PINNED_IDS[f.name]);
  });

  it('no longer let two different deliveries share a key', () => {
    const tagged = (chatId: string, threadId: string) => ({
      action: 'thread_tagged',
      organization_id: 'org-1',
      payload: { chat_id: chatId, thread_id: threadId, tag: 'vip' },
    });
    // Joined with '|' both were v3|org-1|a|b|c|vip|thread_tagged.
    const one = tagged('a|b', 'c');
    const two = tagged('a', 'b|c');
    expect(idOf(one)).not.toBe(idOf(two));
    const w = classifyWebhook(one);
    expect(dedupKey(w, 'org-1', one)).toBe('json|["v3","org-1","a|b","c","vip","thread_tagged"]');
    // Still deterministic for redeliveries.
    expect(idOf(structuredClone(one))).toBe(idOf(one));
  });
});

describe('tenant ids from the body', () => {
  const codeOf = (body: Record<string, unknown>) => {
    try {
      classifyWebhook(body);
      return undefined;
    } catch (err) {
      return (err as IngestError).code;
    }
  };
  const v3 = (extra: Record<string, unknown>) => ({ action: 'incoming_event', payload: {}, ...extra });
  const v2 = (extra: Record<string, unknown>) => ({ event_type: 'chat_started', ...extra });

  it('refuse licence ids that are not non-negative safe integers with 422 INGEST_INVALID_TENANT_ID', () => {
    for (const bad of [1e300, 2 ** 53, 1.5, -1, Number.MAX_VALUE, '12a', '99999999999999999', true, {}, []]) {
      expect(codeOf(v3({ license_id: bad })), String(bad)).toBe('INGEST_INVALID_TENANT_ID');
      expect(codeOf(v2({ license_id: bad })), String(bad)).toBe('INGEST_INVALID_TENANT_ID');
    }
    expect(classifyWebhook(v3({ license_id: 2 ** 53 - 1 })).bodyTenant).toBe('9007199254740991');
    expect(classifyWebhook(v2({ license_id: '1025707' })).bodyTenant).toBe('1025707');
    expect(classifyWebhook(v2({ license_id: null })).bodyTenant).toBeNull();
  });

  it('refuse an organization_id that is too long or not [A-Za-z0-9._-]', () => {
    for (const bad of ['x'.repeat(129), 'x'.repeat(4 * 1024 * 1024), 'a|b', 'org 1', 'ø', 42, {}]) {
      expect(codeOf(v3({ organization_id: bad })), String(bad).slice(0, 20)).toBe('INGEST_INVALID_TENANT_ID');
    }
    expect(classifyWebhook(v3({ organization_id: ORG })).bodyTenant).toBe(ORG);
  });

  it('refuse an action or event_type longer than 128 characters', () => {
    expect(codeOf({ action: 'a'.repeat(129), payload: {} })).toBe('INGEST_UNRECOGNIZED_WEBHOOK');
    expect(codeOf({ event_type: 'a'.repeat(129) })).toBe('INGEST_UNRECOGNIZED_WEBHOOK');
  });
});

describe('ids stored beside the body are bounded', () => {
  it('refuses a chat, thread or webhook id over 256 characters with 422 INGEST_ID_TOO_LONG', () => {
    const long = 'c'.repeat(257);
    const cases = [
      { action: 'incoming_event', organization_id: 'o', payload: { chat_id: long } },
      { action: 'incoming_event', organization_id: 'o', payload: { chat_id: 'C', thread_id: long } },
      { action: 'incoming_event', organization_id: 'o', webhook_id: long, payload: {} },
      { event_type: 'chat_started', license_id: 1, chat: { id: long } },
    ];
    for (const body of cases)
      expect(() => classifyWebhook(body), JSON.stringify(body).slice(0, 80)).toThrow(
        expect.objectContaining({ code: 'INGEST_ID_TOO_LONG', status: 422 }),
      );
    expect(
      classifyWebhook({ action: 'incoming_event', payload: { chat_id: 'c'.repeat(256) } }).chatId,
    ).toHaveLength(256);
  });

  it('keys a record by the hash of an entity id over 256 characters, and by the id itself otherwise', () => {
    const agent = (id: string) =>
      classifyWebhook({ action: 'agent_updated', organization_id: 'o', payload: { id } });
    expect(kafkaKeyOf(agent('smith@example.com'), 'o', 'e')).toBe('o|agent:smith@example.com');
    const key = kafkaKeyOf(agent('a'.repeat(600_000)), 'o', 'e');
    expect(key).toMatch(/^o\|agent:sha256:[0-9a-f]{64}$/);
    expect(kafkaKeyOf(agent('a'.repeat(600_000)), 'o', 'e')).toBe(key);
  });
});

describe('the ingest and the parser read one envelope', () => {
  const tenantValue = fc.oneof(
    fc.constant(undefined),
    fc.constant(null),
    fc.constant(''),
    fc.constantFrom('org-1', 'Org.2_x', '1025707', '007', 'a|b', 'ø', 'x'.repeat(129)),
    fc.integer({ min: -5, max: 2 ** 53 + 5 }),
    fc.constantFrom(1.5, 2 ** 53, true, {}, []),
  );
  const chatValue = fc.oneof(
    fc.constant(undefined),
    fc.constant(null),
    fc.constant(''),
    fc.constantFrom('C1', 'C|2'),
    fc.integer(),
  );
  const body = fc
    .record({
      format: fc.constantFrom('v2', 'v3', 'both', 'neither'),
      action: fc.constantFrom(
        'incoming_event',
        'incoming_chat',
        'chat_access_updated',
        'customer_session_fields_updated',
        'chat_started',
        'chat_ended',
        'mystery',
      ),
      organization_id: tenantValue,
      license_id: tenantValue,
      chat: chatValue,
    })
    .map(({ format, action, organization_id, license_id, chat }) => {
      const b: Record<string, unknown> = {};
      if (format === 'v3' || format === 'both') b['action'] = action;
      if (format === 'v2' || format === 'both') b['event_type'] = action;
      if (organization_id !== undefined) b['organization_id'] = organization_id;
      if (license_id !== undefined) b['license_id'] = license_id;
      b['payload'] = { chat_id: chat, id: chat, chat: { id: chat }, active_chat: { chat_id: chat } };
      b['chat'] = { id: chat };
      return b;
    });

  it('accepts a body only when the parser reads it too, with the same format, tenant and chat (fast-check)', () => {
    fc.assert(
      fc.property(body, (b) => {
        let webhook;
        try {
          webhook = classifyWebhook(b);
        } catch (err) {
          if (!(err instanceof IngestError)) throw err;
          if (err.code === 'INGEST_UNRECOGNIZED_WEBHOOK')
            expect(() => readEnvelope(b)).toThrow(LiveChatParseError);
          return;
        }
        const envelope = readEnvelope(b);
        expect([webhook.format, webhook.bodyTenant, webhook.chatId]).toEqual([
          envelope.format,
          envelope.tenant,
          envelope.chatId,
        ]);
        expect(webhookTenant(b)).toBe(webhook.bodyTenant);
        for (const event of parseWebhook(b, { rawEventId: 'r', receivedAtMicros: 1, tenantHint: 'hint' })) {
          expect(event.tenant).toBe(webhook.bodyTenant ?? 'hint');
          expect(event.source_format).toBe(webhook.format);
        }
      }),
      { seed: 20261128, numRuns: 3000 },
    );
  });

  it('keeps a v2 body with a valid organization_id whatever its license_id says (as before)', () => {
    expect(
      classifyWebhook({ event_type: 'chat_started', organization_id: 'org-1', license_id: 1.5 }).bodyTenant,
    ).toBe('org-1');
    expect(() =>
      classifyWebhook({ action: 'incoming_event', organization_id: 'org-1', license_id: 1.5 }),
    ).toThrow(expect.objectContaining({ code: 'INGEST_INVALID_TENANT_ID' }));
  });
});
