import type { ChatDomainEvent, ChatEventOf, ChatMessage } from '@livechat-pipeline/livechat';

/**
 * The analytics projection as data: each chat event becomes rows of the fact tables (see migrations). Every
 * table holds facts, never totals: rows are either immutable facts keyed by the event that carried them (insert
 * or ignore) or merged with commutative rules (least, or, union, coalesce). The numbers are computed by the
 * views from these facts, so they do not depend on the order in which the facts arrived.
 */
export interface ThreadRow {
  tenant: string;
  chat_id: string;
  thread_id: string;
  started_us: number | null;
  source_format: string;
  closed: boolean;
  /** LiveChat's time of the close when it gives one (v2 `ended_timestamp`). */
  close_dated_us: number | null;
  /** When we received the close: the last resort for a v3 thread without any dated event. */
  close_received_us: number | null;
  customer_id: string | null;
  group_ids: number[];
  tags_snapshot: string[] | null;
  tags_snapshot_us: number | null;
  /** The tags of the newest archive read of the thread (a v3 `tags_snapshot`) and when it was read. */
  archive_tags: string[] | null;
  archive_tags_us: number | null;
}

export interface ChatGroupsRow {
  tenant: string;
  chat_id: string;
  group_ids: number[];
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
  visibility: string | null;
  created_us: number | null;
  /** v2: the place in the transcript (whole-second times need it); null for v3. */
  position: number | null;
  system_message_type: string | null;
  /** `welcome` (lc2.welcome_message) or `greeting` (lc2.greeting_id): automatic messages before the customer spoke. */
  automatic: string | null;
  deleted: boolean;
}

export interface ParticipantRow {
  tenant: string;
  chat_id: string;
  user_id: string;
  kind: string;
}

export type RatingFactKind = 'score' | 'cancel' | 'comment';

export interface RatingRow {
  tenant: string;
  chat_id: string;
  /** '' for a chat-level fact (chat properties): it applies to the chat's latest thread. */
  thread_id: string;
  fact_id: string;
  /** True when `at_us` is LiveChat's time (a system message, v2's chat end); false for a receipt time. */
  dated: boolean;
  at_us: number;
  kind: RatingFactKind;
  score: number | null;
  comment: string | null;
}

export interface TransferRow {
  tenant: string;
  chat_id: string;
  thread_id: string;
  fact_id: string;
  to_group_ids: number[];
  to_agent_ids: string[];
  reason: string | null;
}

export interface QueueRow {
  tenant: string;
  chat_id: string;
  thread_id: string;
  fact_id: string;
  queued_at_us: number | null;
  wait_seconds: number | null;
}

export interface VisitorQueuedRow {
  tenant: string;
  visitor_id: string;
  fact_id: string;
  received_us: number;
}

export interface AgentStatusRow {
  tenant: string;
  agent_id: string;
  fact_id: string;
  at_us: number;
  status: string;
}

export interface AnalyticsRowChanges {
  threads: ThreadRow[];
  chatGroups: ChatGroupsRow[];
  threadTags: ThreadTagRow[];
  entries: EntryRow[];
  participants: ParticipantRow[];
  ratings: RatingRow[];
  transfers: TransferRow[];
  queues: QueueRow[];
  visitorQueues: VisitorQueuedRow[];
  agentStatuses: AgentStatusRow[];
}

export function emptyRowChanges(): AnalyticsRowChanges {
  return {
    threads: [],
    chatGroups: [],
    threadTags: [],
    entries: [],
    participants: [],
    ratings: [],
    transfers: [],
    queues: [],
    visitorQueues: [],
    agentStatuses: [],
  };
}

function threadRow(event: ChatDomainEvent, chatId: string, threadId: string): ThreadRow {
  return {
    tenant: event.tenant,
    chat_id: chatId,
    thread_id: threadId,
    started_us: null,
    source_format: event.source_format,
    closed: false,
    close_dated_us: null,
    close_received_us: null,
    customer_id: null,
    group_ids: [],
    tags_snapshot: null,
    tags_snapshot_us: null,
    archive_tags: null,
    archive_tags_us: null,
  };
}

export function analyticsRowChanges(events: readonly ChatDomainEvent[]): AnalyticsRowChanges {
  const into = emptyRowChanges();
  for (const event of events) addEventRows(event, into);
  return into;
}

