/** `list_webhook_names` for v3.6 (SPEC §3.5): per action, the filters and additional_data it accepts. */
export interface WebhookName {
  readonly action: string;
  readonly filters: readonly string[];
  readonly additional_data: readonly string[];
}

const CHAT = ['chat_presence', 'only_my_chats', 'source_type'];
const DATA = ['chat_properties', 'chat_presence_user_ids'];
const chat = (action: string, extra: string[] = []): WebhookName => ({
  action,
  filters: [...CHAT, ...extra],
  additional_data: DATA,
});
const config = (action: string): WebhookName => ({ action, filters: ['source_type'], additional_data: [] });

export const WEBHOOK_NAMES_V36: readonly WebhookName[] = [
  chat('incoming_chat'),
  chat('incoming_event', ['author_type']),
  chat('event_updated', ['author_type']),
  chat('event_deleted'),
  chat('incoming_rich_message_postback'),
  chat('chat_deactivated'),
  chat('chat_access_updated'),
  chat('chat_transferred'),
  chat('user_added_to_chat'),
  chat('user_removed_from_chat'),
  chat('thread_tagged'),
  chat('thread_untagged'),
  chat('chat_properties_updated'),
  chat('chat_properties_deleted'),
  chat('thread_properties_updated'),
  chat('thread_properties_deleted'),
  chat('event_properties_updated'),
  chat('event_properties_deleted'),
  chat('events_marked_as_seen'),
  chat('thread_summary_set'),
  {
    action: 'customer_session_fields_updated',
    filters: ['chat_presence', 'source_type'],
    additional_data: DATA,
  },
  { action: 'routing_status_set', filters: ['agent_ids', 'source_type'], additional_data: [] },
  config('agent_created'),
  config('agent_updated'),
  config('agent_deleted'),
  config('agent_suspended'),
  config('agent_unsuspended'),
  config('agent_approved'),
  config('bot_created'),
  config('bot_updated'),
  config('bot_deleted'),
  config('group_created'),
  config('group_updated'),
  config('group_deleted'),
  config('auto_accesses_updated'),
  config('tag_created'),
  config('tag_updated'),
  config('tag_deleted'),
];
