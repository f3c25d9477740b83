import type { ChatDomainEvent, ChatMessage, ChatUser } from '@livechat-pipeline/livechat';

/**
 * What crm-sync keeps of each chat to render its notes: the chat's customer (name, e-mail, session fields), the
 * thread's close, tags and rating, and the transcript entries. One interface per table of the `crm` schema; the
 * merge rules are the ON CONFLICT clauses of statements.ts.
 */
export interface ChatRow {
  tenant: string;
  chat_id: string;
  customer_id: string | null;
}
export interface CustomerRow {
  tenant: string;
  customer_id: string;
  name: string | null;
  email: string | null;
  session_fields: unknown;
  updated_us: number;
}
export interface ParticipantRow {
  tenant: string;
  chat_id: string;
  user_id: string;
  kind: string;
  name: string | null;
}
export interface ThreadRow {
  tenant: string;
  chat_id: string;
  thread_id: string;
  started_us: number | null;
  closed_us: number | null;
  tags_snapshot: string[] | null;
  tags_snapshot_us: number | null;
  /** The tags of the newest archive read of the thread (a v3 `tags_snapshot`) and when it was read. */
  archive_tags: string[] | null;
  archive_tags_us: number | null;
  rating_score: number | null;
  rating_comment: string | null;
  rating_us: number | null;
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
  kind: string | null;
  author_kind: string | null;
  author_id: string | null;
  author_name: string | null;
  visibility: string | null;
  text: string | null;
  file_name: string | null;
  file_url: string | null;
  created_us: number | null;
  transcript_position: number | null;
  edited_us: number | null;
  deleted_us: number | null;
}

export interface CrmRowChanges {
  chats: ChatRow[];
  customers: CustomerRow[];
  participants: ParticipantRow[];
  threads: ThreadRow[];
  threadTags: ThreadTagRow[];
  entries: EntryRow[];
  /** Threads an event of the batch is about: their notes may change (other threads' do not). */
  touchedThreads: { tenant: string; chat_id: string; thread_id: string }[];
}

export const emptyChanges = (): CrmRowChanges => ({
  chats: [],
  customers: [],
  participants: [],
  threads: [],
  threadTags: [],
  entries: [],
  touchedThreads: [],
});

const thread = (tenant: string, chat_id: string, thread_id: string): ThreadRow => ({
  tenant,
  chat_id,
  thread_id,
  started_us: null,
  closed_us: null,
  tags_snapshot: null,
  tags_snapshot_us: null,
  archive_tags: null,
  archive_tags_us: null,
  rating_score: null,
  rating_comment: null,
  rating_us: null,
});

const chat = (tenant: string, chat_id: string, customer_id: string | null = null): ChatRow => ({
  tenant,
  chat_id,
  customer_id,
});

function users(
  tenant: string,
  chatId: string,
  list: readonly ChatUser[],
  into: CrmRowChanges,
  at: number,
): void {
  for (const user of list) {
    if (user.id === null) continue;
    into.participants.push({ tenant, chat_id: chatId, user_id: user.id, kind: user.kind, name: user.name });
    if (user.kind === 'customer') {
      into.chats.push(chat(tenant, chatId, user.id));
      into.customers.push({
        tenant,
        customer_id: user.id,
        name: user.name,
        email: user.email,
        session_fields: null,
        updated_us: at,
      });
    }
  }
}

/** LiveChat's default `rating` properties: `score` 1 (good) or 0 (bad), `comment`. */
function rating(propertiesJson: string | null): { score: number | null; comment: string | null } | null {
  if (propertiesJson === null) return null;
  try {
    const parsed = JSON.parse(propertiesJson) as { rating?: { score?: unknown; comment?: unknown } };
    const r = parsed.rating;
    if (typeof r !== 'object' || r === null) return null;
    const score = typeof r.score === 'number' && Number.isInteger(r.score) ? r.score : null;
    const comment = typeof r.comment === 'string' ? r.comment : null;
    return score === null && comment === null ? null : { score, comment };
  } catch {
    return null;
  }
}

function messageRow(
  event: ChatDomainEvent,
  message: ChatMessage,
  edited: boolean,
  at: number,
): EntryRow | null {
  const { tenant, chat_id: chatId, thread_id: threadId } = event;
  if (chatId === null || threadId === null) return null;
  return {
    tenant,
    chat_id: chatId,
    thread_id: threadId,
    entry_id: message.livechat_event_id ?? event.event_id,
    kind: message.kind,
    author_kind: message.author_kind,
    author_id: message.author_id,
    author_name: message.author_name,
    visibility: message.visibility,
    text: message.text,
    file_name: message.file?.name ?? null,
    file_url: message.file?.url ?? null,
    created_us: message.created_at ?? (edited ? null : event.occurred_at),
    transcript_position: message.transcript_position,
    edited_us: edited ? at : null,
    deleted_us: null,
  };
}

/** Event types whose facts show in their thread's note (a customer's name or e-mail is found by the SQL). */
const THREAD_FACTS = new Set<ChatDomainEvent['type']>([
  'thread_started',
  'thread_closed',
  'thread_tagged',
  'thread_untagged',
  'tags_snapshot',
  'message_posted',
  'event_edited',
  'event_deleted',
  'participant_added',
  'properties_changed',
]);

