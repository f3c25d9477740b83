import { loadAvroSchema } from './schemas.js';
import type { LoadedSchema } from './schemas.js';

/** The schemas/ path of the domain event record (one union-bodied record per event). */
export const CHAT_EVENT_SCHEMA_PATH = 'chat-events/chat-event.avsc';

let cached: LoadedSchema | undefined;

/** The chat event Avro schema, loaded once from schemas/. Its values are @livechat-pipeline/livechat's ChatDomainEvent. */
export function chatEventSchema(): LoadedSchema {
  cached ??= loadAvroSchema(CHAT_EVENT_SCHEMA_PATH);
  return cached;
}
