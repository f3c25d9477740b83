import { PrivacyError, openValues, sealValues } from '@livechat-pipeline/privacy';
import type { ChatKey, ChatKeyState, SealSpec } from '@livechat-pipeline/privacy';
import type { SealedFields } from './generated/chat-event.js';

// Issue 19 (docs/privacy.md sections 2 and 4): the personal values of a chat event travel in one envelope in its
// `sealed` field; the clear record holds null, [] or an allow-listed reduction in their place, so ids, times,
// types, tags, groups and ratings stay readable without keys.

/**
 * What sealing needs of a chat event. Both `ChatDomainEvent` (@livechat-pipeline/livechat, what the normalizer
 * parses) and the generated `ChatEventAvro.ChatEvent` (what `readChatEvent` returns) are one.
 */
export interface SealableChatEvent {
  readonly event_id: string;
  readonly raw_event_id: string;
  readonly chat_id: string | null;
  readonly type: string;
  /** `{ [type]: branch record }`, as avsc reads and writes the body union. */
  readonly body: object;
  readonly sealed?: SealedFields | null;
}

/** A chat event with its `sealed` field set (null: plain). */
export type WithSealed<E> = E & { readonly sealed: SealedFields | null };

/** How `openChatEvent` found the personal values. */
export type OpenOutcome = 'plain' | 'opened' | 'erased' | 'undecryptable';

/** The `key_version` written with an erased scope's record: no key sealed it (real versions start at 1). */
export const ERASED_KEY_VERSION = 0;

/** The envelope's field name: binds it to its event, so it cannot be moved to another one. */
export const chatEventField = (eventId: string): string => `chat-event:${eventId}`;

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function parseObject(text: unknown): Json | null {
  if (typeof text !== 'string') return null;
  try {
    const value: unknown = JSON.parse(text);
    return isObject(value) ? value : null;
  } catch {
    return null;
  }
}

/**
 * The allow-list of a properties JSON (`{ namespace: { property: value } }`): what stays in clear. `rating.score`
 * keeps ratings countable without keys; `source.client_id` is the LiveChat application's id. `routing` is named
 * property by property and keeps only booleans and numbers: the namespace also carries the customer's `start_url`
 * and `referrer` (browsing history, often with e-mails or tokens in the query string), and whatever LiveChat adds
 * to it later is sealed until it is listed here.
 */
const CLEAR_PROPERTIES: Readonly<Record<string, readonly string[]>> = {
  rating: ['score'],
  routing: [
    'continuous',
    'idle',
    'pinned',
    'was_pinned',
    'unassigned',
    'email_follow_up',
    'last_transfer_timestamp',
  ],
  source: ['client_id'],
  // Analytics tells the automatic welcome or greeting from the customer's first message by these (who started the
  // chat); a flag and an id, nothing personal.
  lc2: ['welcome_message', 'greeting_id'],
};

/** Namespaces whose allow-listed properties stay clear only as flags and numbers (a string is never kept). */
const FLAGS_ONLY: ReadonlySet<string> = new Set(['routing', 'lc2']);

/** A flag or a number; a string of digits too (an id such as lc2's greeting_id may come as one), never text. */
const isFlagOrNumber = (value: unknown): boolean =>
  typeof value === 'boolean' ||
  (typeof value === 'number' && Number.isFinite(value)) ||
  (typeof value === 'string' && /^[0-9]{1,20}$/.test(value));

/**
 * A properties JSON reduced to its allow-listed keys; null when nothing is left (or it is not a JSON object). A
 * namespace given as an array (the names a `*_properties_deleted` webhook removed) keeps the allowed names.
 */
export function reduceProperties(value: unknown): string | null {
  const properties = parseObject(value);
  if (properties === null) return null;
  const reduced: Json = {};
  for (const [namespace, allowed] of Object.entries(CLEAR_PROPERTIES)) {
    if (!Object.hasOwn(properties, namespace)) continue;
    const inner = properties[namespace];
    if (Array.isArray(inner)) {
      const names = inner.filter((name) => typeof name === 'string' && allowed.includes(name));
      if (names.length > 0) reduced[namespace] = names;
    } else if (isObject(inner)) {
      const kept: Json = {};
      for (const key of allowed)
        if (Object.hasOwn(inner, key) && (!FLAGS_ONLY.has(namespace) || isFlagOrNumber(inner[key])))
          kept[key] = inner[key];
      if (Object.keys(kept).length > 0) reduced[namespace] = kept;
    }
  }
  return Object.keys(reduced).length > 0 ? JSON.stringify(reduced) : null;
}

