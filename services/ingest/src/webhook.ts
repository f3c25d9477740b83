import { IngestError } from './errors.js';

export type JsonObject = { [key: string]: unknown };

/** What ingest learns from a body before authenticating it: the format, the action and where things live. */
export interface ClassifiedWebhook {
  readonly format: 'v2' | 'v3';
  /** The v3 action or the v2 event_type (unknown values are accepted). */
  readonly action: string;
  readonly body: JsonObject;
  /** license_id / organization_id from the body, as a string. */
  readonly bodyTenant: string | null;
  readonly webhookId: string | null;
  /** v3 only: the body's secret_key when it is a string. */
  readonly secretKey: string | undefined;
  readonly chatId: string | null;
  readonly threadId: string | null;
  readonly apiVersion: string | null;
}

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function str(value: unknown): string | null {
  return typeof value === 'string' && value !== '' ? value : null;
}

function idString(value: unknown): string | null {
  if (typeof value === 'string' && value !== '') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return null;
}

function field(obj: unknown, key: string): unknown {
  return isJsonObject(obj) ? obj[key] : undefined;
}

/** Actions of v3.6 and later only (for the api_version hint). */
const V36_ACTIONS = new Set(['event_deleted', 'thread_summary_set']);
/** Actions that first appeared in v3.5. */
const V35_ACTIONS = new Set(['auto_accesses_updated', 'tag_created', 'tag_updated', 'tag_deleted']);

/**
 * Tells v2 from v3 (by `event_type` / `action`) and reads the envelope. Throws INGEST_UNRECOGNIZED_WEBHOOK for
 * JSON that is neither.
 */
export function classifyWebhook(body: unknown): ClassifiedWebhook {
  if (!isJsonObject(body)) {
    throw new IngestError('INGEST_UNRECOGNIZED_WEBHOOK', `expected a JSON object, got ${Array.isArray(body) ? 'an array' : body === null ? 'null' : typeof body}`);
  }
  const hasAction = 'action' in body;
  const hasEventType = 'event_type' in body;
  if (hasAction && hasEventType) {
    throw new IngestError('INGEST_UNRECOGNIZED_WEBHOOK', 'body has both "action" (v3) and "event_type" (v2); cannot tell the format');
  }
  if (hasAction) {
    const action = str(body.action);
    if (action === null) throw new IngestError('INGEST_UNRECOGNIZED_WEBHOOK', '"action" must be a non-empty string');
    if (action.length > MAX_ACTION_LENGTH) throw new IngestError('INGEST_UNRECOGNIZED_WEBHOOK', `"action" is longer than ${MAX_ACTION_LENGTH} characters`);
    return classifyV3(body, action);
  }
  if (hasEventType) {
    const eventType = str(body.event_type);
    if (eventType === null) throw new IngestError('INGEST_UNRECOGNIZED_WEBHOOK', '"event_type" must be a non-empty string');
    if (eventType.length > MAX_ACTION_LENGTH) throw new IngestError('INGEST_UNRECOGNIZED_WEBHOOK', `"event_type" is longer than ${MAX_ACTION_LENGTH} characters`);
    return classifyV2(body, eventType);
  }
  throw new IngestError('INGEST_UNRECOGNIZED_WEBHOOK', 'body has neither "action" (v3 webhook) nor "event_type" (v2 webhook)');
}

/** What a tenant id from the body may look like: the path label's alphabet, so it is safe as a Kafka key part. */
const TENANT_ID = /^[A-Za-z0-9._-]{1,128}$/;
/** Longest accepted action / event_type (LiveChat's are snake_case words). */
export const MAX_ACTION_LENGTH = 128;

/** The body's organization_id: absent (null, missing or ''), or 1–128 of [A-Za-z0-9._-]. */
function organizationIdOf(value: unknown): string | null {
  if (value === undefined || value === null || value === '') return null;
  if (typeof value !== 'string' || !TENANT_ID.test(value)) {
    throw new IngestError('INGEST_INVALID_TENANT_ID', 'organization_id must be a string of 1-128 characters of A-Z a-z 0-9 . _ -');
  }
  return value;
}

