import { finalTags, type MessageVisibility, type SimulatedChat, type SimulatedTenant } from './model.js';
import { epochSeconds, formatRfc3339Micros } from './time.js';

/** Whisper authors are agents too: what sets a whisper apart is its visibility. */
export type ExpectedAuthorKind = 'customer' | 'agent';

export interface ExpectedMessage {
  readonly text: string;
  readonly authorKind: ExpectedAuthorKind;
  /** The agent's e-mail id; `null` for the customer (whose id differs between v2 and v3). */
  readonly agentId: string | null;
  /** `agents` for a supervisor whisper (v2 `user_type: "supervisor"`). */
  readonly visibility: MessageVisibility;
  /** RFC 3339 with microseconds, exactly as v3 sends it. */
  readonly createdAt: string;
  /** What v2 sends: Unix epoch seconds. */
  readonly createdAtEpochSeconds: number;
}

/** Why the thread ended: v3 `chat_deactivated.user_id` (absent for `system`), v2 `chat.events[type=closed]`. */
export type ExpectedClosedBy = 'agent' | 'customer' | 'system';

/**
 * The facts a correct transcript of one chat must show, whichever format it arrived in, however often each
 * webhook was retried and in whatever order the deliveries came. Times are given at both precisions:
 * compare v3 data with the RFC 3339 fields and v2 data with the epoch-seconds fields.
 */
export interface ExpectedChat {
  readonly tenant: SimulatedTenant;
  readonly chatId: string;
  readonly threadId: string;
  readonly groupId: number;
  /** v3 `thread.created_at`. */
  readonly startedAt: string;
  /** v2 `chat.started_timestamp`. */
  readonly startedAtEpochSeconds: number;
  /** v2 `chat.ended_timestamp` (v3 `chat_deactivated` carries no time). */
  readonly endedAtEpochSeconds: number;
  readonly closedBy: ExpectedClosedBy;
  readonly customerName: string;
  readonly customerEmail: string;
  /** The agent the chat was routed to. */
  readonly agentId: string;
  /** The final tag set, sorted (after every `thread_tagged`/`thread_untagged` or `chat_changed`). */
  readonly tags: readonly string[];
  /** Every message in the order it was written (by `created_at`; the pre-chat form is not a message). */
  readonly messages: readonly ExpectedMessage[];
}

export function expectedChat(chat: SimulatedChat): ExpectedChat {
  return {
    tenant: chat.tenant,
    chatId: chat.chatId,
    threadId: chat.threadId,
    groupId: chat.groupId,
    startedAt: formatRfc3339Micros(chat.startedAt),
    startedAtEpochSeconds: epochSeconds(chat.startedAt),
    endedAtEpochSeconds: epochSeconds(chat.closedAt),
    closedBy: chat.closedBy.by,
    customerName: chat.customer.name,
    customerEmail: chat.customer.email,
    agentId: chat.agent.id,
    tags: finalTags(chat),
    messages: chat.messages.map((message) => ({
      text: message.text,
      authorKind: message.author.kind === 'customer' ? 'customer' : 'agent',
      agentId: message.author.kind === 'customer' ? null : message.author.agentId,
      visibility: message.visibility,
      createdAt: formatRfc3339Micros(message.createdAt),
      createdAtEpochSeconds: epochSeconds(message.createdAt),
    })),
  };
}

export function expectedChats(chats: readonly SimulatedChat[]): ExpectedChat[] {
  return chats.map(expectedChat);
}