/** Appends the rows one event contributes; events that carry nothing the reports use add nothing. */
export function addEventRows(event: ChatDomainEvent, into: AnalyticsRowChanges): void {
  const { tenant, chat_id: chatId, thread_id: threadId } = event;
  const at = event.occurred_at ?? event.received_at;
  switch (event.type) {
    case 'thread_started': {
      if (chatId === null || threadId === null) return;
      const body = event.body.thread_started;
      const customer = body.users.find((u) => u.kind === 'customer' && u.id !== null);
      into.threads.push({
        ...threadRow(event, chatId, threadId),
        started_us: event.occurred_at,
        customer_id: customer?.id ?? null,
        group_ids: [...body.group_ids],
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
      for (const user of body.users)
        if (user.id !== null && user.kind !== 'unknown')
          into.participants.push({ tenant, chat_id: chatId, user_id: user.id, kind: user.kind });
      ratingFromProperties(event, 'thread', body.thread_properties_json, 'updated', into);
      if (body.queue !== null)
        into.queues.push({
          tenant,
          chat_id: chatId,
          thread_id: threadId,
          fact_id: event.event_id,
          queued_at_us: body.queue.queued_at,
          wait_seconds: body.queue.wait_time,
        });
      return;
    }
    case 'thread_closed': {
      if (chatId === null || threadId === null) return;
      into.threads.push({
        ...threadRow(event, chatId, threadId),
        closed: true,
        close_dated_us: event.occurred_at,
        close_received_us: event.received_at,
      });
      return;
    }
    case 'message_posted':
      entry(event, event.body.message_posted.message, into);
      return;
    case 'event_edited':
      entry(event, event.body.event_edited.message, into);
      return;
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
        visibility: null,
        created_us: null,
        position: null,
        system_message_type: null,
        automatic: null,
        deleted: true,
      });
      return;
    }
    case 'thread_tagged':
    case 'thread_untagged': {
      if (chatId === null || threadId === null) return;
      into.threads.push(threadRow(event, chatId, threadId));
      const tagged = event.type === 'thread_tagged';
      const tag = tagged
        ? event.body.thread_tagged.tag
        : (event as ChatEventOf<'thread_untagged'>).body.thread_untagged.tag;
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
    case 'tags_snapshot': {
      if (chatId === null || threadId === null) return;
      if (event.source_format === 'v3') {
        // v3 sends tag changes, never lists: a v3 list is an archive's, the tags as of its read (received_at).
        into.threads.push({
          ...threadRow(event, chatId, threadId),
          archive_tags: [...event.body.tags_snapshot.tags],
          archive_tags_us: event.received_at,
        });
        return;
      }
      // v2 lists: the one received last wins (chat_changed carries no LiveChat time), as in transcripts.
      into.threads.push({
        ...threadRow(event, chatId, threadId),
        tags_snapshot: [...event.body.tags_snapshot.tags],
        tags_snapshot_us: event.received_at,
      });
      return;
    }
    case 'chat_transferred': {
      if (chatId === null) return;
      const body = event.body.chat_transferred;
      if (threadId === null) {
        into.chatGroups.push({ tenant, chat_id: chatId, group_ids: [...body.transferred_to_group_ids] });
        return;
      }
      into.threads.push(threadRow(event, chatId, threadId));
      into.transfers.push({
        tenant,
        chat_id: chatId,
        thread_id: threadId,
        fact_id: event.event_id,
        to_group_ids: [...body.transferred_to_group_ids],
        to_agent_ids: [...body.transferred_to_agent_ids],
        reason: body.reason,
      });
      if (body.queue !== null)
        into.queues.push({
          tenant,
          chat_id: chatId,
          thread_id: threadId,
          fact_id: event.event_id,
          queued_at_us: body.queue.queued_at,
          wait_seconds: body.queue.wait_time,
        });
      return;
    }
    case 'chat_access_changed': {
      if (chatId === null) return;
      const groups = [...event.body.chat_access_changed.group_ids];
      if (threadId === null) into.chatGroups.push({ tenant, chat_id: chatId, group_ids: groups });
      else into.threads.push({ ...threadRow(event, chatId, threadId), group_ids: groups });
      return;
    }
    case 'participant_added': {
      const body = event.body.participant_added;
      if (chatId === null || body.user_id === null || body.user_kind === 'unknown') return;
      into.participants.push({ tenant, chat_id: chatId, user_id: body.user_id, kind: body.user_kind });
      return;
    }
    case 'properties_changed': {
      const body = event.body.properties_changed;
      if (body.scope === 'event') return;
      ratingFromProperties(event, body.scope, body.properties_json, body.change, into);
      return;
    }
    case 'visitor_queued': {
      const visitor = event.body.visitor_queued.visitor_id;
      if (visitor === null) return;
      into.visitorQueues.push({ tenant, visitor_id: visitor, fact_id: event.event_id, received_us: at });
      return;
    }
    case 'routing_status_set': {
      const body = event.body.routing_status_set;
      if (body.agent_id === null || body.status === null) return;
      into.agentStatuses.push({
        tenant,
        agent_id: body.agent_id,
        fact_id: event.event_id,
        at_us: at,
        status: body.status,
      });
      return;
    }
    default:
      return;
  }
}

/** Types of LiveChat events that are messages in the reports' sense (system messages and forms are not). */
const MESSAGE_KINDS = new Set(['message', 'file', 'rich_message']);
export const isMessageKind = (kind: string): boolean => MESSAGE_KINDS.has(kind);

