import {
  parseArchiveThread,
  parseWebhook,
  webhookTenant,
  LiveChatParseError,
  type ChatDomainEvent,
  type LiveChatParseErrorCode,
  type ParseLimits,
} from '@livechat-pipeline/livechat';
import { rawRecordKind } from '@livechat-pipeline/events';
import type { RawWebhook } from '@livechat-pipeline/events';
import { NormalizerError } from './errors.js';

/** Parser refusals that are a limit of ours, not a malformed body: dead-lettered as NORMALIZER_OVER_LIMIT. */
const LIMIT_CODES: ReadonlySet<LiveChatParseErrorCode> = new Set([
  'LIVECHAT_TOO_MANY_EVENTS',
  'LIVECHAT_TOO_MANY_THREADS',
  'LIVECHAT_TOO_MANY_USERS',
  'LIVECHAT_TOO_DEEP',
]);

/** Parser refusals of an archive record's body: not a chat with a thread. */
const ARCHIVE_CODES: ReadonlySet<LiveChatParseErrorCode> = new Set([
  'LIVECHAT_ARCHIVE_NOT_A_THREAD',
  'LIVECHAT_NOT_AN_OBJECT',
  'LIVECHAT_TENANT_UNKNOWN',
]);

/**
 * One raw webhook → its domain events. An archive record (`archive` set: a thread read from the Agent Chat API) is
 * mapped by `parseArchiveThread` to the events, with the ids, its webhooks give. Pure: the same raw record always gives the same events with
 * the same ids, which is what makes redelivered output harmless downstream.
 *
 * The record's tenant is the one the ingest authenticated: a body that names another tenant (which the ingest
 * refuses today, but the raw log is kept forever and replayed) is never mapped under the body's tenant.
 *
 * @throws NormalizerError, never anything else: `NORMALIZER_BODY_NOT_JSON`, `NORMALIZER_TENANT_MISMATCH`, `NORMALIZER_UNPARSABLE` (the parser
 *   refused the body), `NORMALIZER_ARCHIVE_INVALID` (an archive record whose body is not a chat with a thread, or
 *   without a tenant), `NORMALIZER_OVER_LIMIT` (over a parse limit), `NORMALIZER_PARSER_FAILED` (the parser threw
 *   something it does not declare: a bug, which the same bytes would hit again, so a dead letter, not a retry).
 */
export function normalizeRawWebhook(raw: RawWebhook, limits?: Partial<ParseLimits>): ChatDomainEvent[] {
  let body: unknown;
  try {
    body = JSON.parse(raw.body);
  } catch (cause) {
    // The cause's message may quote the body: it stays out of the dead letter's message.
    throw new NormalizerError('NORMALIZER_BODY_NOT_JSON', `raw record ${raw.event_id}: body is not JSON`, {
      cause,
    });
  }
  const named = webhookTenant(body);
  if (named !== null && raw.tenant !== null && named !== raw.tenant) {
    throw new NormalizerError(
      'NORMALIZER_TENANT_MISMATCH',
      `raw record ${raw.event_id}: the body names another tenant than the record's (${raw.tenant.slice(0, 128)})`,
    );
  }
  const archive = rawRecordKind(raw) === 'archive';
  const context = {
    rawEventId: raw.event_id,
    receivedAtMicros: raw.received_at,
    tenantHint: raw.tenant,
    apiVersion: raw.api_version,
    ...(limits === undefined ? {} : { limits }),
    ...(raw.archive === undefined || raw.archive === null
      ? {}
      : {
          archive: {
            readAtMicros: raw.archive.read_at,
            part: raw.archive.part,
            parts: raw.archive.parts,
          },
        }),
  };
  try {
    return archive ? parseArchiveThread(body, context) : parseWebhook(body, context);
  } catch (cause) {
    if (cause instanceof LiveChatParseError) {
      const code = LIMIT_CODES.has(cause.code)
        ? 'NORMALIZER_OVER_LIMIT'
        : archive && ARCHIVE_CODES.has(cause.code)
          ? 'NORMALIZER_ARCHIVE_INVALID'
          : 'NORMALIZER_UNPARSABLE';
      throw new NormalizerError(code, `raw record ${raw.event_id}: ${cause.code}: ${cause.message}`, {
        cause,
      });
    }
    throw new NormalizerError(
      'NORMALIZER_PARSER_FAILED',
      `raw record ${raw.event_id}: the parser failed: ${describeUnexpected(cause)}`,
      {
        cause,
      },
    );
  }
}

/**
 * Names an error nobody declared: its class and, when it has one, its string code; never its message. The code
 * throwing it runs over opened (clear) bodies, and V8 messages quote values (`Cannot create property 'x' on string
 * 'john@example.com'`): a message would carry personal text into dead letters (kept forever, never
 * crypto-shredded), log lines and span status.
 */
export function describeUnexpected(error: unknown): string {
  if (!(error instanceof Error)) return `a thrown ${typeof error}`;
  const code = (error as { code?: unknown }).code;
  const name = error.name.slice(0, 64);
  return typeof code === 'string' ? `${name} (${code.slice(0, 64)})` : name;
}

/** Each chat's events share a key, so a chat stays on one partition; other events keep the raw record's key. */
export function chatEventKey(event: ChatDomainEvent, rawKey: Buffer | null): string | Buffer | null {
  return event.chat_id !== null ? `${event.tenant}|${event.chat_id}` : rawKey;
}
