import { loadAvroSchema } from './schemas.js';
import type { LoadedSchema } from './schemas.js';
import type { ChatEvent } from './generated/chat-event.js';

/** The schemas/ path of the domain event record (one union-bodied record per event). */
export const CHAT_EVENT_SCHEMA_PATH = 'chat-events/chat-event.avsc';

let cached: LoadedSchema<ChatEvent> | undefined;

/**
 * The chat event Avro schema, loaded once from schemas/. Its values are the generated `ChatEvent` (the type is
 * generated from this very file; test/generated-types.test.ts fails when it is stale); every
 * @livechat-pipeline/livechat ChatDomainEvent is one.
 */
export function chatEventSchema(): LoadedSchema<ChatEvent> {
  cached ??= loadAvroSchema(CHAT_EVENT_SCHEMA_PATH) as LoadedSchema<ChatEvent>;
  return cached;
}
