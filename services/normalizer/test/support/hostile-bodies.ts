import fc from 'fast-check';

/**
 * Hostile LiveChat webhook bodies for the fuzz suites: the shapes the parser reads (v2 and v3, every action it
 * knows, and unknown ones) with wrong types everywhere, deep nesting, big arrays, nulls and awkward unicode
 * (U+0000, lone surrogates, right-to-left marks, keys like `__proto__`).
 */

/** The fuzz seed: fixed by default so a failure replays, overridable with FUZZ_SEED. */
export function fuzzSeed(fallback: number): number {
  const fromEnv = Number(process.env['FUZZ_SEED']);
  return Number.isSafeInteger(fromEnv) && process.env['FUZZ_SEED'] !== '' ? fromEnv : fallback;
}

export function fuzzRuns(fallback: number): number {
  const fromEnv = Number(process.env['FUZZ_RUNS']);
  return Number.isSafeInteger(fromEnv) && fromEnv > 0 ? fromEnv : fallback;
}

const V3_ACTIONS = [
  'incoming_chat',
  'incoming_chat_thread',
  'incoming_event',
  'event_updated',
  'event_deleted',
  'chat_deactivated',
  'thread_closed',
  'thread_tagged',
  'thread_untagged',
  'chat_thread_tagged',
  'chat_transferred',
  'chat_access_updated',
  'chat_access_granted',
  'access_revoked',
  'user_added_to_chat',
  'chat_user_removed',
  'chat_properties_updated',
  'thread_properties_deleted',
  'event_properties_updated',
  'incoming_rich_message_postback',
  'customer_session_fields_updated',
  'incoming_customer',
  'customer_created',
  'thread_summary_set',
  'routing_status_set',
  'agent_status_changed',
  'events_marked_as_seen',
  'agent_created',
  'agent_deleted',
  'bot_updated',
  'group_created',
  'tag_created',
  'auto_access_added',
  'auto_accesses_updated',
  'chat_teleported',
];
const V2_EVENT_TYPES = [
  'chat_started',
  'chat_ended',
  'chat_changed',
  'visitor_queued',
  'ticket_created',
  'canned_response_changed',
  'chat_teleported',
];
/** Names a plain object has through its prototype: a discriminator looked up in a table must not find them. */
const PROTOTYPE_NAMES = [
  '__proto__',
  'constructor',
  'toString',
  'hasOwnProperty',
  'valueOf',
  'isPrototypeOf',
];
const EVENT_TYPES = [
  'message',
  'file',
  'filled_form',
  'form',
  'rich_message',
  'system_message',
  'system',
  'custom',
  'annotation',
];

