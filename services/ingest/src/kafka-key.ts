import { idAt, isJsonObject } from '@livechat-pipeline/livechat';
import { sha256 } from './event-id.js';
import type { ClassifiedWebhook } from './webhook.js';

/**
 * The Kafka key of a raw webhook: `<tenant>|<chat_id>` for anything about a chat, so that one chat stays on one
 * partition; otherwise the entity the webhook is about (`<tenant>|agent:<id>`, `|bot:<id>`, `|group:<id>`,
 * `|tag:<name>`, `|customer:<id>`, `|auto_accesses`, v2 `|ticket:<id>`, `|canned_response:<id>`,
 * `|visitor:<id>`); as a last resort `<tenant>|<event_id>`. An entity id over 256 characters is replaced by
 * `sha256:<hex of it>` so that a hostile id cannot make the key (and the record) large.
 */
export function kafkaKeyOf(webhook: ClassifiedWebhook, tenant: string | null, eventId: string): string {
  const t = tenant ?? '';
  if (webhook.chatId !== null) return `${t}|${webhook.chatId}`;
  const entity = webhook.format === 'v3' ? v3Entity(webhook) : v2Entity(webhook);
  return `${t}|${entity ?? eventId}`;
}

/** Entity ids longer than this key the record by their SHA-256 instead (shorter ids, i.e. LiveChat's, as they are). */
const MAX_KEY_ID_LENGTH = 256;

/** `<prefix>:<id>` of `source[key]` (a non-empty string or a finite number), else null. */
function prefixed(prefix: string, source: object | undefined, key: string): string | null {
  const v = idAt(isJsonObject(source) ? source : undefined, key);
  if (v === null) return null;
  return v.length > MAX_KEY_ID_LENGTH ? `${prefix}:sha256:${sha256(v)}` : `${prefix}:${v}`;
}

function v3Entity(w: ClassifiedWebhook): string | null {
  const payload = w.body.payload;
  if (w.action === 'auto_accesses_updated' || w.action.startsWith('auto_access_')) return 'auto_accesses';
  if (!isJsonObject(payload)) return null;
  if (w.action === 'routing_status_set' || w.action === 'agent_status_changed')
    return prefixed('agent', payload, 'agent_id');
  if (w.action.startsWith('agent_'))
    return prefixed('agent', payload, payload.id !== undefined && payload.id !== null ? 'id' : 'agent_id');
  if (w.action.startsWith('bot_')) return prefixed('bot', payload, 'id');
  if (w.action.startsWith('group_')) return prefixed('group', payload, 'id');
  if (w.action.startsWith('tag_')) return prefixed('tag', payload, 'name');
  if (
    w.action === 'incoming_customer' ||
    w.action === 'customer_created' ||
    w.action === 'customer_session_fields_updated'
  ) {
    return isJsonObject(payload.customer)
      ? prefixed('customer', payload.customer, 'id')
      : prefixed('customer', payload, 'id');
  }
  return null;
}

function v2Entity(w: ClassifiedWebhook): string | null {
  const b = w.body;
  if (isJsonObject(b.ticket)) return prefixed('ticket', b.ticket, 'id');
  if (isJsonObject(b.canned_response)) return prefixed('canned_response', b.canned_response, 'id');
  if (isJsonObject(b.visitor)) return prefixed('visitor', b.visitor, 'id');
  return null;
}
