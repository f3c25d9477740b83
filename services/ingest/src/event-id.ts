import { hash } from 'node:crypto';
import { canonicalJson, idAt, isJsonObject } from '@livechat-pipeline/livechat';
import type { ClassifiedWebhook, JsonObject } from './webhook.js';

/**
 * The deterministic event_id of a webhook: SHA-256 (hex) of a dedup key, so that LiveChat's redeliveries of the
 * same webhook get the same id. Keys (tenant = the record's tenant, '' when none):
 *
 * | webhook                                         | key                                                                 |
 * |-------------------------------------------------|---------------------------------------------------------------------|
 * | v3 incoming_event                               | v3|tenant|chat_id|thread_id|event.id|action                          |
 * | v3 event_updated                                | v3|tenant|chat_id|thread_id|event.id|action|sha256(canonical event)   |
 * | v3 event_deleted                                | v3|tenant|chat_id|thread_id|event_id|action                          |
 * | v3 event_properties_updated / _deleted          | v3|tenant|chat_id|thread_id|event_id|action|sha256(canonical props)   |
 * | v3 incoming_chat                                | v3|tenant|chat.id|chat.thread.id|action                             |
 * | v3 chat_deactivated                             | v3|tenant|chat_id|thread_id|action                                  |
 * | v3 thread_tagged / thread_untagged              | v3|tenant|chat_id|thread_id|tag|action                              |
 * | v2 with event_unique_id                         | v2|tenant|event_unique_id                                           |
 * | anything else, or a natural key with a part missing | body|sha256(canonical redacted body minus webhook_id, secret_key) |
 * | a natural key with a '|' inside a part          | json|<the parts as a JSON array>                                     |
 *
 * Edits (event_updated, property changes) carry a hash of their content: two different edits of one event stay
 * two records, a retried edit stays one. Canonical JSON = livechat's `canonicalJson` (keys sorted at every level,
 * no whitespace), the form the parser's event ids hash too.
 */
export function eventIdOf(
  webhook: ClassifiedWebhook,
  tenant: string | null,
  redactedBody: JsonObject,
): string {
  return sha256(dedupKey(webhook, tenant ?? '', redactedBody));
}

export function dedupKey(webhook: ClassifiedWebhook, tenant: string, redactedBody: JsonObject): string {
  const natural = naturalKey(webhook, tenant);
  if (natural !== null) return natural;
  const { webhook_id: _webhookId, secret_key: _secretKey, ...rest } = redactedBody;
  return `body|${sha256(canonicalJson(rest))}`;
}

function naturalKey(w: ClassifiedWebhook, tenant: string): string | null {
  const body = w.body;
  if (w.format === 'v2') {
    const unique = body.event_unique_id;
    return typeof unique === 'string' && unique !== '' ? key('v2', tenant, unique) : null;
  }
  const payload = isJsonObject(body.payload) ? body.payload : undefined;
  if (payload === undefined) return null;
  const chat = w.chatId;
  const thread = w.threadId;
  switch (w.action) {
    case 'incoming_event': {
      const id = idAt(isJsonObject(payload.event) ? payload.event : undefined, 'id');
      return key('v3', tenant, chat, thread, id, w.action);
    }
    case 'event_updated': {
      const event = payload.event;
      const id = idAt(isJsonObject(event) ? event : undefined, 'id');
      return key('v3', tenant, chat, thread, id, w.action, sha256(canonicalJson(event)));
    }
    case 'event_deleted': {
      const id = idAt(payload, 'event_id');
      return key('v3', tenant, chat, thread, id, w.action);
    }
    case 'event_properties_updated':
    case 'event_properties_deleted': {
      const id = idAt(payload, 'event_id');
      return key('v3', tenant, chat, thread, id, w.action, sha256(canonicalJson(payload.properties ?? null)));
    }
    case 'incoming_chat':
    case 'chat_deactivated':
      return key('v3', tenant, chat, thread, w.action);
    case 'thread_tagged':
    case 'thread_untagged': {
      const tag = idAt(payload, 'tag');
      return key('v3', tenant, chat, thread, tag, w.action);
    }
    default:
      return null;
  }
}

/**
 * The parts joined by '|', or null when a part is missing. When a part itself contains the separator, the
 * joined form would be ambiguous (chat `a|b` + thread `c` = chat `a` + thread `b|c`), so such a key is
 * `json|` + the parts as a JSON array instead: injective, and unlike every unescaped key (which starts with
 * `v2|` or `v3|`). Keys without a '|' in any part — every key LiveChat's ids produce — are unchanged, and so
 * are the event ids of records already stored.
 */
function key(...parts: (string | null)[]): string | null {
  if (!parts.every((p): p is string => p !== null)) return null;
  return parts.some((p) => p.includes('|')) ? `json|${JSON.stringify(parts)}` : parts.join('|');
}

export function sha256(text: string): string {
  return hash('sha256', text, 'hex');
}
