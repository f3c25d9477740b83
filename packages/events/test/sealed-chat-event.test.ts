import { randomBytes } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseWebhook } from '@livechat-pipeline/livechat';
import type { ChatDomainEvent } from '@livechat-pipeline/livechat';
import { ChatKey, PrivacyError } from '@livechat-pipeline/privacy';
import type { ChatKeyState, SealSpec } from '@livechat-pipeline/privacy';
import { describe, expect, it } from 'vitest';
import { chatEventSchema } from '../src/chat-event.js';
import { PERSONAL_PATHS, chatEventKeyScope, openChatEvent, sealChatEvent } from '../src/sealed-chat-event.js';
import type { SealableChatEvent, WithSealed } from '../src/sealed-chat-event.js';

// Issue 19, docs/privacy.md section 2: which values of a chat event are sealed, and the seal/open pair.

/** String fields of a message (message_posted, event_edited) that stay clear. */
const CLEAR_MESSAGE = [
  '/message/livechat_event_id',
  '/message/custom_id',
  '/message/kind',
  '/message/author_id',
  '/message/author_kind',
  '/message/visibility',
  '/message/file/content_type',
  '/message/form/form_id',
  '/message/form/form_type',
  '/message/form/fields/*/id',
  '/message/form/fields/*/type',
  '/message/form/fields/*/label',
  '/message/system_message_type',
  '/message/template_id',
];

/** String fields that stay clear, per body branch (JSON Pointers into the branch, `*` for array elements). */
const CLEAR: Readonly<Record<string, readonly string[]>> = {
  thread_started: ['/users/*/id', '/users/*/kind', '/tags/*', '/previous_thread_id'],
  message_posted: CLEAR_MESSAGE,
  event_edited: CLEAR_MESSAGE,
  event_deleted: ['/livechat_event_id'],
  thread_closed: ['/closed_by_user_id', '/closed_by_kind'],
  thread_tagged: ['/tag'],
  thread_untagged: ['/tag'],
  tags_snapshot: ['/tags/*'],
  chat_transferred: ['/requester_id', '/transferred_to_agent_ids/*'],
  chat_access_changed: ['/change'],
  participant_added: ['/user_id', '/user_kind', '/user/id', '/user/kind', '/reason', '/requester_id'],
  participant_removed: ['/user_id', '/user_kind', '/reason', '/requester_id'],
  customer_identified: ['/customer_id'],
  visitor_queued: ['/visitor_id'],
  ticket_created: ['/ticket_id', '/status', '/assignee_id', '/tags/*', '/source_chat_id'],
  // Agents' canned responses and the account's configuration: employees' data (docs/privacy.md section 1).
  canned_response_changed: ['/text', '/tags/*'],
  properties_changed: ['/scope', '/change', '/livechat_event_id'],
  thread_summary_set: ['/status'],
  rich_message_postback: ['/user_id', '/livechat_event_id'],
  configuration_changed: [
    '/entity',
    '/change',
    '/entity_id',
    '/requester_user_id',
    '/requester_client_id',
    '/payload_json',
  ],
  routing_status_set: ['/agent_id', '/status'],
  events_marked_as_seen: ['/user_id'],
  unrecognised_webhook: ['/discriminator'],
};

/** The string fields of the record outside the body: ids, the tenant, formats. */
const CLEAR_ENVELOPE = [
  'event_id',
  'raw_event_id',
  'tenant',
  'chat_id',
  'thread_id',
  'source_format',
  'api_version',
  'type',
];

interface AvroField {
  readonly name: string;
  readonly type: unknown;
}

/**
 * Every string leaf under `type` (`["null","string"]` or `string`, array items as `*`) as JSON Pointers. `named`
 * collects the records met, so that a later reference by name (event_edited's `ChatMessage`) is followed.
 */
function stringLeaves(type: unknown, pointer = '', named = new Map<string, unknown>()): string[] {
  if (type === 'string') return [pointer];
  if (typeof type === 'string') return named.has(type) ? stringLeaves(named.get(type), pointer, named) : [];
  if (Array.isArray(type)) return type.flatMap((branch) => stringLeaves(branch, pointer, named));
  if (typeof type !== 'object' || type === null) return [];
  const t = type as { type: unknown; name?: string; fields?: readonly AvroField[]; items?: unknown };
  if (t.type === 'record') {
    if (t.name !== undefined) named.set(t.name, t);
    return (t.fields ?? []).flatMap((f) => stringLeaves(f.type, `${pointer}/${f.name}`, named));
  }
  if (t.type === 'array') return stringLeaves(t.items, `${pointer}/*`, named);
  return stringLeaves(t.type, pointer, named);
}

