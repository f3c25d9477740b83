/**
 * The v3.6 request bodies the simulator sends (SPEC.md §3.1, §3.3, §3.4). Only the actions a chat's life
 * produces are modelled. `type` aliases rather than interfaces, so a body is assignable to
 * `Record<string, unknown>` for code that handles webhooks generically.
 */

export type V3ChatAction =
  | 'incoming_chat'
  | 'incoming_event'
  | 'thread_tagged'
  | 'thread_untagged'
  | 'chat_deactivated'
  | 'chat_transferred'
  | 'thread_properties_updated'
  | 'thread_properties_deleted'
  | 'user_added_to_chat'
  | 'routing_status_set';

/** `{namespace: {property: value}}`. */
export type V3Properties = Record<string, Record<string, unknown>>;

export type V3AdditionalData = {
  chat_properties?: V3Properties;
  chat_presence_user_ids?: string[];
};

export type V3Envelope<Action extends V3ChatAction, Payload> = {
  webhook_id: string;
  secret_key: string;
  action: Action;
  organization_id: string;
  payload: Payload;
  additional_data: V3AdditionalData;
};

export type V3CustomerUser = {
  id: string;
  type: 'customer';
  name: string;
  email: string;
  present: boolean;
  events_seen_up_to: string;
  created_at: string;
  visit: {
    started_at: string;
    ip: string;
    user_agent: string;
    geolocation: { country: string; country_code: string; city: string };
    last_pages: { opened_at: string; url: string; title: string }[];
  };
  statistics: { chats_count: number; threads_count: number; visits_count: number };
};

export type V3AgentUser = {
  id: string;
  type: 'agent';
  name: string;
  email: string;
  present: boolean;
  events_seen_up_to: string;
  visibility: 'all';
  routing_status: 'accepting_chats';
};

export type V3MessageEvent = {
  id: string;
  type: 'message';
  text: string;
  author_id: string;
  created_at: string;
  visibility: 'all' | 'agents';
  properties?: V3Properties;
};

export type V3FilledFormEvent = {
  id: string;
  type: 'filled_form';
  author_id: string;
  created_at: string;
  visibility: 'all';
  form_id: string;
  form_type: 'prechat';
  properties: V3Properties;
  fields: { id: string; type: 'name' | 'email'; label: string; answer: string }[];
};

/** LiveChat's own events in a thread: archiving, ratings (`text_vars` carry the score or the comment). */
export type V3SystemMessageEvent = {
  id: string;
  type: 'system_message';
  system_message_type: string;
  text: string;
  text_vars?: Record<string, string>;
  created_at: string;
  visibility: 'all';
};

export type V3Event = V3MessageEvent | V3FilledFormEvent | V3SystemMessageEvent;

export type V3Thread = {
  id: string;
  active: boolean;
  user_ids: string[];
  events: V3Event[];
  properties: V3Properties;
  access: { group_ids: number[] };
  created_at: string;
  /** Present only when the thread is tagged (SPEC.md §3.4). */
  tags?: string[];
  /** The thread before this one, when the chat was resumed. */
  previous_thread_id?: string;
  /** Only while the thread waits in the queue. */
  queue?: { position: number; wait_time: number; queued_at: string };
};

export type V3Chat = {
  id: string;
  users: (V3CustomerUser | V3AgentUser)[];
  properties: V3Properties;
  access: { group_ids: number[] };
  thread: V3Thread;
};

export type V3IncomingChatBody = V3Envelope<'incoming_chat', { chat: V3Chat }>;
export type V3IncomingEventBody = V3Envelope<
  'incoming_event',
  { chat_id: string; thread_id: string; event: V3Event }
>;
export type V3ThreadTaggedBody = V3Envelope<
  'thread_tagged',
  { chat_id: string; thread_id: string; tag: string }
>;
export type V3ThreadUntaggedBody = V3Envelope<
  'thread_untagged',
  { chat_id: string; thread_id: string; tag: string }
>;
/** `user_id` is absent when the router closed the thread. */
export type V3ChatDeactivatedBody = V3Envelope<
  'chat_deactivated',
  { chat_id: string; thread_id: string; user_id?: string }
>;

/** A transfer (SPEC.md §3.3): `queue` only when the chat waits in the target group's queue. */
export type V3ChatTransferredBody = V3Envelope<
  'chat_transferred',
  {
    chat_id: string;
    thread_id: string;
    requester_id?: string;
    reason: 'manual' | 'inactive' | 'assigned' | 'unassigned' | 'other';
    transferred_to: { group_ids?: number[]; agent_ids?: string[] };
    queue?: { position: number; wait_time: number; queued_at: string };
  }
>;
/** Only the changed properties; ratings live in the `rating` namespace (`score` 1 good / 0 bad, `comment`). */
export type V3ThreadPropertiesUpdatedBody = V3Envelope<
  'thread_properties_updated',
  { chat_id: string; thread_id: string; properties: V3Properties }
>;
export type V3ThreadPropertiesDeletedBody = V3Envelope<
  'thread_properties_deleted',
  { chat_id: string; thread_id: string; properties: Record<string, string[]> }
>;
/** An agent joins the chat: a supervisor before whispering, a transfer's target (reason `transfer`). */
export type V3UserAddedToChatBody = V3Envelope<
  'user_added_to_chat',
  {
    chat_id: string;
    thread_id: string;
    user: V3AgentUser;
    user_type: 'agent';
    reason: 'manual' | 'transfer';
    requester_id: string;
  }
>;
/** Not about a chat: its `additional_data` is empty. */
export type V3RoutingStatusSetBody = V3Envelope<
  'routing_status_set',
  { agent_id: string; status: V3RoutingStatus }
>;
export type V3RoutingStatus = 'accepting_chats' | 'not_accepting_chats' | 'offline';

export type V3WebhookBody =
  | V3ChatTransferredBody
  | V3UserAddedToChatBody
  | V3ThreadPropertiesUpdatedBody
  | V3ThreadPropertiesDeletedBody
  | V3RoutingStatusSetBody
  | V3IncomingChatBody
  | V3IncomingEventBody
  | V3ThreadTaggedBody
  | V3ThreadUntaggedBody
  | V3ChatDeactivatedBody;
