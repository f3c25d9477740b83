import type { ChatDomainEvent, ChatMessage, ChatUser } from '@livechat-pipeline/livechat';

/**
 * The transcript projection as data: each domain event becomes row changes for the tables of the
 * `transcripts` schema. The merge rules live in SQL (statements.ts), so the same rules apply whatever
 * the order in which events arrive; this module only decides which rows an event touches.
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
}
export interface ThreadTagRow {
  tenant: string;
  chat_id: string;
  thread_id: string;
  tag: string;
  tagged: boolean;
  untagged: boolean;
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

const parseJson = (text: string | null): unknown => {
  if (text === null) return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
};

const thread = (tenant: string, chat_id: string, thread_id: string): ThreadRow => ({
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
});

const chat = (tenant: string, chat_id: string): ChatRow => ({
  tenant,
  chat_id,
  thread_id: null,
  thread_started_us: null,
  customer_id: null,
  group_ids: [],
});

function messageContent(message: ChatMessage): unknown {
  const content: Record<string, unknown> = {};
  if (message.file !== null) content['file'] = message.file;
  if (message.form !== null) content['form'] = message.form;
  if (message.template_id !== null) content['template_id'] = message.template_id;
  if (message.content_json !== null) content['content'] = parseJson(message.content_json);
  if (message.text_vars_json !== null) content['text_vars'] = parseJson(message.text_vars_json);
  if (message.properties_json !== null) content['properties'] = parseJson(message.properties_json);
  return Object.keys(content).length === 0 ? null : content;
}

/** Files and forms have no text of their own; the transcript shows something readable for them. */
function entryText(message: ChatMessage): string | null {
  if (message.text !== null) return message.text;
  if (message.file !== null) return message.file.name ?? message.file.url;
  return null;
}

function userRows(tenant: string, chatId: string, users: readonly ChatUser[], into: TranscriptRowChanges, at: number): void {
  for (const user of users) {
    if (user.id === null) continue;
    into.participants.push({ tenant, chat_id: chatId, user_id: user.id, kind: user.kind, name: user.name, email: user.email });
    if (user.kind === 'customer') {
      into.customers.push({
        tenant,
        customer_id: user.id,
        name: user.name,
        email: user.email,
        session_fields: null,
        visit: null,
        updated_us: at,
      });
    } else if (user.kind === 'agent') {
      into.agents.push({ tenant, agent_id: user.id, name: user.name, email: user.email });
    }
  }
}

