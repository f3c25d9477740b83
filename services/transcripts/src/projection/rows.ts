import type { ChatDomainEvent, ChatEventType } from '@livechat-pipeline/livechat';
import { entryRows } from './rows/entries.js';
import { peopleRows } from './rows/people.js';
import { recordRows } from './rows/records.js';
import { threadRows } from './rows/threads.js';
import { chat, emptyRowChanges, type RowBuilders, type TranscriptRowChanges } from './rows/types.js';

/**
 * The transcript projection as data: each domain event becomes row changes for the tables of the
 * `transcripts` schema. The merge rules live in SQL (statements.ts), so the same rules apply whatever
 * the order in which events arrive; this module only decides which rows an event touches, through the
 * builders of each family (rows/entries.ts, threads.ts, people.ts, records.ts). The caller (apply.ts)
 * replaces U+0000 in every row of every table before writing (nul.ts).
 */
export * from './rows/types.js';

const nothing = () => undefined;

/**
 * Facts this projection does not keep (see README): properties, postbacks, configuration, routing status, seen
 * markers, removals (a removed agent still took part), unrecognised webhooks.
 */
const ignoredRows: RowBuilders<
  | 'participant_removed'
  | 'properties_changed'
  | 'rich_message_postback'
  | 'configuration_changed'
  | 'routing_status_set'
  | 'events_marked_as_seen'
  | 'unrecognised_webhook'
> = {
  participant_removed: nothing,
  properties_changed: nothing,
  rich_message_postback: nothing,
  configuration_changed: nothing,
  routing_status_set: nothing,
  events_marked_as_seen: nothing,
  unrecognised_webhook: nothing,
};

/** Every event type has exactly one builder: the type checker refuses a type left out. */
const builders: RowBuilders<ChatEventType> = {
  ...entryRows,
  ...threadRows,
  ...peopleRows,
  ...recordRows,
  ...ignoredRows,
};

/** Appends the row changes of one event. `at` is LiveChat's time of the fact, or the receipt time when it gave none. */
export function addEventRows(event: ChatDomainEvent, into: TranscriptRowChanges): void {
  const { tenant, chat_id: chatId } = event;
  const at = event.occurred_at ?? event.received_at;
  if (chatId !== null) into.chats.push(chat(tenant, chatId));
  // The map pairs each type with its builder; TypeScript cannot follow that pairing through an index.
  const build = builders[event.type] as (
    event: ChatDomainEvent,
    into: TranscriptRowChanges,
    at: number,
  ) => void;
  build(event, into, at);
}

export function transcriptRowChanges(events: readonly ChatDomainEvent[]): TranscriptRowChanges {
  const changes = emptyRowChanges();
  for (const event of events) addEventRows(event, changes);
  return changes;
}
