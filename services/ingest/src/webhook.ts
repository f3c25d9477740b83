import {
  LiveChatParseError,
  readEnvelope,
  type JsonObject as EnvelopeBody,
  type WebhookEnvelope,
} from '@livechat-pipeline/livechat';
import { IngestError } from './errors.js';

/** A body as the ingest handles it (redaction copies it and replaces fields). */
export type JsonObject = { [key: string]: unknown };

/**
 * What ingest learns from a body before authenticating it: livechat's envelope (`readEnvelope`, the reading the
 * parser maps events by), checked against the ingest's bounds for hostile input.
 */
export interface ClassifiedWebhook {
  readonly format: 'v2' | 'v3';
  /** The v3 action or the v2 event_type (unknown values are accepted). */
  readonly action: string;
  readonly body: JsonObject;
  /** The envelope's tenant (organization_id, then license_id), validated. */
  readonly bodyTenant: string | null;
  readonly webhookId: string | null;
  /** v3 only: the body's secret_key when it is a string. */
  readonly secretKey: string | undefined;
  readonly chatId: string | null;
  readonly threadId: string | null;
  readonly apiVersion: string | null;
}

/** Longest accepted action / event_type (LiveChat's are snake_case words). */
export const MAX_ACTION_LENGTH = 128;
/** Longest chat / thread / webhook id: they become the Kafka key and record fields besides the body. */
export const MAX_ID_LENGTH = 256;

/**
 * Reads the envelope (`readEnvelope` of @livechat-pipeline/livechat) and holds it to the ingest's bounds. Throws
 * INGEST_UNRECOGNIZED_WEBHOOK for JSON that is not one webhook (not an object; no discriminator; both `action` and
 * `event_type`, which livechat refuses too), INGEST_INVALID_TENANT_ID and INGEST_ID_TOO_LONG.
 */
export function classifyWebhook(body: unknown): ClassifiedWebhook {
  let envelope: WebhookEnvelope;
  try {
    envelope = readEnvelope(body);
  } catch (err) {
    if (err instanceof LiveChatParseError) throw new IngestError('INGEST_UNRECOGNIZED_WEBHOOK', err.message);
    throw err;
  }
  const { format, action } = envelope;
  if (action.length > MAX_ACTION_LENGTH) {
    const key = format === 'v3' ? 'action' : 'event_type';
    throw new IngestError(
      'INGEST_UNRECOGNIZED_WEBHOOK',
      `"${key}" is longer than ${MAX_ACTION_LENGTH} characters`,
    );
  }
  checkTenantFields(envelope.body, format);
  return {
    format,
    action,
    body: envelope.body as JsonObject,
    // After checkTenantFields, the envelope's tenant is the validated one: the tenant the parser maps events to.
    bodyTenant: envelope.tenant,
    webhookId: bounded('webhook_id', envelope.webhookId),
    secretKey:
      format === 'v3' && typeof envelope.body['secret_key'] === 'string'
        ? envelope.body['secret_key']
        : undefined,
    chatId: bounded(format === 'v3' ? 'chat_id' : 'chat.id', envelope.chatId),
    threadId: bounded('thread_id', envelope.threadId),
    apiVersion: envelope.apiVersionHint,
  };
}

/** What a tenant id from the body may look like: the path label's alphabet, so it is safe as a Kafka key part. */
const TENANT_ID = /^[A-Za-z0-9._-]{1,128}$/;

/**
 * The body's organization_id is absent (null, missing or '') or 1–128 of [A-Za-z0-9._-]; its license_id is absent
 * or a non-negative safe integer (a number or its digits). Checked on the raw fields, so a value the envelope would
 * pass over (an organization_id of the wrong type) is refused rather than read past. A v2 body's license_id is
 * checked only when it has no organization_id (it is then not its tenant); a v3 body's always.
 */
function checkTenantFields(body: EnvelopeBody, format: 'v2' | 'v3'): void {
  const organizationId = body['organization_id'];
  if (!absent(organizationId) && (typeof organizationId !== 'string' || !TENANT_ID.test(organizationId))) {
    throw new IngestError(
      'INGEST_INVALID_TENANT_ID',
      'organization_id must be a string of 1-128 characters of A-Z a-z 0-9 . _ -',
    );
  }
  const licenseId = body['license_id'];
  if (absent(licenseId) || (format === 'v2' && !absent(organizationId))) return;
  if (typeof licenseId === 'number' && Number.isSafeInteger(licenseId) && licenseId >= 0) return;
  if (
    typeof licenseId === 'string' &&
    /^\d{1,16}$/.test(licenseId) &&
    Number.isSafeInteger(Number(licenseId))
  )
    return;
  throw new IngestError(
    'INGEST_INVALID_TENANT_ID',
    'license_id must be a non-negative safe integer (a number or a string of digits)',
  );
}

function absent(value: unknown): boolean {
  return value === undefined || value === null || value === '';
}

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