const awkward = fc.constantFrom(
  '',
  '\u0000',
  'a\u0000b',
  '\ud800',
  'x\udfffy',
  '\u202eevil',
  '🙂🙂',
  '__proto__',
  'constructor',
  'toString',
  '2026-11-25T10:00:00.123456789Z',
  '2026-11-25 10:00:00+02:00',
  '9999-99-99T99:99:99Z',
  'NaN',
  '1e400',
  '-1',
  'agents',
  'customer',
  'agent',
  'visitor',
  'supervisor',
  'agent@example.com',
  'b7eff798-f8df-4364-8059-649c35c9ed0c',
  '0123456789abcdef0123456789abcdef',
);
const hostileString = fc.oneof(
  fc.string({ maxLength: 20 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
  awkward,
  fc
    .tuple(fc.string({ minLength: 1, maxLength: 4 }), fc.integer({ min: 100, max: 1_000 }))
    .map(([s, n]) => s.repeat(n)),
);
const hostileNumber = fc.oneof(
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom(0, -1, 2 ** 53, 2 ** 53 + 2, 2 ** 63, 1e308, -1e308, 0.5, 1_795_600_000),
);
const scalar = fc.oneof(hostileString, hostileNumber, fc.boolean(), fc.constant(null));
const key = fc.oneof(fc.string({ maxLength: 8 }), awkward);

/** Arrays or objects nested `depth` levels. */
const deep = fc.tuple(fc.integer({ min: 20, max: 3_500 }), fc.boolean()).map(([depth, arrays]) => {
  let value: unknown = arrays ? [] : {};
  for (let d = 0; d < depth; d++) value = arrays ? [value] : { d: value };
  return value;
});
const bigArray = fc
  .tuple(
    fc.integer({ min: 1_000, max: 20_000 }),
    fc.oneof(scalar, fc.constant({}), fc.constant({ id: 'E', type: 'message' })),
  )
  .map(([length, item]) => Array.from({ length }, () => item));

/** Any JSON-ish value, small (deep and big values are put in at one place of a body, see `hostileBody`). */
export const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 6, arbitrary: scalar },
  { weight: 3, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  { weight: 2, arbitrary: fc.array(scalar, { maxLength: 5 }) },
  { weight: 2, arbitrary: fc.dictionary(key, scalar, { maxKeys: 4 }) },
);

/** A field of a known shape, or anything at all in its place. */
const either = <T>(shape: fc.Arbitrary<T>): fc.Arbitrary<unknown> =>
  fc.oneof({ weight: 3, arbitrary: shape }, { weight: 1, arbitrary: hostileValue });
const idLike = either(fc.oneof(fc.string({ minLength: 1, maxLength: 12 }), awkward));
const time = either(
  fc.constantFrom('2026-11-25T10:00:00.123456Z', '2026-11-25T10:00:01Z', '2026-11-25T09:59:59.5+01:00'),
);
const optional = <T extends Record<string, fc.Arbitrary<unknown>>>(fields: T) =>
  fc.record(fields, { requiredKeys: [] });
const list = <T>(item: fc.Arbitrary<T>, maxLength = 6) => either(fc.array(item, { maxLength }));

const v3Event = optional({
  id: idLike,
  custom_id: idLike,
  type: either(fc.constantFrom(...EVENT_TYPES)),
  text: either(hostileString),
  author_id: idLike,
  created_at: time,
  visibility: either(fc.constantFrom('all', 'agents')),
  recipients: either(fc.constantFrom('all', 'agents')),
  properties: hostileValue,
  fields: list(
    optional({
      id: idLike,
      type: idLike,
      label: idLike,
      answer: hostileValue,
      answers: hostileValue,
      value: hostileValue,
    }),
  ),
  elements: hostileValue,
  content: hostileValue,
  postback: hostileValue,
  name: idLike,
  url: idLike,
  size: hostileValue,
  form_id: idLike,
  system_message_type: idLike,
  text_vars: hostileValue,
});
const v3User = optional({
  id: idLike,
  type: either(fc.constantFrom('customer', 'agent', 'bot')),
  name: idLike,
  email: idLike,
  present: hostileValue,
  session_fields: either(fc.array(fc.dictionary(key, scalar, { maxKeys: 2 }), { maxLength: 3 })),
  visit: hostileValue,
  last_visit: hostileValue,
});
const v3Thread = optional({
  id: idLike,
  created_at: time,
  events: list(v3Event, 8),
  tags: list(hostileString),
  access: either(optional({ group_ids: list(hostileNumber) })),
  properties: hostileValue,
  previous_thread_id: idLike,
  active: hostileValue,
});
const v3Payload = optional({
  chat: either(
    optional({
      id: idLike,
      users: list(v3User),
      thread: either(v3Thread),
      threads: list(v3Thread, 4),
      properties: hostileValue,
      access: hostileValue,
    }),
  ),
  chat_id: idLike,
  thread_id: idLike,
  event: either(v3Event),
  event_id: idLike,
  user_id: idLike,
  user_type: idLike,
  user: either(v3User),
  tag: idLike,
  id: idLike,
  reason: idLike,
  requester_id: idLike,
  transferred_to: either(optional({ group_ids: list(hostileNumber), agent_ids: list(hostileString) })),
  queue: either(optional({ position: hostileValue, wait_time: hostileValue, queued_at: time })),
  access: hostileValue,
  properties: hostileValue,
  postback: hostileValue,
  active_chat: either(optional({ chat_id: idLike, thread_id: idLike })),
  session_fields: hostileValue,
  customer: either(v3User),
  summary: either(optional({ status: idLike, text: idLike, updated_at: time })),
  status: idLike,
  agent_id: idLike,
  seen_up_to: time,
  created_at: time,
});

const v3Body = fc
  .record(
    {
      action: fc.oneof(
        { weight: 16, arbitrary: fc.constantFrom(...V3_ACTIONS) },
        { weight: 1, arbitrary: fc.constantFrom(...PROTOTYPE_NAMES) },
        { weight: 1, arbitrary: hostileString },
      ),
      organization_id: fc.oneof(
        { weight: 6, arbitrary: fc.constantFrom('f9c7cc55-b35a-4e76-b0d5-ae9fce362314', 'org-2') },
        { weight: 1, arbitrary: hostileValue },
      ),
      license_id: either(fc.integer({ min: 1, max: 99_999_999 })),
      payload: fc.oneof(
        { weight: 4, arbitrary: v3Payload },
        { weight: 1, arbitrary: fc.array(v3Payload, { maxLength: 4 }) },
        { weight: 1, arbitrary: hostileValue },
      ),
      data: hostileValue,
      requester: either(optional({ user_id: idLike, client_id: idLike })),
      additional_data: hostileValue,
      webhook_id: idLike,
    },
    { requiredKeys: ['action', 'organization_id'] },
  )
  .map((body) => body as Record<string, unknown>);

const v2Message = optional({
  user_type: either(fc.constantFrom('visitor', 'agent', 'supervisor')),
  agent_id: idLike,
  author_name: idLike,
  text: either(hostileString),
  timestamp: hostileValue,
});
const v2Body = fc
  .record(
    {
      event_type: fc.oneof(
        { weight: 16, arbitrary: fc.constantFrom(...V2_EVENT_TYPES) },
        { weight: 1, arbitrary: fc.constantFrom(...PROTOTYPE_NAMES) },
        { weight: 1, arbitrary: hostileString },
      ),
      license_id: fc.oneof(
        { weight: 6, arbitrary: fc.constantFrom('1025707', '8762851') },
        { weight: 1, arbitrary: hostileValue },
      ),
      token: idLike,
      event_unique_id: idLike,
      chat: either(
        optional({
          id: idLike,
          started_timestamp: hostileValue,
          ended_timestamp: hostileValue,
          messages: list(v2Message, 8),
          events: list(
            optional({
              type: idLike,
              user_type: idLike,
              agent_id: idLike,
              text: idLike,
              timestamp: hostileValue,
            }),
          ),
          agents: list(optional({ login: idLike, name: idLike })),
          groups: list(hostileNumber),
          tags: list(hostileString),
        }),
      ),
      visitor: either(
        optional({
          id: idLike,
          name: idLike,
          email: idLike,
          custom_variables: list(optional({ key: idLike, value: hostileValue })),
          ip: hostileValue,
        }),
      ),
      pre_chat_survey: list(
        optional({
          type: idLike,
          label: idLike,
          answer: hostileValue,
          answers: hostileValue,
          value: hostileValue,
        }),
      ),
      ticket: either(
        optional({
          id: idLike,
          events: list(optional({ date: time })),
          requester: hostileValue,
          groups: hostileValue,
          tags: hostileValue,
        }),
      ),
      canned_response: either(
        optional({
          id: hostileValue,
          group: hostileValue,
          text: idLike,
          tags: hostileValue,
          modification_date: hostileValue,
        }),
      ),
    },
    { requiredKeys: ['event_type', 'license_id'] },
  )
  .map((body) => body as Record<string, unknown>);

/** Puts `value` at a random place of the body: an existing object or array somewhere in it, or a new key. */
function plant(body: unknown, value: unknown, choices: readonly number[]): unknown {
  const containers: (Record<string, unknown> | unknown[])[] = [];
  const walk = (node: unknown, depth: number) => {
    if (depth > 6 || typeof node !== 'object' || node === null) return;
    containers.push(node as Record<string, unknown> | unknown[]);
    for (const child of Array.isArray(node) ? node : Object.values(node)) walk(child, depth + 1);
  };
  walk(body, 0);
  if (containers.length === 0) return value;
  const target = containers[(choices[0] ?? 0) % containers.length]!;
  if (Array.isArray(target)) {
    if (target.length > 0) target[(choices[1] ?? 0) % target.length] = value;
    else target.push(value);
  } else {
    const keys = Object.keys(target);
    const keyName =
      keys.length > 0 && (choices[1] ?? 0) % 3 !== 0 ? keys[(choices[1] ?? 0) % keys.length]! : 'planted';
    target[keyName] = value;
  }
  return body;
}

const shapedBody = fc.oneof(
  { weight: 6, arbitrary: v3Body },
  { weight: 4, arbitrary: v2Body },
  { weight: 1, arbitrary: hostileValue },
);

/**
 * A hostile webhook body: mostly v3 and v2 shapes (sometimes not even an object with a discriminator), and now and
 * then a deeply nested or a big array planted somewhere in it.
 */
export const hostileBody: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 18, arbitrary: shapedBody },
  {
    weight: 1,
    arbitrary: fc
      .tuple(shapedBody, fc.oneof(deep, bigArray), fc.array(fc.nat(), { minLength: 2, maxLength: 2 }))
      .map(([body, value, choices]) => plant(body, value, choices)),
  },
);

/**
 * The JSON text of a body. A string in the body may hold a lone surrogate, which JSON.stringify writes as an
 * escape, so the text is valid JSON that parses back to the same (hostile) strings.
 */
export function bodyText(body: unknown): string {
  return JSON.stringify(body) ?? 'null';
}
