import type { EventBudget, ParseLimits } from './limits.js';
import type { ChatEventBodies, ChatEventOf, ChatEventType, SourceFormat } from './types.js';

/** The envelope fields that are the same for every event parsed from one delivery. */
export interface DeliveryFacts {
  readonly raw_event_id: string;
  readonly tenant: string;
  readonly received_at: number;
  readonly source_format: SourceFormat;
  readonly api_version: string | null;
  /** The bounds of this parse, and the count of events built so far (not envelope fields: never copied). */
  readonly limits: ParseLimits;
  readonly budget: EventBudget;
}

/** The envelope fields that differ per event. */
export interface EventFacts {
  readonly event_id: string;
  readonly chat_id: string | null;
  readonly thread_id: string | null;
  readonly occurred_at: number | null;
}

/**
 * Builds one domain event, with `body` wrapped under its type as avsc writes the Avro union.
 *
 * @throws LiveChatParseError `LIVECHAT_TOO_MANY_EVENTS` once the delivery has more events than its limit.
 */
export function chatEvent<T extends ChatEventType>(
  delivery: DeliveryFacts,
  facts: EventFacts,
  type: T,
  body: ChatEventBodies[T],
): ChatEventOf<T> {
  delivery.budget.take();
  // TypeScript cannot see that `{ [type]: body }` with a literal `type` is `{ [K in T]: ... }`; it is by construction.
  const wrappedBody = { [type]: body } as { readonly [K in T]: ChatEventBodies[K] };
  return {
    event_id: facts.event_id,
    raw_event_id: delivery.raw_event_id,
    tenant: delivery.tenant,
    chat_id: facts.chat_id,
    thread_id: facts.thread_id,
    occurred_at: facts.occurred_at,
    received_at: delivery.received_at,
    source_format: delivery.source_format,
    api_version: delivery.api_version,
    type,
    body: wrappedBody,
  } as ChatEventOf<T>;
}
