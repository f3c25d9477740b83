import { userRows } from './people.js';
import { chat, thread, type RowBuilders } from './types.js';

type ThreadEventType =
  | 'thread_started'
  | 'thread_closed'
  | 'thread_tagged'
  | 'thread_untagged'
  | 'tags_snapshot'
  | 'chat_transferred'
  | 'chat_access_changed'
  | 'thread_summary_set';

/** Chats and their threads: starts and closes, tags, groups and queue facts, summaries. */
export const threadRows: RowBuilders<ThreadEventType> = {
  thread_started: (event, into, at) => {
    const { tenant, chat_id: chatId, thread_id: threadId } = event;
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
    userRows(tenant, chatId, body.users, into, at);
  },
  thread_closed: (event, into, at) => {
    const { tenant, chat_id: chatId, thread_id: threadId } = event;
    if (chatId === null || threadId === null) return;
    const body = event.body.thread_closed;
    into.threads.push({
      ...thread(tenant, chatId, threadId),
      closed_us: at,
      closed_by_user_id: body.closed_by_user_id,
      closed_by_kind: body.closed_by_kind,
    });
  },
  thread_tagged: (event, into) => {
    const { tenant, chat_id: chatId, thread_id: threadId } = event;
    if (chatId === null || threadId === null) return;
    into.threads.push(thread(tenant, chatId, threadId));
    into.threadTags.push({
      tenant,
      chat_id: chatId,
      thread_id: threadId,
      tag: event.body.thread_tagged.tag,
      tagged: true,
      untagged: false,
      tagged_us: event.received_at,
      untagged_us: null,
    });
  },
  thread_untagged: (event, into) => {
    const { tenant, chat_id: chatId, thread_id: threadId } = event;
    if (chatId === null || threadId === null) return;
    into.threads.push(thread(tenant, chatId, threadId));
    into.threadTags.push({
      tenant,
      chat_id: chatId,
      thread_id: threadId,
      tag: event.body.thread_untagged.tag,
      tagged: false,
      untagged: true,
      tagged_us: null,
      untagged_us: event.received_at,
    });
  },
  tags_snapshot: (event, into) => {
    const { tenant, chat_id: chatId, thread_id: threadId } = event;
    if (chatId === null || threadId === null) return;
    if (event.source_format === 'v3') {
      // v3 sends tag changes, never lists: a v3 list is an archive's (packages/livechat "Archives"), the thread's
      // tags as of its read (received_at). The newest read wins, and supersedes tag changes received before it.
      into.threads.push({
        ...thread(tenant, chatId, threadId),
        archive_tags: [...event.body.tags_snapshot.tags],
        archive_tags_us: event.received_at,
      });
      return;
    }
    // v2 tag lists: the one received last wins. chat_changed carries no LiveChat time, and comparing
    // our receipt time with chat_ended's LiveChat time would let a late delivery beat the final list.
    into.threads.push({
      ...thread(tenant, chatId, threadId),
      tags_snapshot: [...event.body.tags_snapshot.tags],
      tags_snapshot_us: event.received_at,
    });
  },
  chat_transferred: (event, into) => {
    const { tenant, chat_id: chatId, thread_id: threadId } = event;
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
  },
  chat_access_changed: (event, into) => {
    const { tenant, chat_id: chatId } = event;
    if (chatId === null) return;
    into.chats.push({ ...chat(tenant, chatId), group_ids: [...event.body.chat_access_changed.group_ids] });
  },
  thread_summary_set: (event, into, at) => {
    const { tenant, chat_id: chatId, thread_id: threadId } = event;
    if (chatId === null || threadId === null) return;
    const body = event.body.thread_summary_set;
    into.threads.push({
      ...thread(tenant, chatId, threadId),
      summary_status: body.status,
      summary_text: body.text,
      summary_updated_us: body.updated_at ?? at,
    });
  },
};
