import { PrivacyError, decryptBody, encryptBody } from '@livechat-pipeline/privacy';
import type { ChatKey, ChatKeyState } from '@livechat-pipeline/privacy';
import type { SealedBody } from './raw-webhook.js';
import { ERASED_KEY_VERSION, boundedKeyScope, keyStateFor } from './sealed-chat-event.js';
import type { KeyStates } from './sealed-chat-event.js';

// Issue 19 (docs/privacy.md sections 2 and 4): a raw webhook's whole redacted body is one envelope
// (`encryptBody`); the record's other fields are not personal and stay clear.

/** What sealing needs of a raw record: the hand-written `RawWebhook` and the generated one both are one. */
export interface RawWebhookRecord {
  readonly body: string;
  readonly sealed?: SealedBody | null;
}

/**
 * Configuration and routing webhooks: agents', bots' and the account's data, nothing of a customer (null scope).
 * LiveChat's configuration webhooks (Configuration API v3.x: agents, auto accesses, bots, groups, tags) named one by
 * one, with the routing status (v3.1 `agent_status_changed`) and v2 canned responses. An explicit list, not a prefix:
 * an action LiveChat adds later (a `bot_*` carrying a conversation, say) is sealed under `raw:<event_id>` until it is
 * listed here.
 */
const NOT_PERSONAL_ACTIONS: ReadonlySet<string> = new Set([
  ...['created', 'approved', 'updated', 'deleted', 'suspended', 'unsuspended'].map(
    (change) => `agent_${change}`,
  ),
  ...['added', 'updated', 'deleted'].map((change) => `auto_access_${change}`),
  'auto_accesses_updated',
  ...['created', 'updated', 'deleted'].flatMap((change) => [
    `bot_${change}`,
    `group_${change}`,
    `tag_${change}`,
  ]),
  'agent_status_changed',
  'routing_status_set',
  'canned_response_changed',
]);
/** Actions about one customer outside a chat (v3.2 `customer_created`, v3.3–3.5 `incoming_customer`, …). */
const CUSTOMER_ACTIONS = new Set([
  'incoming_customer',
  'customer_created',
  'customer_session_fields_updated',
]);

// The ids are read exactly as the parser (@livechat-pipeline/livechat) reads them into the events, so that a record and
// its events get the same scope: a customer's and a visitor's id only as a non-empty string (`stringAt`), a ticket's
// as a string or a number (`idAt`); the customer object is `payload.customer` when that is an object, else the
// payload itself (`objectAt(fields, 'customer') ?? fields`).

type JsonObject = Readonly<Record<string, unknown>>;

const objectAt = (value: unknown, key: string): JsonObject | undefined => {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const inner = (value as JsonObject)[key];
  return typeof inner === 'object' && inner !== null && !Array.isArray(inner)
    ? (inner as JsonObject)
    : undefined;
};

const stringAt = (source: JsonObject | undefined, key: string): string | null => {
  const value = source?.[key];
  return typeof value === 'string' && value !== '' ? value : null;
};

const idAt = (source: JsonObject | undefined, key: string): string | null => {
  const value = source?.[key];
  return typeof value === 'number' && Number.isFinite(value) ? String(value) : stringAt(source, key);
};

/**
 * The key scope of a raw webhook: its chat id; without one `customer:<id>` (incoming_customer and the other
 * customer actions), `visitor:<id>` (v2 visitor_queued), `ticket:<id>` (v2 ticket_created), null for configuration
 * and routing webhooks (nothing personal: not sealed), else `raw:<event_id>` (an unknown action, or an id missing;
 * also when the scope would be longer than `KEY_SCOPE_MAX`, which the vault refuses).
 * `body` is the parsed JSON body (a JSON string is parsed; anything else counts as no id). The same rules as
 * `chatEventKeyScope`, so a record and its events share a key.
 */