/** Appends the row changes of one event; events crm-sync does not need change nothing. */
export function addEventRows(event: ChatDomainEvent, into: CrmRowChanges): void {
  const { tenant, chat_id: chatId, thread_id: threadId } = event;
  const at = event.occurred_at ?? event.received_at;
  if (chatId !== null) into.chats.push(chat(tenant, chatId));
  if (chatId !== null && threadId !== null && THREAD_FACTS.has(event.type))
    into.touchedThreads.push({ tenant, chat_id: chatId, thread_id: threadId });
  switch (event.type) {
    case 'thread_started': {
      if (chatId === null || threadId === null) return;
      const body = event.body.thread_started;
      users(tenant, chatId, body.users, into, at);
      const r = rating(body.thread_properties_json);
      into.threads.push({
        ...thread(tenant, chatId, threadId),
        started_us: event.occurred_at,
        ...(r === null ? {} : { rating_score: r.score, rating_comment: r.comment, rating_us: at }),
      });
      for (const tag of body.tags)
        into.threadTags.push({
          tenant,
          chat_id: chatId,
          thread_id: threadId,
          tag,
          tagged: true,
          untagged: false,
          tagged_us: event.received_at,
          untagged_us: null,
        });
      return;
    }
    case 'thread_closed':
      if (chatId === null || threadId === null) return;
      into.threads.push({ ...thread(tenant, chatId, threadId), closed_us: at });
      return;
    case 'thread_tagged':
    case 'thread_untagged': {
      if (chatId === null || threadId === null) return;
      const tagged = event.type === 'thread_tagged';
      const tag =
        event.type === 'thread_tagged' ? event.body.thread_tagged.tag : event.body.thread_untagged.tag;
      into.threads.push(thread(tenant, chatId, threadId));
      into.threadTags.push({
        tenant,
        chat_id: chatId,
        thread_id: threadId,
        tag,
        tagged,
        untagged: !tagged,
        tagged_us: tagged ? event.received_at : null,
        untagged_us: tagged ? null : event.received_at,
      });
      return;
    }
    case 'tags_snapshot':
      if (chatId === null || threadId === null) return;
      if (event.source_format === 'v3') {
        // v3 sends tag changes, never lists: a v3 list is an archive's, the tags as of its read (received_at).
        into.threads.push({
          ...thread(tenant, chatId, threadId),
          archive_tags: [...event.body.tags_snapshot.tags],
          archive_tags_us: event.received_at,
        });
        return;
      }
      // v2 lists carry no LiveChat time: the one received last wins (as in transcripts)
      into.threads.push({
        ...thread(tenant, chatId, threadId),
        tags_snapshot: [...event.body.tags_snapshot.tags],
        tags_snapshot_us: event.received_at,
      });
      return;
    case 'message_posted':
    case 'event_edited': {
      const edited = event.type === 'event_edited';
      const message =
        event.type === 'event_edited' ? event.body.event_edited.message : event.body.message_posted.message;
      const row = messageRow(event, message, edited, at);
      if (row === null) return;
      into.threads.push(thread(row.tenant, row.chat_id, row.thread_id));
      into.entries.push(row);
      if (message.author_id !== null && message.author_kind === 'agent' && chatId !== null)
        into.participants.push({
          tenant,
          chat_id: chatId,
          user_id: message.author_id,
          kind: 'agent',
          name: message.author_name,
        });
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
        kind: null,
        author_kind: null,
        author_id: null,
        author_name: null,
        visibility: null,
        text: null,
        file_name: null,
        file_url: null,
        created_us: null,
        transcript_position: null,
        edited_us: null,
        deleted_us: at,
      });
      return;
    }
    case 'participant_added': {
      if (chatId === null) return;
      const body = event.body.participant_added;
      const userId = body.user_id ?? body.user?.id ?? null;
      if (userId === null) return;
      const user: ChatUser = body.user ?? {
        id: userId,
        kind: body.user_kind,
        name: null,
        email: null,
        present: null,
      };
      users(
        tenant,
        chatId,
        [{ ...user, id: userId, kind: user.kind === 'unknown' ? body.user_kind : user.kind }],
        into,
        at,
      );
      return;
    }
    case 'customer_identified': {
      const body = event.body.customer_identified;
      if (body.customer_id === null) return;
      let sessionFields: unknown = null;
      try {
        sessionFields =
          body.session_fields_json === null ? null : (JSON.parse(body.session_fields_json) as unknown);
      } catch {
        sessionFields = null;
      }
      into.customers.push({
        tenant,
        customer_id: body.customer_id,
        name: body.name,
        email: body.email,
        session_fields: sessionFields,
        updated_us: at,
      });
      if (chatId !== null) into.chats.push(chat(tenant, chatId, body.customer_id));
      return;
    }
    case 'properties_changed': {
      const body = event.body.properties_changed;
      if (chatId === null || threadId === null || body.scope === 'event' || body.change !== 'updated') return;
      const r = rating(body.properties_json);
      if (r === null) return;
      into.threads.push({
        ...thread(tenant, chatId, threadId),
        rating_score: r.score,
        rating_comment: r.comment,
        rating_us: at,
      });
      return;
    }
    default:
      return;
  }
}

export function crmRowChanges(events: readonly ChatDomainEvent[]): CrmRowChanges {
  const changes = emptyChanges();
  for (const event of events) addEventRows(event, changes);
  return changes;
}
