import type { ChatDomainEvent, ChatMessage } from '@livechat-pipeline/livechat';
import { parseJson, thread, type RowBuilders, type TranscriptRowChanges } from './types.js';

/**
 * Entries: the transcript's messages as posted, edited and deleted, and the survey answers of a posted form. An
 * agent who writes takes part in the chat, so a message also names its agent author as a participant.
 */
export const entryRows: RowBuilders<'message_posted' | 'event_edited' | 'event_deleted'> = {
  message_posted: (event, into, at) => messageRows(event, event.body.message_posted.message, false, into, at),
  event_edited: (event, into, at) => messageRows(event, event.body.event_edited.message, true, into, at),
  event_deleted: (event, into, at) => {
    const { tenant, chat_id: chatId, thread_id: threadId } = event;
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
  },
};

function messageRows(
  event: ChatDomainEvent,
  message: ChatMessage,
  edited: boolean,
  into: TranscriptRowChanges,
  at: number,
): void {
  const { tenant, chat_id: chatId, thread_id: threadId } = event;
  if (chatId === null || threadId === null) return;
  const entryId = message.livechat_event_id ?? event.event_id;
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
    into.participants.push({
      tenant,
      chat_id: chatId,
      user_id: message.author_id,
      kind: 'agent',
      name: message.author_name,
      email: null,
    });
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
}

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
