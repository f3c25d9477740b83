import { chatEventSchema } from './chat-event.js';
import type { ChatEvent } from './generated/chat-event.js';
import type { RawWebhook } from './generated/raw-webhook.js';
import { rawWebhookSchema } from './raw-webhook.js';
import type { ConfluentAvroSerde } from './serde.js';

/**
 * A `livechat.chat-events` value, decoded with its writer schema and resolved to the current chat-event schema
 * (fields added since it was written are at their defaults).
 */
export function readChatEvent(serde: ConfluentAvroSerde, bytes: Buffer): Promise<ChatEvent> {
  return serde.reader(chatEventSchema()).read(bytes);
}

/** A `livechat.webhooks.raw` value, resolved to the current raw-webhook schema. */
export function readRawWebhook(serde: ConfluentAvroSerde, bytes: Buffer): Promise<RawWebhook> {
  return serde.reader(rawWebhookSchema()).read(bytes);
}