/** Body branch name → its string leaves, from a chat-event schema as JSON. */
function branchLeaves(schema: { fields: readonly AvroField[] }): Map<string, string[]> {
  const body = schema.fields.find((f) => f.name === 'body')!.type as readonly { name: string }[];
  const named = new Map<string, unknown>();
  return new Map(body.map((branch) => [branch.name, stringLeaves(branch, '', named)]));
}

/** The leaves neither sealed (a personal path equal to it or above it) nor listed as clear. */
function unclassified(
  leaves: Map<string, string[]>,
  personal: Readonly<Record<string, readonly SealSpec[]>>,
  clear: Readonly<Record<string, readonly string[]>>,
): string[] {
  const missing: string[] = [];
  for (const [type, paths] of leaves) {
    const sealed = (personal[type] ?? []).map((s) => s.path);
    for (const leaf of paths) {
      const isSealed = sealed.some((p) => leaf === p || leaf.startsWith(`${p}/`));
      if (!isSealed && !(clear[type] ?? []).includes(leaf)) missing.push(`${type} ${leaf}`);
    }
  }
  return missing;
}

const schemaJson = () => JSON.parse(chatEventSchema().text) as { fields: AvroField[] };

const fixturesDir = fileURLToPath(new URL('../../livechat/test/fixtures/single/', import.meta.url));

/** Every event the parser makes of packages/livechat's single-webhook fixtures. */
function fixtureEvents(): { fixture: string; event: ChatDomainEvent }[] {
  return readdirSync(fixturesDir)
    .filter((name) => name.endsWith('.json'))
    .sort()
    .flatMap((fixture) =>
      parseWebhook(JSON.parse(readFileSync(`${fixturesDir}${fixture}`, 'utf8')) as unknown, {
        rawEventId: `raw-${fixture}`,
        receivedAtMicros: 1_800_000_000_123_456,
        tenantHint: 'tenant-hint',
      }).map((event) => ({ fixture, event })),
    );
}

const keyFor = (event: SealableChatEvent & { tenant: string }, scope = chatEventKeyScope(event)!) =>
  new ChatKey(event.tenant, scope, 3, randomBytes(32));

const type = chatEventSchema().type;
/** Through Avro and back, as a consumer reads it (the envelope becomes a Buffer read from the bytes). */
const viaAvro = <E>(event: E): E => type.fromBuffer(type.toBuffer(event)) as E;

/** The value at a JSON Pointer (no escapes in these) of `root`. */
const at = (root: unknown, pointer: string): unknown =>
  pointer
    .slice(1)
    .split('/')
    .reduce<unknown>((node, token) => (node as Record<string, unknown>)[token], root);

const branch = (event: SealableChatEvent): Record<string, unknown> =>
  (event.body as Record<string, Record<string, unknown>>)[event.type]!;

function sample(fixture: string, eventType: string, index = 0): ChatDomainEvent {
  const found = fixtureEvents().filter((e) => e.fixture === fixture && e.event.type === eventType);
  if (found[index] === undefined) throw new Error(`no ${eventType} #${index} in ${fixture}`);
  return found[index].event;
}

describe('PERSONAL_PATHS: every string field of the chat-event schema is classified', () => {
  it('every string of every body branch is sealed or listed as clear, and every listed path exists', () => {
    const leaves = branchLeaves(schemaJson());
    expect(unclassified(leaves, PERSONAL_PATHS, CLEAR)).toEqual([]);
    for (const [eventType, specs] of Object.entries(PERSONAL_PATHS)) {
      expect(leaves.has(eventType), eventType).toBe(true);
      for (const spec of specs) {
        const leafOrParent = leaves
          .get(eventType)!
          .some((leaf) => leaf === spec.path || leaf.startsWith(`${spec.path}/`));
        expect(leafOrParent, `${eventType} ${spec.path}`).toBe(true);
      }
    }
    for (const [eventType, paths] of Object.entries(CLEAR))
      for (const path of paths) expect(leaves.get(eventType), eventType).toContain(path);
    const envelope = schemaJson()
      .fields.filter((f) => f.name !== 'body' && f.name !== 'sealed')
      .filter((f) => stringLeaves(f.type).length > 0)
      .map((f) => f.name);
    expect(envelope).toEqual(CLEAR_ENVELOPE);
  });

  it('a field added to a branch, or a new branch, fails the classification', () => {
    const schema = schemaJson();
    const body = schema.fields.find((f) => f.name === 'body')!;
    const branches = body.type as { name: string; fields: AvroField[] }[];
    const grown = {
      ...schema,
      fields: schema.fields.map((f) =>
        f !== body
          ? f
          : {
              ...f,
              type: [
                ...branches.map((b) =>
                  b.name === 'visitor_queued'
                    ? { ...b, fields: [...b.fields, { name: 'phone', type: ['null', 'string'] }] }
                    : b,
                ),
                { type: 'record', name: 'added_later', fields: [{ name: 'note', type: 'string' }] },
              ],
            },
      ),
    };
    expect(unclassified(branchLeaves(grown), PERSONAL_PATHS, CLEAR)).toEqual([
      'visitor_queued /phone',
      'added_later /note',
    ]);
  });
});

