import { chatEvent } from './event-factory.js';
import type { DeliveryFacts } from './event-factory.js';
import { deterministicEventId } from './ids.js';
import { canonicalJson, isJsonObject } from './json.js';
import type { ChatDomainEvent, CustomerIdentifiedBody } from './types.js';

/** v3 session fields are a list of one-key objects (`[{plan: "pro"}, {cart: "1"}]`); merged into one object. */
export function sessionFieldsJson(value: unknown): string | null {
  if (isJsonObject(value)) return JSON.stringify(value);
  if (!Array.isArray(value)) return null;
  const merged: Record<string, unknown> = {};
  for (const entry of value) if (isJsonObject(entry)) Object.assign(merged, entry);
  return JSON.stringify(merged);
}

export function customerIdentified(
  delivery: DeliveryFacts,
  chatId: string | null,
  threadId: string | null,
  occurredAt: number | null,
  facts: CustomerIdentifiedBody,
): ChatDomainEvent {
  return chatEvent(
    delivery,
    {
      // The same facts about the same customer in the same thread are one fact, however often they arrive.
      event_id: deterministicEventId([
        'customer-identified',
        delivery.tenant,
        chatId,
        threadId,
        canonicalJson(facts),
      ]),
      chat_id: chatId,
      thread_id: threadId,
      occurred_at: occurredAt,
    },
    'customer_identified',
    facts,
  );
}