/** The body's license_id: absent (null, missing or ''), or a non-negative safe integer (a number or its digits). */
function licenseIdOf(value: unknown): string | null {
  if (value === undefined || value === null || value === '') return null;
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return String(value);
  if (typeof value === 'string' && /^\d{1,16}$/.test(value) && Number.isSafeInteger(Number(value))) return value;
  throw new IngestError('INGEST_INVALID_TENANT_ID', 'license_id must be a non-negative safe integer (a number or a string of digits)');
}

/** Longest chat / thread / webhook id: they become the Kafka key and record fields besides the body. */
export const MAX_ID_LENGTH = 256;

/**
 * An id that is stored beside the body (and keys the record): LiveChat's are short; a long one would make the
 * record larger than the body limit allows for, so the broker would refuse it (a retryable 503 for ever).
 */
function bounded(name: string, id: string | null): string | null {
  if (id !== null && id.length > MAX_ID_LENGTH) {
    throw new IngestError('INGEST_ID_TOO_LONG', `${name} is longer than ${MAX_ID_LENGTH} characters`);
  }
  return id;
}

function classifyV3(body: JsonObject, action: string): ClassifiedWebhook {
  const organizationId = organizationIdOf(body.organization_id);
  const licenseId = licenseIdOf(body.license_id);
  const payload = body.payload;
  return {
    format: 'v3',
    action,
    body,
    bodyTenant: organizationId ?? licenseId,
    webhookId: bounded('webhook_id', str(body.webhook_id)),
    secretKey: typeof body.secret_key === 'string' ? body.secret_key : undefined,
    chatId: bounded('chat_id', v3ChatId(action, payload)),
    threadId: bounded('thread_id', v3ThreadId(payload)),
    apiVersion: v3ApiVersion(body, action, organizationId !== null, typeof body.license_id === 'number'),
  };
}

function classifyV2(body: JsonObject, eventType: string): ClassifiedWebhook {
  return {
    format: 'v2',
    action: eventType,
    body,
    // The same precedence as the parser's (organization_id, then license_id), so the tenant the ingest checks
    // is the tenant the normalizer maps the events to, whatever the body carries.
    bodyTenant: organizationIdOf(body.organization_id) ?? licenseIdOf(body.license_id),
    webhookId: null,
    secretKey: undefined,
    chatId: bounded('chat.id', idString(field(body.chat, 'id'))),
    threadId: null,
    apiVersion: '2',
  };
}

/** Where each v3 action keeps its chat id. */
function v3ChatId(action: string, payload: unknown): string | null {
  switch (action) {
    case 'incoming_chat':
    case 'incoming_chat_thread':
      return idString(field(field(payload, 'chat'), 'id')) ?? idString(field(payload, 'chat_id'));
    case 'chat_access_updated':
    case 'chat_access_granted':
    case 'chat_access_revoked':
    case 'access_granted':
    case 'access_revoked':
    case 'access_set':
      return idString(field(payload, 'id')) ?? idString(field(payload, 'chat_id'));
    case 'customer_session_fields_updated':
      return idString(field(field(payload, 'active_chat'), 'chat_id'));
    default:
      return idString(field(payload, 'chat_id'));
  }
}

function v3ThreadId(payload: unknown): string | null {
  return (
    idString(field(payload, 'thread_id')) ??
    idString(field(field(field(payload, 'chat'), 'thread'), 'id')) ??
    idString(field(field(payload, 'active_chat'), 'thread_id'))
  );
}

/** A hint, not a fact: LiveChat does not say which API version a delivery is in. */
function v3ApiVersion(body: JsonObject, action: string, hasOrganizationId: boolean, numericLicenseId: boolean): string | null {
  if (hasOrganizationId) {
    if ('requester' in body || V36_ACTIONS.has(action)) return '3.6+';
    if (V35_ACTIONS.has(action)) return '3.5+';
    return '3.4+';
  }
  if (numericLicenseId) return '3.2/3.3';
  return null;
}
