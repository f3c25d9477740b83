import { tagsAt } from './model.js';
import type { SimulatedChat, SimulatedTenant } from './model.js';
import {
  DEFAULT_CLIENT_ID,
  reportSystemEventsV3,
  v3Agent,
  v3Customer,
  v3MessageEvent,
  v3PrechatForm,
} from './render-v3.js';
import { formatRfc3339Micros, type EpochMicros } from './time.js';
import type { V3AgentUser, V3CustomerUser, V3Event, V3Properties } from './v3-body.js';

/**
 * The simulated chats as LiveChat's Agent Chat API v3.6 returns them from its archives (reference section A.4, A.7,
 * A.10): one `list_archives` row per thread (a Chat with a singular `thread`), and the `get_chat` result for a
 * thread. The thread's events are exactly those its v3 webhooks carry (`renderV3`): the pre-chat form, every message
 * and whisper with its author and visibility, and with `reportFacts` the archiving and rating system messages; the
 * thread's tags, properties (`rating`), access, queue, previous/next thread and the chat's users are their state as of
 * `at`. What the webhooks carry and an archive cannot: the tag history (only the tags as of `at`), the property
 * changes (only their result), the transfer (a `chat_transferred` webhook; the thread keeps only the new agent as a
 * user and author).
 */

export type V36ArchiveThread = {
  id: string;
  /** False once the thread was closed. */
  active: boolean;
  user_ids: string[];
  /** Sorted by `created_at`. */
  events: V3Event[];
  properties: V3Properties;
  access: { group_ids: number[] };
  created_at: string;
  /** Only when tagged. */
  tags?: string[];
  previous_thread_id?: string;
  next_thread_id?: string;
  /** `list_archives` only. */
  previous_accessible_thread_id?: string;
  next_accessible_thread_id?: string;
  /** Only while the thread waits in the queue. */
  queue?: { position: number; wait_time: number; queued_at: string };
  /** Seconds the thread spent queued, once it left the queue (assigned or closed); only for queued threads. */
  queues_duration?: number;
};

export type V36ArchiveChat = {
  id: string;
  users: (V3CustomerUser | V3AgentUser)[];
  thread: V36ArchiveThread;
  properties: V3Properties;
  access: { group_ids: number[] };
  is_followed: boolean;
};

/** One archived thread: the `list_archives` row, and what the fake serves it by. */
export interface SimulatedArchiveThread {
  readonly tenant: SimulatedTenant;
  readonly chatId: string;
  readonly threadId: string;
  /** The thread's `created_at` (list_archives orders and filters by it). */
  readonly createdAt: EpochMicros;
  /** Whether the thread was still open at `at`. */
  readonly active: boolean;
  readonly row: V36ArchiveChat;
}

export interface RenderArchiveOptions {
  /**
   * The moment the archive is read: events, tags, users and properties after it are not there yet, a thread
   * not closed by then is `active`, a thread not started by then is left out. Default: after everything.
   */
  readonly at?: EpochMicros;
  readonly clientId?: string;
}

const SECOND: EpochMicros = 1_000_000;

/** Every thread of the chats as `list_archives` rows, oldest first (`sort_order: "asc"`). */
export function renderArchive(
  chats: readonly SimulatedChat[],
  options: RenderArchiveOptions = {},
): SimulatedArchiveThread[] {
  const at = options.at ?? Number.POSITIVE_INFINITY;
  const started = chats.filter((chat) => chat.startedAt <= at);
  // A resumed chat's next thread, by the thread it resumes.
  const nextThread = new Map<string, SimulatedChat>();
  for (const chat of started) {
    const previous = chat.report?.previousThreadId;
    if (previous) nextThread.set(`${chat.tenant.organizationId}/${chat.chatId}/${previous}`, chat);
  }
  return started
    .map((chat) => {
      const next = nextThread.get(`${chat.tenant.organizationId}/${chat.chatId}/${chat.threadId}`);
      const row = archiveRow(chat, at, next?.threadId ?? null, options.clientId ?? DEFAULT_CLIENT_ID);
      return {
        tenant: chat.tenant,
        chatId: chat.chatId,
        threadId: chat.threadId,
        createdAt: chat.startedAt,
        active: row.thread.active,
        row,
      };
    })
    .sort((a, b) => a.createdAt - b.createdAt);
}

