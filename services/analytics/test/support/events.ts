import type { ChatEventBodies, ChatEventOf, ChatEventType, ChatMessage } from '@livechat-pipeline/livechat';

/** Builders of domain events for the pure row tests: an envelope with fixed defaults and the body as given. */
export const TENANT = 'tenant-1';
export const AT = 1_764_064_800_000_000; // LiveChat's time of the fact, epoch µs
export const RECEIVED = AT + 2_000_000;

export function event<T extends ChatEventType>(
  type: T,
  body: ChatEventBodies[T],
  envelope: Partial<Omit<ChatEventOf<T>, 'type' | 'body'>> = {},
): ChatEventOf<T> {
  return {
    event_id: `ev-${type}`,
    raw_event_id: 'raw-1',
    tenant: TENANT,
    chat_id: 'CHAT1',
    thread_id: 'TH1',
    occurred_at: AT,
    received_at: RECEIVED,
    source_format: 'v3',
    api_version: '3.6',
    ...envelope,
    type,
    body: { [type]: body } as { readonly [K in T]: ChatEventBodies[K] },
  } as ChatEventOf<T>;
}

export function message(fields: Partial<ChatMessage> = {}): ChatMessage {
  return {
    livechat_event_id: 'LC-EV-1',
    custom_id: null,
    kind: 'message',
    author_id: 'cust-1',
    author_kind: 'customer',
    author_name: 'Ada',
    visibility: 'all',
    created_at: AT - 1_000_000,
    text: 'hello',
    file: null,
    form: null,
    system_message_type: null,
    text_vars_json: null,
    template_id: null,
    content_json: null,
    properties_json: null,
    transcript_position: null,
    ...fields,
  };
}