export function rawKeyScope(input: {
  action: string | null;
  chatId: string | null;
  eventId: string;
  body: unknown;
}): string | null {
  if (input.chatId !== null && input.chatId !== '') return boundedKeyScope(input.chatId, input.eventId);
  const action = input.action ?? '';
  if (NOT_PERSONAL_ACTIONS.has(action)) return null;
  let body = input.body;
  if (typeof body === 'string') {
    try {
      body = JSON.parse(body);
    } catch {
      body = undefined;
    }
  }
  let scoped: string | null = null;
  if (CUSTOMER_ACTIONS.has(action)) {
    const payload = objectAt(body, 'payload');
    const id = stringAt(objectAt(payload, 'customer') ?? payload, 'id');
    scoped = id === null ? null : `customer:${id}`;
  } else if (action === 'visitor_queued') {
    const id = stringAt(objectAt(body, 'visitor'), 'id');
    scoped = id === null ? null : `visitor:${id}`;
  } else if (action === 'ticket_created') {
    const id = idAt(objectAt(body, 'ticket'), 'id');
    scoped = id === null ? null : `ticket:${id}`;
  }
  return boundedKeyScope(scoped ?? `raw:${input.eventId}`, input.eventId);
}

/**
 * The key scope a reader must look up to open `record` (a raw webhook or a chat event): its `sealed.key_scope` when
 * it holds an envelope; null when it is plain or erased (no key needed). Collect these for one
 * `vault.keysFor(tenant, scopes, { create: false })` per batch and tenant.
 */
export function scopeToOpen(record: {
  readonly sealed?: { readonly key_scope: string; readonly envelope: Uint8Array | null } | null;
}): string | null {
  const sealed = record.sealed ?? null;
  return sealed === null || sealed.envelope === null ? null : sealed.key_scope;
}

/**
 * The record with its body sealed: `body` "" and `sealed` = `{ key_scope, key_version, envelope: encryptBody }`.
 * Key `'erased'` (the scope was erased): the body is dropped, `envelope` null and `key_version` 0. A record already
 * sealed is returned as it is. Pure.
 */
export function sealRawBody<T extends RawWebhookRecord>(
  record: T,
  scope: string,
  key: ChatKey | 'erased',
): T {
  // Already sealed: its body is "" and the envelope holds it; sealing again would lose it.
  if (record.sealed !== undefined && record.sealed !== null) return record;
  if (key === 'erased')
    return {
      ...record,
      body: '',
      sealed: { key_scope: scope, key_version: ERASED_KEY_VERSION, envelope: null },
    };
  if (key.chatId !== scope)
    throw new PrivacyError(
      'PRIVACY_INVALID_ARGUMENT',
      `the key is for scope "${key.chatId.slice(0, 80)}", not "${scope.slice(0, 80)}"`,
    );
  const envelope = encryptBody(key, Buffer.from(record.body, 'utf8'));
  return { ...record, body: '', sealed: { key_scope: scope, key_version: key.version, envelope } };
}

/**
 * The body in clear: a plain record's `body`; a sealed one's decrypted envelope; `{ erased: true }` when the body
 * was dropped on arrival (envelope null) or the scope's key is erased. Throws PRIVACY_CIPHERTEXT_INVALID (not
 * retryable) for a tampered envelope, PRIVACY_KEY_UNAVAILABLE (retryable) when an envelope exists and `state` is
 * absent or undefined. `states`: the batch's key map or a lookup (`KeyStates`, the state of `sealed.key_scope` is taken
 * from it), or one state, which must then be that of `sealed.key_scope` (else PRIVACY_INVALID_ARGUMENT).
 */
export function openRawBody(
  record: RawWebhookRecord,
  states: ChatKeyState | KeyStates | undefined,
): { body: string } | { erased: true } {
  const sealed = record.sealed ?? null;
  if (sealed === null) return { body: record.body };
  if (sealed.envelope === null) return { erased: true };
  const state = keyStateFor(states, sealed.key_scope);
  if (state === undefined || state.state === 'absent')
    throw new PrivacyError(
      'PRIVACY_KEY_UNAVAILABLE',
      `no key for scope "${sealed.key_scope.slice(0, 80)}" of a sealed raw webhook`,
    );
  if (state.state === 'erased') return { erased: true };
  if (state.key.chatId !== sealed.key_scope)
    throw new PrivacyError(
      'PRIVACY_INVALID_ARGUMENT',
      `the key is for scope "${state.key.chatId.slice(0, 80)}", not "${sealed.key_scope.slice(0, 80)}"`,
    );
  return { body: decryptBody(state.key, sealed.envelope).toString('utf8') };
}