/** The `get_chat` result for an archived thread: the row without what only `list_archives` returns. */
export function archiveGetChat(thread: SimulatedArchiveThread): V36ArchiveChat {
  const {
    previous_accessible_thread_id: _previous,
    next_accessible_thread_id: _next,
    ...rest
  } = thread.row.thread;
  return { ...thread.row, thread: rest };
}

function archiveRow(
  chat: SimulatedChat,
  at: EpochMicros,
  nextThreadId: string | null,
  clientId: string,
): V36ArchiveChat {
  const report = chat.report;
  const timed: { event: V3Event; at: EpochMicros }[] = [];
  if (chat.prechatSurvey)
    timed.push({ event: v3PrechatForm(chat, chat.prechatSurvey), at: chat.prechatSurvey.filledAt });
  for (const message of chat.messages)
    timed.push({ event: v3MessageEvent(chat, message), at: message.createdAt });
  timed.push(...reportSystemEventsV3(chat));
  // Stable: events of the same microsecond keep the order above.
  const events = timed
    .filter((e) => e.at <= at)
    .sort((a, b) => a.at - b.at)
    .map((e) => e.event);

  const users: (V3CustomerUser | V3AgentUser)[] = [v3Customer(chat), v3Agent(chat.agent)];
  const whisperAt = chat.messages.find((m) => m.author.kind === 'supervisor')?.createdAt;
  if (chat.supervisor && whisperAt !== undefined && whisperAt - 1 <= at) users.push(v3Agent(chat.supervisor));
  const transfer = report?.transfer;
  // The same users, from the same moments, as the webhooks' user_added_to_chat (renderV3).
  if (transfer && transfer.at <= at && !users.some((u) => u.id === transfer.to.id))
    users.push(v3Agent(transfer.to));

  const active = chat.closedAt > at;
  const access = { group_ids: [chat.groupId] };
  const tags = tagsAt(chat, at);
  const rating = ratingAt(chat, at);
  const queue = report?.queue ?? null;
  const thread: V36ArchiveThread = {
    id: chat.threadId,
    active,
    user_ids: users.map((u) => u.id),
    events,
    properties: {
      routing: { idle: false, unassigned: false },
      ...(rating === null ? {} : { rating }),
    },
    access,
    created_at: formatRfc3339Micros(chat.startedAt),
    ...(tags.length > 0 ? { tags } : {}),
    ...(report?.previousThreadId
      ? {
          previous_thread_id: report.previousThreadId,
          previous_accessible_thread_id: report.previousThreadId,
        }
      : {}),
    ...(nextThreadId === null
      ? {}
      : { next_thread_id: nextThreadId, next_accessible_thread_id: nextThreadId }),
  };
  if (queue !== null) {
    const left = queueLeftAt(chat, queue.queuedAt);
    if (left > at)
      thread.queue = {
        position: queue.position,
        wait_time: Math.floor((at - queue.queuedAt) / SECOND),
        queued_at: formatRfc3339Micros(queue.queuedAt),
      };
    else thread.queues_duration = Math.max(1, Math.round((left - queue.queuedAt) / SECOND));
  }
  return {
    id: chat.chatId,
    users,
    thread,
    properties: { routing: { continuous: false, pinned: false }, source: { client_id: clientId } },
    access,
    is_followed: false,
  };
}

/** When a queued thread left the queue: an agent's first message (assigned), else its close (the customer gave up). */
function queueLeftAt(chat: SimulatedChat, queuedAt: EpochMicros): EpochMicros {
  const assigned = chat.messages.find(
    (m) => m.author.kind === 'agent' && !m.isWelcome && m.createdAt >= queuedAt,
  );
  return assigned?.createdAt ?? chat.closedAt;
}

/** The `rating` thread properties as of `at` (as the webhooks set and delete them); null when none stand. */
function ratingAt(chat: SimulatedChat, at: EpochMicros): Record<string, unknown> | null {
  const rating = chat.report?.rating;
  if (!rating || rating.ratedAt > at) return null;
  if (rating.canceledAt !== null && rating.canceledAt <= at) return null;
  return {
    score: rating.score === 'good' ? 1 : 0,
    ...(rating.comment !== null && rating.commentedAt <= at ? { comment: rating.comment } : {}),
  };
}