/** A system message's `text_vars_json` reduced to `score` (a rating stays countable); null when it has none. */
export function reduceTextVars(value: unknown): string | null {
  const vars = parseObject(value);
  return vars !== null && Object.hasOwn(vars, 'score') ? JSON.stringify({ score: vars['score'] }) : null;
}

/**
 * The kinds of an employee (LiveChat's agents, bots and system): their names and e-mails stay clear. Every other
 * kind is sealed, `unknown` (a v2 message without `user_type`, a v3 user without `type`) and any kind added later
 * included: sealing an agent's name by mistake costs a key lookup, a customer's left in clear is never erasable.
 */
const EMPLOYEE_KINDS: readonly string[] = ['agent', 'bot', 'system'];

const isEmployee = (kind: unknown): boolean => typeof kind === 'string' && EMPLOYEE_KINDS.includes(kind);
const notOfEmployee = (holder: Readonly<Json>): boolean => !isEmployee(holder['kind']);
const hasAnswers = (holder: Readonly<Json>): boolean =>
  Array.isArray(holder['answers']) && holder['answers'].length > 0;
const notAuthoredByEmployee = (holder: Readonly<Json>): boolean => !isEmployee(holder['author_kind']);

const MESSAGE_PATHS: readonly SealSpec[] = [
  { path: '/message/text' },
  { path: '/message/author_name', when: notAuthoredByEmployee },
  { path: '/message/file/name' },
  { path: '/message/file/url' },
  { path: '/message/file/thumbnail_url' },
  { path: '/message/form/fields/*/answer' },
  { path: '/message/form/fields/*/answers', when: hasAnswers, clear: () => [] },
  { path: '/message/content_json' },
  { path: '/message/properties_json', clear: reduceProperties },
  { path: '/message/text_vars_json', clear: reduceTextVars },
];

/**
 * The personal values of each chat-event type (docs/privacy.md section 2) as JSON Pointers into its body branch
 * (`/message/text` is `body.message_posted.message.text`); `*` is every array element. A type absent here has
 * nothing personal. `test/sealed-chat-event.test.ts` fails when a string field of the schema is in neither this
 * table nor its list of clear fields.
 */
export const PERSONAL_PATHS: Readonly<Record<string, readonly SealSpec[]>> = {
  thread_started: [
    { path: '/users/*/name', when: notOfEmployee },
    { path: '/users/*/email', when: notOfEmployee },
    { path: '/chat_properties_json', clear: reduceProperties },
    { path: '/thread_properties_json', clear: reduceProperties },
  ],
  message_posted: MESSAGE_PATHS,
  event_edited: MESSAGE_PATHS,
  customer_identified: [
    { path: '/name' },
    { path: '/email' },
    { path: '/session_fields_json' },
    { path: '/visit_json' },
  ],
  participant_added: [
    { path: '/user/name', when: notOfEmployee },
    { path: '/user/email', when: notOfEmployee },
  ],
  visitor_queued: [{ path: '/name' }, { path: '/email' }],
  ticket_created: [
    { path: '/subject' },
    { path: '/requester_name' },
    { path: '/requester_email' },
    { path: '/ticket_json', clear: () => '{}' },
  ],
  properties_changed: [{ path: '/properties_json', clear: (value) => reduceProperties(value) ?? '{}' }],
  thread_summary_set: [{ path: '/text' }],
  rich_message_postback: [{ path: '/postback_json' }],
  // LiveChat's transfer reasons are an enum (analytics tells router assignments from transfers by them): a known
  // value stays in clear; anything else is sealed, as free text may be personal.
  chat_transferred: [
    { path: '/reason', clear: (value) => (TRANSFER_REASONS.has(value as string) ? value : null) },
  ],
  unrecognised_webhook: [{ path: '/payload_json' }],
};

/** The `reason` values LiveChat documents for `chat_transferred`; not personal. */
const TRANSFER_REASONS: ReadonlySet<string> = new Set([
  'manual',
  'inactive',
  'assigned',
  'unassigned',
  'other',
]);

