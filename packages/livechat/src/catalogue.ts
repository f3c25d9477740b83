import type { ChatDomainEvent, ChatEventBodies, ChatEventType } from './types.js';

/**
 * Every event type, in the order of the Avro `body` union. The `satisfies` check makes a type added to
 * `ChatEventBodies` but missing here a compile error; a unit test checks the schema's union against this list.
 */
export const CHAT_EVENT_TYPES = [
  'thread_started',
  'message_posted',
  'event_edited',
  'event_deleted',
  'thread_closed',
  'thread_tagged',
  'thread_untagged',
  'tags_snapshot',
  'chat_transferred',
  'chat_access_changed',
  'participant_added',
  'participant_removed',
  'customer_identified',
  'visitor_queued',
  'ticket_created',
  'canned_response_changed',
  'properties_changed',
  'thread_summary_set',
  'rich_message_postback',
  'configuration_changed',
  'routing_status_set',
  'events_marked_as_seen',
  'unrecognised_webhook',
] as const satisfies readonly ChatEventType[];

type Missing = Exclude<ChatEventType, (typeof CHAT_EVENT_TYPES)[number]>;
// Compile-time: fails if a type of ChatEventBodies is not listed above.
const allListed: Missing extends never ? true : never = true;
void allListed;

export function isChatEventType(value: unknown): value is ChatEventType {
  return typeof value === 'string' && (CHAT_EVENT_TYPES as readonly string[]).includes(value);
}

/** The body of an event, unwrapped from its union wrapper: `bodyOf(e)` is `e.body[e.type]`. */
export function bodyOf<E extends ChatDomainEvent>(event: E): ChatEventBodies[E['type']] {
  // Sound by construction (`body` is `{ [type]: ... }`), but TypeScript cannot correlate the two union members.
  return (event.body as Readonly<Record<string, unknown>>)[event.type] as ChatEventBodies[E['type']];
}