describe('sealChatEvent / openChatEvent', () => {
  const events = fixtureEvents();
  const sealedTypes = new Set<string>();

  it('seals one sample of every type with personal values, and opens it back to the exact event', () => {
    for (const { fixture, event } of events) {
      const scope = chatEventKeyScope(event);
      if (scope === null) continue;
      const key = keyFor(event, scope);
      const before = structuredClone(event);
      const sealed = sealChatEvent(event, scope, key);
      expect(event, `${fixture}: input not mutated`).toEqual(before);
      if (sealed.sealed === null) {
        expect(sealed).toEqual({ ...event, sealed: null });
        continue;
      }
      sealedTypes.add(event.type);
      expect(sealed.sealed).toMatchObject({ key_scope: scope, key_version: 3 });
      // Nothing personal is readable in the clear record: each sealed string is gone from it.
      const opened = openChatEvent(viaAvro(sealed), { state: 'active', key });
      expect(opened.outcome, fixture).toBe('opened');
      expect(opened.event, fixture).toEqual({ ...event, sealed: null });
      // Nothing personal left in the clear record: each sealed value is null, [] or an allow-listed reduction,
      // and a sealed string shows nowhere else in it.
      const clearJson = JSON.stringify(sealed.body);
      for (const path of sealed.sealed.paths) {
        const original = at(branch(event), path);
        const clear = at(branch(sealed), path);
        if (clear === null || (Array.isArray(clear) && clear.length === 0)) {
          if (typeof original === 'string' && original.length >= 4)
            expect(clearJson, `${fixture} ${path}`).not.toContain(JSON.stringify(original));
        } else if (path === '/reason') {
          // A transfer reason stays in clear only as one of LiveChat's enum values.
          expect(['manual', 'inactive', 'assigned', 'unassigned', 'other'], fixture).toContain(clear);
        } else {
          const reduced = JSON.parse(clear as string) as Record<string, unknown>;
          for (const [name, value] of Object.entries(reduced)) {
            expect(['rating', 'routing', 'source', 'score', 'lc2'], `${fixture} ${path}`).toContain(name);
            // A namespace is its properties, or (a deletion) the names of those deleted.
            const names = Array.isArray(value) ? value : Object.keys(value as object);
            if (name === 'rating') expect(names).toEqual(['score']);
            if (name === 'source') expect(names).toEqual(['client_id']);
          }
        }
      }
    }
    expect([...sealedTypes].sort()).toEqual(
      [
        'chat_transferred',
        'customer_identified',
        'event_edited',
        'message_posted',
        'properties_changed',
        'rich_message_postback',
        'thread_started',
        'thread_summary_set',
        'ticket_created',
        'unrecognised_webhook',
        'visitor_queued',
      ].sort(),
    );
  });

  it('a customer participant: name and e-mail sealed; an agent participant: nothing sealed', () => {
    const agent = sample('v3.6-user_added_to_chat.json', 'participant_added');
    const agentBranch = branch(agent) as { user: Record<string, unknown> };
    const customer = {
      ...agent,
      body: {
        participant_added: {
          ...agentBranch,
          user_kind: 'customer',
          user: { ...agentBranch.user, kind: 'customer', name: 'Canary Name', email: 'canary@mail.example' },
        },
      },
    } as ChatDomainEvent;
    const key = keyFor(customer);
    const sealed = sealChatEvent(customer, chatEventKeyScope(customer)!, key);
    expect(sealed.sealed?.paths).toEqual(['/user/name', '/user/email']);
    expect(JSON.stringify(sealed.body)).not.toMatch(/canary/i);
    expect(openChatEvent(viaAvro(sealed), { state: 'active', key }).event).toEqual({
      ...customer,
      sealed: null,
    });
    expect(sealChatEvent(agent, chatEventKeyScope(agent)!, keyFor(agent)).sealed).toBeNull();
  });

  it('thread_started: only customers are sealed; agents, ids, kinds, tags and groups stay clear', () => {
    const event = sample('v3.6-incoming_chat-visit-answer.json', 'thread_started');
    const key = keyFor(event);
    const sealed = sealChatEvent(event, chatEventKeyScope(event)!, key);
    const users = branch(sealed)['users'] as { kind: string; name: string | null; id: string }[];
    const originalUsers = branch(event)['users'] as { kind: string; name: string | null; id: string }[];
    expect(users.map((u) => u.id)).toEqual(originalUsers.map((u) => u.id));
    for (const [i, user] of users.entries())
      expect(user.name).toBe(user.kind === 'customer' ? null : originalUsers[i]!.name);
    expect(users.some((u) => u.kind !== 'customer' && u.name !== null)).toBe(true);
    for (const field of ['tags', 'group_ids', 'active', 'previous_thread_id'])
      expect(branch(sealed)[field], field).toEqual(branch(event)[field]);
  });

  it('erased: personal values null or reduced, no envelope; ids, times, tags and ratings intact', () => {
    for (const { fixture, event } of events) {
      const scope = chatEventKeyScope(event);
      if (scope === null) continue;
      const erased = viaAvro(sealChatEvent(event, scope, 'erased'));
      const sealed = sealChatEvent(event, scope, keyFor(event, scope));
      if (sealed.sealed === null) {
        expect(erased.sealed).toBeNull();
        continue;
      }
      // The same clear record as when sealed with a key, without the envelope.
      expect(erased, fixture).toEqual({
        ...viaAvro(sealed),
        sealed: { key_scope: scope, key_version: 0, envelope: null, paths: sealed.sealed.paths },
      });
      for (const field of [
        'event_id',
        'raw_event_id',
        'tenant',
        'chat_id',
        'thread_id',
        'occurred_at',
        'type',
      ])
        expect(erased[field as keyof typeof erased], `${fixture} ${field}`).toEqual(
          event[field as keyof typeof event],
        );
      // Erased on arrival, or erased since: either way the clear values stand, with no key needed.
      expect(openChatEvent(erased, undefined)).toEqual({ event: erased, outcome: 'erased' });
      expect(openChatEvent(viaAvro(sealed), { state: 'erased', erasedAt: new Date() }).outcome, fixture).toBe(
        'erased',
      );
    }
  });

  it('a rating survives erasure: properties keep rating.score, a system message keeps its text_vars score', () => {
    const properties = sample('v3.6-chat_properties_updated.json', 'properties_changed');
    const erasedProperties = sealChatEvent(properties, chatEventKeyScope(properties)!, 'erased');
    expect(JSON.parse(branch(erasedProperties)['properties_json'] as string)).toEqual({
      rating: { score: 1 },
    });
    expect(branch(properties)['properties_json']).toContain('Very helpful');

    const rated = sample('v3.6-incoming_event-system_rating.json', 'message_posted');
    const erasedRating = sealChatEvent(rated, chatEventKeyScope(rated)!, 'erased');
    const message = branch(erasedRating)['message'] as Record<string, unknown>;
    expect(message['text']).toBeNull();
    expect(message['system_message_type']).toBe('rating.chat_rated');
    expect(JSON.parse(message['text_vars_json'] as string)).toEqual({ score: 'good' });

    const deleted = sample('v3.6-event_properties_deleted.json', 'properties_changed');
    const erasedDeletion = sealChatEvent(deleted, chatEventKeyScope(deleted)!, 'erased');
    expect(branch(erasedDeletion)['properties_json']).toMatch(/^\{.*\}$/);

    const ticket = sample('v2-ticket_created.json', 'ticket_created');
    const erasedTicket = branch(sealChatEvent(ticket, chatEventKeyScope(ticket)!, 'erased'));
    expect(erasedTicket).toMatchObject({ subject: null, requester_email: null, ticket_json: '{}' });
    expect(erasedTicket['ticket_id']).toBe(branch(ticket)['ticket_id']);
    expect(erasedTicket['tags']).toEqual(branch(ticket)['tags']);
  });

  it("analytics' welcome and greeting markers (lc2.welcome_message, lc2.greeting_id) survive erasure; other lc2 values do not", () => {
    const properties = sample('v3.6-chat_properties_updated.json', 'properties_changed');
    const withLc2 = (lc2: Record<string, unknown>): ChatDomainEvent =>
      ({
        ...properties,
        body: { properties_changed: { ...branch(properties), properties_json: JSON.stringify({ lc2 }) } },
      }) as unknown as ChatDomainEvent;
    const reducedLc2 = (event: ChatDomainEvent): unknown => {
      const erased = sealChatEvent(event, chatEventKeyScope(event)!, 'erased');
      return (JSON.parse(branch(erased)['properties_json'] as string) as Record<string, unknown>)['lc2'];
    };
    expect(reducedLc2(withLc2({ welcome_message: true, form_type: 'CANARY form' }))).toEqual({
      welcome_message: true,
    });
    expect(reducedLc2(withLc2({ greeting_id: 1042 }))).toEqual({ greeting_id: 1042 });
    expect(reducedLc2(withLc2({ greeting_id: '1042' }))).toEqual({ greeting_id: '1042' });
    expect(reducedLc2(withLc2({ greeting_id: 'CANARY text', welcome_message: 'CANARY' }))).toBeUndefined();
  });

  it("a transfer's reason: LiveChat's enum values survive erasure (analytics counts by them), free text does not", () => {
    const transfer = sample('v3.6-chat_transferred.json', 'chat_transferred');
    const withReason = (reason: string): ChatDomainEvent =>
      ({
        ...transfer,
        body: { chat_transferred: { ...branch(transfer), reason } },
      }) as unknown as ChatDomainEvent;
    for (const reason of ['manual', 'inactive', 'assigned', 'unassigned', 'other']) {
      const erased = sealChatEvent(withReason(reason), chatEventKeyScope(transfer)!, 'erased');
      expect(branch(erased)['reason'], reason).toBe(reason);
    }
    const freeText = withReason('CANARY call me at canary@example.com');
    const erased = sealChatEvent(freeText, chatEventKeyScope(transfer)!, 'erased');
    expect(branch(erased)['reason']).toBeNull();
    expect(JSON.stringify(erased)).not.toContain('CANARY');
  });

  it('tampered, moved or foreign envelopes open as undecryptable, with the clear values kept', () => {
    const event = sample('v3.6-incoming_chat-visit-answer.json', 'customer_identified');
    const other = sample('v3.6-incoming_chat-visit-answer.json', 'message_posted');
    const scope = chatEventKeyScope(event)!;
    const key = keyFor(event);
    const sealed = viaAvro(sealChatEvent(event, scope, key));
    const envelope = sealed.sealed!.envelope!;

    const flipped = Buffer.from(envelope);
    flipped[flipped.length - 20]! ^= 1;
    const tampered = { ...sealed, sealed: { ...sealed.sealed!, envelope: flipped } };
    expect(openChatEvent(tampered, { state: 'active', key })).toEqual({
      event: tampered,
      outcome: 'undecryptable',
    });

    // Another event's envelope (bound to its own event id), and a truncated one.
    const moved = { ...sealed, sealed: sealChatEvent(other, scope, key).sealed };
    expect(openChatEvent(moved, { state: 'active', key }).outcome).toBe('undecryptable');
    const short = { ...sealed, sealed: { ...sealed.sealed!, envelope: envelope.subarray(0, 10) } };
    expect(openChatEvent(short, { state: 'active', key }).outcome).toBe('undecryptable');

    // The same scope's key of another version or material (e.g. a data key re-created after a restore).
    expect(openChatEvent(sealed, { state: 'active', key: keyFor(event) }).outcome).toBe('undecryptable');
    expect(
      openChatEvent(sealed, { state: 'active', key: new ChatKey(event.tenant, scope, 4, randomBytes(32)) })
        .outcome,
    ).toBe('undecryptable');
  });

  it('an envelope without a key state throws PRIVACY_KEY_UNAVAILABLE (retryable): the caller waits', () => {
    const event = sample('v3.6-thread_summary_set.json', 'thread_summary_set');
    const sealed = viaAvro(sealChatEvent(event, chatEventKeyScope(event)!, keyFor(event)));
    for (const state of [undefined, { state: 'absent' as const }]) {
      let thrown: unknown;
      try {
        openChatEvent(sealed, state);
      } catch (err) {
        thrown = err;
      }
      expect(thrown).toBeInstanceOf(PrivacyError);
      expect(thrown).toMatchObject({ code: 'PRIVACY_KEY_UNAVAILABLE', retryable: true });
      expect((thrown as Error).message).not.toContain(branch(event)['text'] as string);
    }
  });

  it('a plain event (written before sealing, or by a writer without keys) opens as plain, untouched', () => {
    const event = sample('v3.6-thread_summary_set.json', 'thread_summary_set');
    const plain = viaAvro(event as WithSealed<ChatDomainEvent>);
    expect(plain.sealed).toBeNull();
    expect(openChatEvent(plain, undefined)).toEqual({ event: plain, outcome: 'plain' });
    expect(openChatEvent(event, undefined)).toEqual({ event: { ...event, sealed: null }, outcome: 'plain' });
  });

  it('sealing a sealed event again keeps its envelope (nothing is lost to a second pass)', () => {
    const event = sample('v3.6-chat_properties_updated.json', 'properties_changed');
    const key = keyFor(event);
    const sealed = viaAvro(sealChatEvent(event, chatEventKeyScope(event)!, key));
    const again = sealChatEvent(sealed, chatEventKeyScope(event)!, keyFor(event));
    expect(again).toEqual(sealed);
    expect(openChatEvent(again, { state: 'active', key }).event).toEqual({ ...event, sealed: null });
    expect(sealChatEvent(sealed, chatEventKeyScope(event)!, 'erased')).toEqual(sealed);
  });

  it('fails closed: a personal type whose body is keyed under another branch throws, never goes out in clear', () => {
    const event = sample('v3.6-thread_summary_set.json', 'thread_summary_set');
    const misplaced = { ...event, body: { thread_tagged: branch(event) } } as unknown as ChatDomainEvent;
    for (const key of [keyFor(event), 'erased' as const])
      expect(() => sealChatEvent(misplaced, chatEventKeyScope(event)!, key)).toThrow(
        expect.objectContaining({ code: 'PRIVACY_INVALID_ARGUMENT' }),
      );
    // A type with nothing personal is not concerned.
    const tagged = sample('v3.6-thread_tagged.json', 'thread_tagged');
    expect(sealChatEvent(tagged, 'PJ0MRSHTDG', 'erased').sealed).toBeNull();
  });

  it("given the batch's key map or a lookup, opens with the state of the record's own sealed.key_scope", () => {
    const event = sample('v3.6-thread_summary_set.json', 'thread_summary_set');
    // Sealed under another scope than chatEventKeyScope (the normalizer seals with its raw record's scope).
    const rawScope = 'raw:raw-v3.6-thread_summary_set.json';
    const key = new ChatKey(event.tenant, rawScope, 1, randomBytes(32));
    const sealed = viaAvro(sealChatEvent(event, rawScope, key));
    const chatKey = keyFor(event);
    const keys = new Map<string, ChatKeyState>([
      [chatEventKeyScope(event)!, { state: 'active', key: chatKey }],
      [rawScope, { state: 'active', key }],
    ]);
    expect(openChatEvent(sealed, keys)).toEqual({ event: { ...event, sealed: null }, outcome: 'opened' });
    expect(openChatEvent(sealed, (scope) => keys.get(scope)).outcome).toBe('opened');
    // Its scope missing from the map: the retryable wait, not a dead letter.
    expect(() => openChatEvent(sealed, new Map())).toThrow(
      expect.objectContaining({ code: 'PRIVACY_KEY_UNAVAILABLE', retryable: true }),
    );
    // One state of the wrong scope stays a caller bug.
    expect(() => openChatEvent(sealed, { state: 'active', key: chatKey })).toThrow(
      expect.objectContaining({ code: 'PRIVACY_INVALID_ARGUMENT' }),
    );
  });

  it('refuses a key of another scope, when sealing and when opening', () => {
    const event = sample('v3.6-thread_summary_set.json', 'thread_summary_set');
    const wrong = new ChatKey(event.tenant, 'another-chat', 1, randomBytes(32));
    expect(() => sealChatEvent(event, chatEventKeyScope(event)!, wrong)).toThrow(
      expect.objectContaining({ code: 'PRIVACY_INVALID_ARGUMENT' }),
    );
    const sealed = sealChatEvent(event, chatEventKeyScope(event)!, keyFor(event));
    expect(() => openChatEvent(sealed, { state: 'active', key: wrong })).toThrow(
      expect.objectContaining({ code: 'PRIVACY_INVALID_ARGUMENT' }),
    );
  });
});

