import { LiveChatParseError } from './errors.js';
import { idAt, isJsonObject, objectAt, stringAt } from './json.js';
import type { JsonObject } from './json.js';
import type { SourceFormat } from './types.js';

/**
 * What a webhook body says about itself before it is parsed: its generation, its discriminator, whose it is, which
 * chat and thread it is about. The ingest keys and stores the raw record by it and the parser maps events by it,
 * so both name the same tenant and the same chat for every body.
 *
 * Raw reading only: the values are as the body has them (an id sent as a number becomes its decimal text). Bounds
 * for hostile input (id lengths, the tenant id's alphabet) are the caller's.
 */
export interface WebhookEnvelope {
  readonly format: SourceFormat;
  /** The v3 `action` or the v2 `event_type` (unknown values included). */
  readonly action: string;
  readonly body: JsonObject;
  /** `organization_id` (v3.4+, v2 when sent), else `license_id` as text (v3.2/3.3 number, v2 string); else null. */
  readonly tenant: string | null;
  /** The chat the webhook is about (where each action keeps it, see `envelopeChatId`); null when none. */
  readonly chatId: string | null;
  /** v3 only: `payload.thread_id`, else `payload.chat.thread.id`, else `payload.active_chat.thread_id`. */
  readonly threadId: string | null;
  /** v3 only: the registration's `webhook_id`. */
  readonly webhookId: string | null;
  /**
   * A hint, not a fact (LiveChat does not say which API version a delivery is in): v2 → `'2'`; v3 with an
   * `organization_id` → `'3.6+'` (a `requester`, or a 3.6-only action), `'3.5+'` (a 3.5 action) or `'3.4+'`; v3 with a
   * numeric `license_id` → `'3.2/3.3'`; else null.
   */
  readonly apiVersionHint: string | null;
}

/**
 * Which generation a body is, by the discriminator key it carries: `action` → v3, `event_type` → v2.
 *
 * A body carrying both keys is refused (`LIVECHAT_DISCRIMINATOR_AMBIGUOUS`), whatever their values: LiveChat never
 * sends both, so such a body is forged or broken, and guessing would let the sender choose which reading (and
 * which tenant, chat and key rules) applies. The ingest answers it 422, so no stored record carries one.
 * A discriminator that is present must be a non-empty string (`LIVECHAT_DISCRIMINATOR_MISSING` otherwise).
 */
function discriminate(
  body: unknown,
): { format: SourceFormat; action: string; body: JsonObject } | LiveChatParseError {
  if (!isJsonObject(body)) {
    return new LiveChatParseError('LIVECHAT_NOT_AN_OBJECT', 'a LiveChat webhook body must be a JSON object', {
      details: { received: body === null ? 'null' : Array.isArray(body) ? 'array' : typeof body },
    });
  }
  const hasAction = Object.hasOwn(body, 'action');
  const hasEventType = Object.hasOwn(body, 'event_type');
  if (hasAction && hasEventType) {
    return new LiveChatParseError(
      'LIVECHAT_DISCRIMINATOR_AMBIGUOUS',
      'the body has both "action" (v3) and "event_type" (v2); cannot tell the format',
    );
  }
  if (!hasAction && !hasEventType) {
    return new LiveChatParseError(
      'LIVECHAT_DISCRIMINATOR_MISSING',
      'the body has neither "action" (v3 webhook) nor "event_type" (v2 webhook)',
    );
  }
  const key = hasAction ? 'action' : 'event_type';
  const action = stringAt(body, key);
  if (action === null) {
    return new LiveChatParseError('LIVECHAT_DISCRIMINATOR_MISSING', `"${key}" must be a non-empty string`, {
      details: { discriminator: key },
    });
  }
  return { format: hasAction ? 'v3' : 'v2', action, body };
}

/**
 * Reads a webhook body's envelope (pure, linear in nothing but the envelope's few fields).
 *
 * @throws LiveChatParseError `LIVECHAT_NOT_AN_OBJECT`, `LIVECHAT_DISCRIMINATOR_MISSING`,
 *   `LIVECHAT_DISCRIMINATOR_AMBIGUOUS`.
 */
export function readEnvelope(body: unknown): WebhookEnvelope {
  const found = discriminate(body);
  if (found instanceof LiveChatParseError) throw found;
  const { format, action } = found;
  const object = found.body;
  const tenant = envelopeTenant(object);
  if (format === 'v2') {
    return {
      format,
      action,
      body: object,
      tenant,
      chatId: idAt(objectAt(object, 'chat'), 'id'),
      threadId: null,
      webhookId: null,
      apiVersionHint: '2',
    };
  }
  const payload = objectAt(object, 'payload');
  return {
    format,
    action,
    body: object,
    tenant,
    chatId: envelopeChatId(action, payload),
    threadId: envelopeThreadId(payload),
    webhookId: stringAt(object, 'webhook_id'),
    apiVersionHint: v3ApiVersionHint(object, action),
  };
}

/** The format when `readEnvelope` would accept the body's discriminator, else null. */
export function detectFormat(body: unknown): SourceFormat | null {
  const found = discriminate(body);
  return found instanceof LiveChatParseError ? null : found.format;
}

/** The v3 `action` or the v2 `event_type` when `readEnvelope` would accept it, else null. */
export function webhookDiscriminator(body: unknown): string | null {
  const found = discriminate(body);
  return found instanceof LiveChatParseError ? null : found.action;
}

/** The tenant a body names (`readEnvelope(body).tenant`), for any JSON value; null when it names none. */
export function webhookTenant(body: unknown): string | null {
  return isJsonObject(body) ? envelopeTenant(body) : null;
}

/** organization_id first, then license_id: in v2 too, so every reader maps a body to one tenant. */
function envelopeTenant(body: JsonObject): string | null {
  return stringAt(body, 'organization_id') ?? idAt(body, 'license_id');
}

/** Where each v3 action keeps its chat id. */
function envelopeChatId(action: string, payload: JsonObject | undefined): string | null {
  switch (action) {
    case 'incoming_chat':
    case 'incoming_chat_thread':
      return idAt(objectAt(payload, 'chat'), 'id') ?? idAt(payload, 'chat_id');
    case 'chat_access_updated':
    case 'chat_access_granted':
    case 'chat_access_revoked':
    case 'access_granted':
    case 'access_revoked':
    case 'access_set':
      return idAt(payload, 'id') ?? idAt(payload, 'chat_id');
    case 'customer_session_fields_updated':
      return idAt(objectAt(payload, 'active_chat'), 'chat_id');
    default:
      return idAt(payload, 'chat_id');
  }
}

function envelopeThreadId(payload: JsonObject | undefined): string | null {
  return (
    idAt(payload, 'thread_id') ??
    idAt(objectAt(objectAt(payload, 'chat'), 'thread'), 'id') ??
    idAt(objectAt(payload, 'active_chat'), 'thread_id')
  );
}

/** Actions of v3.6 and later only. */
const V36_ACTIONS = new Set(['event_deleted', 'thread_summary_set']);
/** Actions that first appeared in v3.5. */
const V35_ACTIONS = new Set(['auto_accesses_updated', 'tag_created', 'tag_updated', 'tag_deleted']);

function v3ApiVersionHint(body: JsonObject, action: string): string | null {
  if (stringAt(body, 'organization_id') !== null) {
    if (Object.hasOwn(body, 'requester') || V36_ACTIONS.has(action)) return '3.6+';
    if (V35_ACTIONS.has(action)) return '3.5+';
    return '3.4+';
  }
  if (typeof body['license_id'] === 'number') return '3.2/3.3';
  return null;
}