function branchOf(event: SealableChatEvent): Json | undefined {
  const branch = (event.body as Readonly<Record<string, unknown>>)[event.type];
  return isObject(branch) ? branch : undefined;
}

function withBranch<E extends SealableChatEvent>(
  event: E,
  branch: Json,
  sealed: SealedFields | null,
): WithSealed<E> {
  return { ...event, body: { [event.type]: branch }, sealed };
}

const idOf = (value: unknown): string | null =>
  typeof value === 'string' && value !== ''
    ? value
    : typeof value === 'number' && Number.isFinite(value)
      ? String(value)
      : null;

/**
 * The longest key scope the vault stores (packages/privacy's `ID_MAX`): `keysFor` refuses a longer one with
 * PRIVACY_INVALID_ARGUMENT, not retryable, and it checks every scope of a call before it queries, so one such scope
 * would fail the key lookup of a whole batch.
 */
export const KEY_SCOPE_MAX = 256;

/**
 * `scope`, or `raw:<rawEventId>` when it is longer than the vault stores (a sender-chosen customer, visitor,
 * ticket or chat id of any length). `rawKeyScope` and `chatEventKeyScope` both end here, so a raw record and its
 * events still share a key.
 */
export function boundedKeyScope(scope: string, rawEventId: string): string {
  return scope.length <= KEY_SCOPE_MAX ? scope : `raw:${rawEventId}`;
}

/**
 * The key scope of a chat event: its chat id; without one `customer:<customer_id>` (customer_identified),
 * `visitor:<visitor_id>` (visitor_queued), `ticket:<ticket_id>` (ticket_created), else `raw:<raw_event_id>` (the
 * scope its raw record got from `rawKeyScope`); `raw:<raw_event_id>` too when the scope would be longer than
 * `KEY_SCOPE_MAX`. Null when its type has nothing personal.
 */
export function chatEventKeyScope(event: SealableChatEvent): string | null {
  if (PERSONAL_PATHS[event.type] === undefined) return null;
  if (event.chat_id !== null && event.chat_id !== '')
    return boundedKeyScope(event.chat_id, event.raw_event_id);
  const branch = branchOf(event);
  const id = (prefix: string, field: string): string | null => {
    const value = idOf(branch?.[field]);
    return value === null ? null : `${prefix}:${value}`;
  };
  const scoped =
    event.type === 'customer_identified'
      ? id('customer', 'customer_id')
      : event.type === 'visitor_queued'
        ? id('visitor', 'visitor_id')
        : event.type === 'ticket_created'
          ? id('ticket', 'ticket_id')
          : null;
  return boundedKeyScope(scoped ?? `raw:${event.raw_event_id}`, event.raw_event_id);
}

/**
 * Where a reader finds key states: the map `vault.keysFor` returned for the batch, or a function of the scope. Given
 * one, `openChatEvent` and `openRawBody` look up the record's own `sealed.key_scope`, so the state always matches the
 * envelope (a record's scope need not be `chatEventKeyScope` of it: the normalizer seals with the raw record's scope).
 */
export type KeyStates = ReadonlyMap<string, ChatKeyState> | ((scope: string) => ChatKeyState | undefined);

/** The key state for `scope`: looked up in `states`, or `states` itself when it is one state (or undefined). */
export function keyStateFor(
  states: ChatKeyState | KeyStates | undefined,
  scope: string,
): ChatKeyState | undefined {
  if (states === undefined) return undefined;
  if (typeof states === 'function') return states(scope);
  if (states instanceof Map) return (states as ReadonlyMap<string, ChatKeyState>).get(scope);
  return states as ChatKeyState;
}

function checkKeyScope(key: ChatKey, scope: string): void {
  if (key.chatId !== scope)
    throw new PrivacyError(
      'PRIVACY_INVALID_ARGUMENT',
      `the key is for scope "${key.chatId.slice(0, 80)}", not "${scope.slice(0, 80)}"`,
    );
}

/**
 * Seals the personal values of `event` (PERSONAL_PATHS of its type) into one envelope in `sealed` (field
 * `chat-event:<event_id>`), with their clear stand-ins in place. Nothing personal present: the event unchanged
 * with `sealed` null. Key `'erased'` (the scope was erased): the values are cleared the same way and no envelope
 * is kept (`envelope` null, `key_version` 0). An event already sealed is returned as it is. Pure: the input is never
 * mutated. Throws PRIVACY_INVALID_ARGUMENT when a type with personal values has no body branch of its name.
 */