describe('chatEventKeyScope', () => {
  it('the chat id; customer:, visitor:, ticket: outside a chat; raw:<raw event id> otherwise; null when nothing is personal', () => {
    expect(chatEventKeyScope(sample('v3.6-thread_summary_set.json', 'thread_summary_set'))).toBe(
      'PJ0MRSHTDG',
    );
    expect(chatEventKeyScope(sample('v3.3-incoming_customer-last_visit.json', 'customer_identified'))).toBe(
      'customer:c0ffee00-1111-4222-8333-444455556666',
    );
    expect(chatEventKeyScope(sample('v2-visitor_queued.json', 'visitor_queued'))).toBe(
      'visitor:S1354547427.0c151b0e1b',
    );
    expect(chatEventKeyScope(sample('v2-ticket_created.json', 'ticket_created'))).toBe('ticket:CCWWM');
    const unknown = sample('v3.6-unknown_action.json', 'unrecognised_webhook');
    expect(chatEventKeyScope({ ...unknown, chat_id: null })).toBe('raw:raw-v3.6-unknown_action.json');
    const queued = sample('v2-visitor_queued.json', 'visitor_queued');
    expect(
      chatEventKeyScope({ ...queued, body: { visitor_queued: { ...branch(queued), visitor_id: null } } }),
    ).toBe('raw:raw-v2-visitor_queued.json');
    expect(chatEventKeyScope(sample('v3.6-thread_tagged.json', 'thread_tagged'))).toBeNull();
    expect(chatEventKeyScope(sample('v3.6-agent_updated.json', 'configuration_changed'))).toBeNull();
  });
});

