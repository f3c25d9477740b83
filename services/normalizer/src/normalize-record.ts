import { parseWebhook, LiveChatParseError, type ChatDomainEvent, type LiveChatParseErrorCode, type ParseLimits } from '@livechat-pipeline/livechat';
import type { RawWebhook } from '@livechat-pipeline/events';
import { NormalizerError } from './errors.js';

/** Parser refusals that are a limit of ours, not a malformed body: dead-lettered as NORMALIZER_OVER_LIMIT. */
const LIMIT_CODES: ReadonlySet<LiveChatParseErrorCode> = new Set([
  'LIVECHAT_TOO_MANY_EVENTS',
  'LIVECHAT_TOO_MANY_THREADS',
  'LIVECHAT_TOO_MANY_USERS',
  'LIVECHAT_TOO_DEEP',
]);

/**
 * One raw webhook → its domain events. Pure: the same raw record always gives the same events with
 * the same ids, which is what makes redelivered output harmless downstream.
 *
 * @throws NormalizerError `NORMALIZER_BODY_NOT_JSON`, `NORMALIZER_UNPARSABLE` (the parser
 *   refused the body), `NORMALIZER_OVER_LIMIT` (over a parse limit).
 */
export function normalizeRawWebhook(raw: RawWebhook, limits?: Partial<ParseLimits>): ChatDomainEvent[] {
  let body: unknown;
  try {
    body = JSON.parse(raw.body);
  } catch (cause) {
    throw new NormalizerError('NORMALIZER_BODY_NOT_JSON', `raw record ${raw.event_id}: body is not JSON`, { cause });
  }
  try {
    return parseWebhook(body, {
      rawEventId: raw.event_id,
      receivedAtMicros: raw.received_at,
      tenantHint: raw.tenant,
      apiVersion: raw.api_version,
      ...(limits === undefined ? {} : { limits }),
    });
  } catch (cause) {
    if (cause instanceof LiveChatParseError) {
      const code = LIMIT_CODES.has(cause.code) ? 'NORMALIZER_OVER_LIMIT' : 'NORMALIZER_UNPARSABLE';
      throw new NormalizerError(code, `raw record ${raw.event_id}: ${cause.code}: ${cause.message}`, { cause });
    }
    throw cause;
  }
}

/** Each chat's events share a key, so a chat stays on one partition; other events keep the raw record's key. */
export function chatEventKey(event: ChatDomainEvent, rawKey: Buffer | null): string | Buffer | null {
  return event.chat_id !== null ? `${event.tenant}|${event.chat_id}` : rawKey;
}