/** Appends the row changes of one event. `at` is LiveChat's time of the fact, or the receipt time when it gave none. */
export function addEventRows(event: ChatDomainEvent, into: TranscriptRowChanges): void {
  const { tenant, chat_id: chatId } = event;
  const at = event.occurred_at ?? event.received_at;
  const threadId = event.thread_id;
  if (chatId !== null) into.chats.push(chat(tenant, chatId));

  switch (event.type) {
    case 'thread_started': {
      if (chatId === null || threadId === null) return;
      const body = event.body.thread_started;
      const customer = body.users.find((u) => u.kind === 'customer' && u.id !== null);
      into.chats.push({
        ...chat(tenant, chatId),
        thread_id: threadId,
        thread_started_us: event.occurred_at,
        customer_id: customer?.id ?? null,
        group_ids: [...body.group_ids],
      });
      into.threads.push({ ...thread(tenant, chatId, threadId), started_us: event.occurred_at });
      for (const tag of body.tags) into.threadTags.push({ tenant, chat_id: chatId, thread_id: threadId, tag, tagged: true, untagged: false });
      userRows(tenant, chatId, body.users, into, at);
      return;
    }
    case 'message_posted':
    case 'event_edited': {
      if (chatId === null || threadId === null) return;
      const message = event.type === 'message_posted' ? event.body.message_posted.message : event.body.event_edited.message;
      const entryId = message.livechat_event_id ?? event.event_id;
      const edited = event.type === 'event_edited';
      into.threads.push(thread(tenant, chatId, threadId));
      into.entries.push({
        tenant,
        chat_id: chatId,
        thread_id: threadId,
        entry_id: entryId,
        event_id: edited ? null : event.event_id,
        change: edited ? 'edited' : 'posted',
        kind: message.kind,
        author_kind: message.author_kind,
        author_id: message.author_id,
        author_name: message.author_name,
        visibility: message.visibility,
        text: entryText(message),
        system_message_type: message.system_message_type,
        content: messageContent(message),
        created_us: message.created_at ?? (edited ? null : event.occurred_at),
        transcript_position: message.transcript_position,
        edited_us: edited ? at : null,
        deleted_us: null,
      });
      if (message.author_id !== null && message.author_kind === 'agent') {
        into.participants.push({ tenant, chat_id: chatId, user_id: message.author_id, kind: 'agent', name: message.author_name, email: null });
      }
      if (message.form !== null && !edited) {
        message.form.fields.forEach((field, position) =>
          into.surveyAnswers.push({
            tenant,
            chat_id: chatId,
            thread_id: threadId,
            entry_id: entryId,
            position,
            form_type: message.form?.form_type ?? null,
            field_id: field.id,
            label: field.label,
            answer: field.answer,
            answers: [...field.answers],
          }),
        );
      }
      return;
    }
    case 'event_deleted': {
      const id = event.body.event_deleted.livechat_event_id;
      if (chatId === null || threadId === null || id === null) return;
      into.entries.push({
        tenant,
        chat_id: chatId,
        thread_id: threadId,
        entry_id: id,
        event_id: null,
        change: 'deleted',
        kind: null,
        author_kind: null,
        author_id: null,
        author_name: null,
        visibility: null,
        text: null,
        system_message_type: null,
        content: null,
        created_us: null,
        transcript_position: null,
        edited_us: null,
        deleted_us: at,
      });
      return;
    }
    case 'thread_closed': {
      if (chatId === null || threadId === null) return;
      const body = event.body.thread_closed;
      into.threads.push({ ...thread(tenant, chatId, threadId), closed_us: at, closed_by_user_id: body.closed_by_user_id, closed_by_kind: body.closed_by_kind });
      return;
    }
    case 'thread_tagged':
    case 'thread_untagged': {
      if (chatId === null || threadId === null) return;
      const tag = event.type === 'thread_tagged' ? event.body.thread_tagged.tag : event.body.thread_untagged.tag;
      into.threads.push(thread(tenant, chatId, threadId));
      into.threadTags.push({ tenant, chat_id: chatId, thread_id: threadId, tag, tagged: event.type === 'thread_tagged', untagged: event.type === 'thread_untagged' });
      return;
    }
    case 'tags_snapshot': {
      if (chatId === null || threadId === null) return;
      // v2 tag lists: the one received last wins. chat_changed carries no LiveChat time, and comparing
      // our receipt time with chat_ended's LiveChat time would let a late delivery beat the final list.
      into.threads.push({ ...thread(tenant, chatId, threadId), tags_snapshot: [...event.body.tags_snapshot.tags], tags_snapshot_us: event.received_at });
      return;
    }
    case 'chat_transferred': {
      if (chatId === null) return;
      const body = event.body.chat_transferred;
      into.chats.push({ ...chat(tenant, chatId), group_ids: [...body.transferred_to_group_ids] });
      if (threadId !== null) {
        into.threads.push({
          ...thread(tenant, chatId, threadId),
          queue_wait_seconds: body.queue?.wait_time ?? null,
          queued_at_us: body.queue?.queued_at ?? null,
        });
      }
      return;
    }
    case 'chat_access_changed': {
      if (chatId === null) return;
      into.chats.push({ ...chat(tenant, chatId), group_ids: [...event.body.chat_access_changed.group_ids] });
      return;
    }
    case 'participant_added': {
      if (chatId === null) return;
      const body = event.body.participant_added;
      const userId = body.user_id ?? body.user?.id ?? null;
      if (userId === null) return;
      const user: ChatUser = body.user ?? { id: userId, kind: body.user_kind, name: null, email: null, present: null };
      userRows(tenant, chatId, [{ ...user, id: userId, kind: user.kind === 'unknown' ? body.user_kind : user.kind }], into, at);
      return;
    }
    case 'customer_identified': {
      const body = event.body.customer_identified;
      if (body.customer_id === null) return;
      into.customers.push({
        tenant,
        customer_id: body.customer_id,
        name: body.name,
        email: body.email,
        session_fields: parseJson(body.session_fields_json),
        visit: parseJson(body.visit_json),
        updated_us: at,
      });
      if (chatId !== null) {
        into.chats.push({ ...chat(tenant, chatId), customer_id: body.customer_id });
        into.participants.push({ tenant, chat_id: chatId, user_id: body.customer_id, kind: 'customer', name: body.name, email: body.email });
      }
      return;
    }
    case 'visitor_queued': {
      const body = event.body.visitor_queued;
      if (body.visitor_id === null) return;
      into.customers.push({ tenant, customer_id: body.visitor_id, name: body.name, email: body.email, session_fields: null, visit: null, updated_us: at });
      return;
    }
    case 'thread_summary_set': {
      if (chatId === null || threadId === null) return;
      const body = event.body.thread_summary_set;
      into.threads.push({
        ...thread(tenant, chatId, threadId),
        summary_status: body.status,
        summary_text: body.text,
        summary_updated_us: body.updated_at ?? at,
      });
      return;
    }
    case 'ticket_created': {
      const body = event.body.ticket_created;
      if (body.ticket_id === null) return;
      into.tickets.push({
        tenant,
        ticket_id: body.ticket_id,
        status: body.status,
        subject: body.subject,
        requester_name: body.requester_name,
        requester_email: body.requester_email,
        assignee_id: body.assignee_id,
        tags: [...body.tags],
        group_ids: [...body.group_ids],
        source_chat_id: body.source_chat_id,
        body: parseJson(body.ticket_json),
        created_us: at,
      });
      return;
    }
    case 'canned_response_changed': {
      const body = event.body.canned_response_changed;
      if (body.canned_response_id === null) return;
      into.cannedResponses.push({
        tenant,
        canned_response_id: body.canned_response_id,
        group_id: body.group_id,
        text: body.text,
        tags: [...body.tags],
        updated_us: at,
      });
      return;
    }
    // Facts this projection does not keep (see README): properties, postbacks, configuration,
    // routing status, seen markers, removals (a removed agent still took part), unrecognised webhooks.
    case 'participant_removed':
    case 'properties_changed':
    case 'rich_message_postback':
    case 'configuration_changed':
    case 'routing_status_set':
    case 'events_marked_as_seen':
    case 'unrecognised_webhook':
      return;
  }
}

export function transcriptRowChanges(events: readonly ChatDomainEvent[]): TranscriptRowChanges {
  const changes = emptyRowChanges();
  for (const event of events) addEventRows(event, changes);
  return changes;
}