/** A holder of a name or e-mail that is an employee's (stays clear by design): its kind field says so. */
const EMPLOYEE_KINDS = ['agent', 'bot', 'system'];
const NAMED_BY: Readonly<Record<string, string>> = {
  name: 'kind',
  email: 'kind',
  author_name: 'author_kind',
};

/** Namespaces planted into every properties JSON on top of its own: the customer's browsing history included. */
const PLANTED_PROPERTIES = {
  routing: { start_url: '', referrer: '', pinned: '', idle: '', last_transfer_timestamp: '' },
  rating: { comment: '' },
  source: { customer_client_id: '' },
  lc2: { welcome_message: '', greeting_id: '', form_type: '' },
  custom: { anything: '' },
};

/**
 * The event with a unique `CANARY-<n>` in every string of its body that CLEAR does not list, and in every property
 * of every namespace (and every string) inside its `*_json` values. The values that stay clear by design get an
 * `ALLOWED-<n>` instead: an employee's name and e-mail, `rating.score`, `source.client_id` and a text_vars `score`.
 * Returns the event and how many canaries it planted.
 */
function plantCanaries(event: ChatDomainEvent): { event: ChatDomainEvent; planted: number } {
  let n = 0;
  const canary = (allowed = false) => `${allowed ? 'ALLOWED' : 'CANARY'}-${++n}`;
  const clear = CLEAR[event.type] ?? [];
  const plantJson = (value: unknown, pointer: string, isProperties: boolean, key?: string): unknown => {
    if (Array.isArray(value)) return value.map((v) => plantJson(v, pointer, false));
    if (typeof value === 'object' && value !== null) {
      const object = isProperties ? { ...structuredClone(PLANTED_PROPERTIES), ...value } : value;
      return Object.fromEntries(
        Object.entries(object).map(([k, v]) => {
          if (isProperties && typeof v === 'object' && v !== null && !Array.isArray(v))
            return [
              k,
              Object.fromEntries(
                Object.keys(v).map((p) => [
                  p,
                  canary((k === 'rating' && p === 'score') || (k === 'source' && p === 'client_id')),
                ]),
              ),
            ];
          return [k, plantJson(v, pointer, false, k)];
        }),
      );
    }
    if (typeof value === 'string') return canary(pointer.endsWith('/text_vars_json') && key === 'score');
    return value;
  };
  const walk = (node: unknown, pattern: string, holder?: Record<string, unknown>, key?: string): unknown => {
    if (Array.isArray(node)) return node.map((v) => walk(v, `${pattern}/*`));
    if (typeof node === 'object' && node !== null) {
      const record = node as Record<string, unknown>;
      return Object.fromEntries(
        Object.entries(record).map(([k, v]) => [k, walk(v, `${pattern}/${k}`, record, k)]),
      );
    }
    if (typeof node !== 'string' || clear.includes(pattern)) return node;
    if (pattern.endsWith('_json')) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(node);
      } catch {
        return canary();
      }
      return JSON.stringify(plantJson(parsed, pattern, pattern.endsWith('properties_json')));
    }
    const kindField = key === undefined ? undefined : NAMED_BY[key];
    const employee = kindField !== undefined && EMPLOYEE_KINDS.includes(holder?.[kindField] as string);
    return canary(employee);
  };
  const planted = walk(branch(event), '') as Record<string, unknown>;
  return { event: { ...event, body: { [event.type]: planted } } as unknown as ChatDomainEvent, planted: n };
}