function entry(event: ChatDomainEvent, message: ChatMessage, into: AnalyticsRowChanges): void {
  const { tenant, chat_id: chatId, thread_id: threadId } = event;
  if (chatId === null || threadId === null) return;
  const entryId = message.livechat_event_id ?? event.event_id;
  // A thread is known from any of its events: one whose start was lost still gets its facts.
  into.threads.push(threadRow(event, chatId, threadId));
  const properties = objectOf(parseJson(message.properties_json));
  const lc2 = objectOf(properties?.['lc2']);
  const automatic =
    lc2?.['welcome_message'] === true ? 'welcome' : lc2?.['greeting_id'] !== undefined ? 'greeting' : null;
  into.entries.push({
    tenant,
    chat_id: chatId,
    thread_id: threadId,
    entry_id: entryId,
    kind: message.kind,
    author_kind: message.author_kind,
    author_id: message.author_id,
    visibility: message.visibility,
    created_us: message.created_at ?? (event.type === 'message_posted' ? event.occurred_at : null),
    position: message.transcript_position,
    system_message_type: message.system_message_type,
    automatic,
    deleted: false,
  });
  if (message.kind === 'system_message' && message.system_message_type?.startsWith('rating.') === true)
    ratingFromSystemMessage(event, message, entryId, into);
}

/**
 * `rating.chat_rated` (score in text_vars `score`, else the text's good/bad), `rating.chat_rating_canceled`,
 * `rating.chat_commented` (text_vars `comment`, else the text). Dated by the message's `created_at`.
 */
function ratingFromSystemMessage(
  event: ChatDomainEvent,
  message: ChatMessage,
  entryId: string,
  into: AnalyticsRowChanges,
): void {
  const at = message.created_at ?? event.occurred_at;
  if (at === null || event.chat_id === null || event.thread_id === null) return;
  const vars = objectOf(parseJson(message.text_vars_json));
  const base = {
    tenant: event.tenant,
    chat_id: event.chat_id,
    thread_id: event.thread_id,
    dated: true,
    at_us: at,
  };
  switch (message.system_message_type) {
    case 'rating.chat_rated': {
      const score = scoreOf(vars?.['score']) ?? scoreOf(message.text);
      if (score !== null)
        into.ratings.push({ ...base, fact_id: `${entryId}:score`, kind: 'score', score, comment: null });
      return;
    }
    case 'rating.chat_rating_canceled':
      into.ratings.push({
        ...base,
        fact_id: `${entryId}:cancel`,
        kind: 'cancel',
        score: null,
        comment: null,
      });
      return;
    case 'rating.chat_commented': {
      const comment = typeof vars?.['comment'] === 'string' ? vars['comment'] : message.text;
      if (comment !== null)
        into.ratings.push({ ...base, fact_id: `${entryId}:comment`, kind: 'comment', score: null, comment });
      return;
    }
    default:
      return;
  }
}

/**
 * The `rating` namespace of thread or chat properties: `score` 1 (good) / 0 (bad), `comment`; a deleted `score`
 * is a cancelled rating. Property webhooks carry no time: such facts are dated by their receipt, and a dated
 * fact (system message, v2) about the same thread outranks them (see the README).
 */
function ratingFromProperties(
  event: ChatDomainEvent,
  scope: 'chat' | 'thread',
  json: string | null,
  change: 'updated' | 'deleted',
  into: AnalyticsRowChanges,
): void {
  const rating = objectOf(parseJson(json))?.['rating'];
  if (rating === undefined || event.chat_id === null) return;
  const threadId = scope === 'thread' ? event.thread_id : '';
  if (threadId === null) return;
  const base = {
    tenant: event.tenant,
    chat_id: event.chat_id,
    thread_id: threadId,
    dated: event.occurred_at !== null,
    at_us: event.occurred_at ?? event.received_at,
  };
  if (change === 'deleted') {
    if (Array.isArray(rating) && rating.includes('score'))
      into.ratings.push({
        ...base,
        fact_id: `${event.event_id}:cancel`,
        kind: 'cancel',
        score: null,
        comment: null,
      });
    return;
  }
  const fields = objectOf(rating);
  if (fields === null) return;
  const score = scoreOf(valueOf(fields['score']));
  if (score !== null)
    into.ratings.push({ ...base, fact_id: `${event.event_id}:score`, kind: 'score', score, comment: null });
  const comment = valueOf(fields['comment']);
  if (typeof comment === 'string')
    into.ratings.push({
      ...base,
      fact_id: `${event.event_id}:comment`,
      kind: 'comment',
      score: null,
      comment,
    });
}

/** Properties may come as plain values or as `{ value }` (the property-definition shape). */
function valueOf(value: unknown): unknown {
  const object = objectOf(value);
  return object !== null && 'value' in object ? object['value'] : value;
}

function scoreOf(value: unknown): 0 | 1 | null {
  if (value === 1 || value === '1' || value === true) return 1;
  if (value === 0 || value === '0' || value === false) return 0;
  if (typeof value === 'string') {
    if (/good/i.test(value)) return 1;
    if (/bad/i.test(value)) return 0;
  }
  return null;
}

function objectOf(value: unknown): Record<string, unknown> | null {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : null;
}

function parseJson(text: string | null): unknown {
  if (text === null) return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return null;
  }
}
