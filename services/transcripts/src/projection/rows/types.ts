import type { ChatEventOf, ChatEventType } from '@livechat-pipeline/livechat';

/**
 * The rows of the transcript projection, one interface per table of the `transcripts` schema, and the
 * helpers the builders of each family share (rows/entries.ts, threads.ts, people.ts, records.ts).
 */
export interface ChatRow {
  tenant: string;
  chat_id: string;
  thread_id: string | null;
  thread_started_us: number | null;
  customer_id: string | null;
  group_ids: number[];
}
export interface ThreadRow {
  tenant: string;
  chat_id: string;
  thread_id: string;
  started_us: number | null;
  closed_us: number | null;
  closed_by_user_id: string | null;
  closed_by_kind: string | null;
  queue_wait_seconds: number | null;
  queued_at_us: number | null;
  summary_status: string | null;
  summary_text: string | null;
  summary_updated_us: number | null;
  tags_snapshot: string[] | null;
  tags_snapshot_us: number | null;
  /** The tags of the newest archive read of the thread (a v3 `tags_snapshot`) and when it was read. */
  archive_tags: string[] | null;
  archive_tags_us: number | null;
}
export interface ThreadTagRow {
  tenant: string;
  chat_id: string;
  thread_id: string;
  tag: string;
  tagged: boolean;
  untagged: boolean;
  /** Receipt time of the (latest) fact that tagged / untagged: an archive read later supersedes them. */
  tagged_us: number | null;
  untagged_us: number | null;
}
export interface EntryRow {
  tenant: string;
  chat_id: string;
  thread_id: string;
  entry_id: string;
  event_id: string | null;
  /** posted: the message as first written; edited: the message after an edit; deleted: only the deletion time. */
  change: 'posted' | 'edited' | 'deleted';
  kind: string | null;
  author_kind: string | null;
  author_id: string | null;
  author_name: string | null;
  visibility: string | null;
  text: string | null;
  system_message_type: string | null;
  content: unknown;
  created_us: number | null;
  transcript_position: number | null;
  edited_us: number | null;
  deleted_us: number | null;
}
export interface ParticipantRow {
  tenant: string;
  chat_id: string;
  user_id: string;
  kind: string;
  name: string | null;
  email: string | null;
}
export interface CustomerRow {
  tenant: string;
  customer_id: string;
  name: string | null;
  email: string | null;
  session_fields: unknown;
  visit: unknown;
  updated_us: number;
}
export interface AgentRow {
  tenant: string;
  agent_id: string;
  name: string | null;
  email: string | null;
}
export interface SurveyAnswerRow {
  tenant: string;
  chat_id: string;
  thread_id: string;
  entry_id: string;
  position: number;
  form_type: string | null;
  field_id: string | null;
  label: string | null;
  answer: string | null;
  answers: string[];
}
export interface TicketRow {
  tenant: string;
  ticket_id: string;
  status: string | null;
  subject: string | null;
  requester_name: string | null;
  requester_email: string | null;
  assignee_id: string | null;
  tags: string[];
  group_ids: number[];
  source_chat_id: string | null;
  body: unknown;
  created_us: number;
}
export interface CannedResponseRow {
  tenant: string;
  canned_response_id: number;
  group_id: number | null;
  text: string | null;
  tags: string[];
  updated_us: number;
}

export interface TranscriptRowChanges {
  chats: ChatRow[];
  threads: ThreadRow[];
  threadTags: ThreadTagRow[];
  entries: EntryRow[];
  participants: ParticipantRow[];
  customers: CustomerRow[];
  agents: AgentRow[];
  surveyAnswers: SurveyAnswerRow[];
  tickets: TicketRow[];
  cannedResponses: CannedResponseRow[];
}

export const emptyRowChanges = (): TranscriptRowChanges => ({
  chats: [],
  threads: [],
  threadTags: [],
  entries: [],
  participants: [],
  customers: [],
  agents: [],
  surveyAnswers: [],
  tickets: [],
  cannedResponses: [],
});

/** One event of one type, as the builders receive it. */
export type EventOf<T extends ChatEventType> = ChatEventOf<T>;

/**
 * Appends the row changes of one event of its family. `at` is LiveChat's time of the fact, or the receipt time
 * when it gave none. The chat row every event with a chat id touches is added before, by `addEventRows`.
 */
export type RowBuilder<T extends ChatEventType> = (
  event: EventOf<T>,
  into: TranscriptRowChanges,
  at: number,
) => void;

/** The builders of one family, keyed by the event types it handles. */
export type RowBuilders<T extends ChatEventType> = { readonly [K in T]: RowBuilder<K> };

/** A JSON text as its value; a text that is not JSON is kept as the string it is. */
export const parseJson = (text: string | null): unknown => {
  if (text === null) return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
};

/** A thread row that changes nothing but its existence: every fact column null. */
export const thread = (tenant: string, chat_id: string, thread_id: string): ThreadRow => ({
  tenant,
  chat_id,
  thread_id,
  started_us: null,
  closed_us: null,
  closed_by_user_id: null,
  closed_by_kind: null,
  queue_wait_seconds: null,
  queued_at_us: null,
  summary_status: null,
  summary_text: null,
  summary_updated_us: null,
  tags_snapshot: null,
  tags_snapshot_us: null,
  archive_tags: null,
  archive_tags_us: null,
});

/** A chat row that changes nothing but its existence. */
export const chat = (tenant: string, chat_id: string): ChatRow => ({
  tenant,
  chat_id,
  thread_id: null,
  thread_started_us: null,
  customer_id: null,
  group_ids: [],
});