export function sealChatEvent<E extends SealableChatEvent>(
  event: E,
  scope: string,
  key: ChatKey | 'erased',
): WithSealed<E> {
  // Already sealed (a copy of a sealed record, e.g. by the re-encryption job): sealing its clear stand-ins again
  // would replace the envelope that holds the originals.
  if (event.sealed !== undefined && event.sealed !== null) return { ...event, sealed: event.sealed };
  const specs = PERSONAL_PATHS[event.type];
  if (specs === undefined) return { ...event, sealed: null };
  const branch = branchOf(event);
  // Fail closed: a personal type whose body is keyed under another branch (a record read back from the topic and
  // altered, say) would otherwise go out unsealed.
  if (branch === undefined)
    throw new PrivacyError(
      'PRIVACY_INVALID_ARGUMENT',
      `chat event ${event.event_id} of type ${event.type.slice(0, 80)} has no body branch of that type`,
    );
  if (key === 'erased') {
    // No key: the clear stand-ins and the paths only, nothing encrypted.
    const { clear, paths } = sealValues(branch, specs, null, chatEventField(event.event_id));
    if (paths.length === 0) return { ...event, sealed: null };
    return withBranch(event, clear, {
      key_scope: scope,
      key_version: ERASED_KEY_VERSION,
      envelope: null,
      paths,
    });
  }
  checkKeyScope(key, scope);
  const { clear, envelope, paths } = sealValues(branch, specs, key, chatEventField(event.event_id));
  if (envelope === null) return { ...event, sealed: null };
  return withBranch(event, clear, { key_scope: scope, key_version: key.version, envelope, paths });
}

/**
 * The event with its personal values put back (`sealed` then null) — outcome `opened`; `plain` when it was not
 * sealed. `erased` (the scope's key was erased, or the envelope was dropped on arrival) and `undecryptable`
 * (tampered or malformed envelope, or one of another key version) return the clear record as it is: personal
 * values null, [] or reduced; the caller counts them and processes the event normally.
 * `states` is the batch's key map or a lookup (`KeyStates`: the state of `sealed.key_scope` is taken from it), or one
 * state, which must then be the one of `sealed.key_scope` (`scopeToOpen`), not of `chatEventKeyScope`: a state of
 * another scope throws PRIVACY_INVALID_ARGUMENT (a caller bug, not retryable).
 * Throws PRIVACY_KEY_UNAVAILABLE (retryable) when an envelope exists and its state is absent or undefined.
 */
export function openChatEvent<E extends SealableChatEvent>(
  event: E,
  states: ChatKeyState | KeyStates | undefined,
): { event: WithSealed<E>; outcome: OpenOutcome } {
  const sealed = event.sealed ?? null;
  if (sealed === null) return { event: { ...event, sealed: null }, outcome: 'plain' };
  const kept = { ...event, sealed };
  if (sealed.envelope === null) return { event: kept, outcome: 'erased' };
  const state = keyStateFor(states, sealed.key_scope);
  if (state === undefined || state.state === 'absent')
    throw new PrivacyError(
      'PRIVACY_KEY_UNAVAILABLE',
      `no key for scope "${sealed.key_scope.slice(0, 80)}" of sealed chat event ${event.event_id}`,
    );
  if (state.state === 'erased') return { event: kept, outcome: 'erased' };
  checkKeyScope(state.key, sealed.key_scope);
  const branch = branchOf(event);
  if (branch === undefined) return { event: kept, outcome: 'undecryptable' };
  try {
    const open = openValues(branch, sealed.envelope, state.key, chatEventField(event.event_id));
    return { event: withBranch(event, open, null), outcome: 'opened' };
  } catch (err) {
    // Tampered, another key version, or pointers the clear record lacks: the clear values stand.
    if (
      err instanceof PrivacyError &&
      (err.code === 'PRIVACY_CIPHERTEXT_INVALID' || err.code === 'PRIVACY_INVALID_ARGUMENT')
    )
      return { event: kept, outcome: 'undecryptable' };
    throw err;
  }
}
