import { parseWebhook, LiveChatParseError, type ChatDomainEvent } from '@livechat-pipeline/livechat';
import type { RawWebhook } from '@livechat-pipeline/events';
import { NormalizerError } from './errors.js';

/**
 * One raw webhook → its domain events. Pure: the same raw record always gives the same events with
 * the same ids, which is what makes redelivered output harmless downstream.
 */
export function normalizeRawWebhook(raw: RawWebhook): ChatDomainEvent[] {
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
    });
  } catch (cause) {
    if (cause instanceof LiveChatParseError) {
      throw new NormalizerError('NORMALIZER_UNPARSABLE', `raw record ${raw.event_id}: ${cause.code}: ${cause.message}`, { cause });
    }
    throw cause;
  }
}

/** Each chat's events share a key, so a chat stays on one partition; other events keep the raw record's key. */
export function chatEventKey(event: ChatDomainEvent, rawKey: Buffer | null): string | Buffer | null {
  return event.chat_id !== null ? `${event.tenant}|${event.chat_id}` : rawKey;
}