describe('canaries: no personal value of any event stays in clear, sealed or erased', () => {
  it('every string not listed as clear, every property of every namespace: none readable in the clear record', () => {
    let planted = 0;
    let properties = 0;
    for (const { fixture, event: original } of fixtureEvents()) {
      const { event, planted: count } = plantCanaries(original);
      planted += count;
      if (JSON.stringify(event.body).includes('"routing')) properties++;
      const scope = chatEventKeyScope(event);
      if (scope === null) {
        expect(JSON.stringify(event.body), `${fixture} ${event.type}`).not.toMatch(/CANARY-/);
        continue;
      }
      const key = keyFor(event, scope);
      for (const sealed of [sealChatEvent(event, scope, key), sealChatEvent(event, scope, 'erased')])
        expect(JSON.stringify(viaAvro(sealed).body), `${fixture} ${event.type}`).not.toMatch(/CANARY-/);
      expect(
        openChatEvent(viaAvro(sealChatEvent(event, scope, key)), { state: 'active', key }).event,
      ).toEqual({
        ...event,
        sealed: null,
      });
    }
    // The check bites: canaries were planted, properties JSONs among them.
    expect(planted).toBeGreaterThan(150);
    expect(properties).toBeGreaterThan(5);
  });

  it("users and authors of kind unknown (or any kind not an employee's): names and e-mails sealed", () => {
    // Every event of the fixtures with the kinds of its users and authors set to `unknown`.
    let unknownNames = 0;
    for (const { fixture, event: original } of fixtureEvents()) {
      const body = structuredClone(branch(original)) as Record<string, unknown>;
      const unknown = (holder: unknown, field: string) => {
        if (typeof holder === 'object' && holder !== null && field in holder)
          (holder as Record<string, unknown>)[field] = 'unknown';
      };
      for (const user of (body['users'] as unknown[] | undefined) ?? []) unknown(user, 'kind');
      unknown(body['user'], 'kind');
      unknown(body, 'user_kind');
      unknown(body['message'], 'author_kind');
      const event = { ...original, body: { [original.type]: body } } as unknown as ChatDomainEvent;
      const { event: planted } = plantCanaries(event);
      const scope = chatEventKeyScope(planted);
      if (scope === null) continue;
      if (/"(name|author_name|email)":"CANARY-/.test(JSON.stringify(planted.body))) unknownNames++;
      for (const sealed of [
        sealChatEvent(planted, scope, keyFor(planted, scope)),
        sealChatEvent(planted, scope, 'erased'),
      ])
        expect(JSON.stringify(viaAvro(sealed).body), `${fixture} ${event.type}`).not.toMatch(/CANARY-/);
    }
    expect(unknownNames).toBeGreaterThan(10);
  });

  it('what the parser makes of a v2 message without user_type (author kind unknown): its author name sealed', () => {
    const webhook = JSON.parse(
      readFileSync(`${fixturesDir}v2-chat_ended-closed-by-visitor.json`, 'utf8'),
    ) as { chat: { messages: Record<string, unknown>[] } };
    for (const message of webhook.chat.messages) {
      delete message['user_type'];
      message['author_name'] = 'CANARY Customer';
    }
    const events = parseWebhook(webhook, {
      rawEventId: 'raw-no-user-type',
      receivedAtMicros: 1_800_000_000_123_456,
      tenantHint: 'tenant-hint',
    });
    const messages = events.filter(
      (e) =>
        e.type === 'message_posted' &&
        (branch(e)['message'] as Record<string, unknown>)['author_kind'] === 'unknown',
    );
    expect(messages).toHaveLength(webhook.chat.messages.length);
    for (const event of messages) {
      expect(JSON.stringify(event.body)).toContain('CANARY');
      const scope = chatEventKeyScope(event)!;
      for (const key of [keyFor(event, scope), 'erased' as const])
        expect(JSON.stringify(sealChatEvent(event, scope, key).body)).not.toContain('CANARY');
    }
  });
});
