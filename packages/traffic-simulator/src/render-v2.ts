import { agentOf, tagsAt, type SimulatedChat, type SimulatedMessage } from './model.js';
import { Random, hashToSeed } from './prng.js';
import { byEmission, type RenderedWebhook } from './rendered.js';
import { epochSeconds, type EpochMicros } from './time.js';
import type {
  V2ChatChangedBody,
  V2ChatEndedBody,
  V2ChatEvent,
  V2ChatStartedBody,
  V2Message,
  V2PrechatSurveyField,
  V2Visitor,
  V2VisitorQueuedBody,
  V2WebhookBody,
} from './v2-body.js';

/** A canary: a test can search Kafka, Postgres and logs for it and must never find it. */
export const DEFAULT_V2_TOKEN = 'v2-token-CANARY-00000000000000000';

export interface RenderV2Options {
  /** The v2 `token` credential carried in every body. */
  readonly token?: string;
  /**
   * Share of webhooks that carry the undocumented `event_unique_id` (real captures have it on some bodies
   * only, so a consumer cannot rely on it). Default 0.5.
   */
  readonly eventUniqueIdRate?: number;
}

/** Renders chats as v2 webhooks (`chat_started`, `chat_changed`, `chat_ended`), interleaved in emission order. */
export function renderV2(chats: readonly SimulatedChat[], options: RenderV2Options = {}): RenderedWebhook[] {
  return byEmission(chats.flatMap((chat) => renderChatV2(chat, options)));
}

function renderChatV2(thread: SimulatedChat, options: RenderV2Options): RenderedWebhook[] {
  // v2 has no threads: a resumed chat's new thread reaches a v2 receiver as a chat of its own.
  const chat = thread.report?.previousThreadId ? { ...thread, chatId: thread.threadId } : thread;
  const token = options.token ?? DEFAULT_V2_TOKEN;
  const eventUniqueIdRate = options.eventUniqueIdRate ?? 0.5;
  // Seeded by the chat so the same chat renders the same bytes whatever other chats are rendered with it.
  const random = new Random(hashToSeed(`v2:${chat.tenant.licenseId}:${chat.chatId}`));
  const common = <EventType extends V2WebhookBody['event_type']>(eventType: EventType) => ({
    event_type: eventType,
    ...(random.chance(eventUniqueIdRate) ? { event_unique_id: random.hex(32) } : {}),
    token,
    license_id: chat.tenant.licenseId,
  });
  // Every v2 chat webhook carries the whole tag list and no time of its own: keep them in order.
  const orderKeys = [`${chat.tenant.licenseId}/${chat.chatId}/tags`];
  const webhook = (body: V2WebhookBody, emittedAt: EpochMicros): RenderedWebhook => ({
    format: 'v2',
    body,
    chatId: chat.chatId,
    tenant: chat.tenant,
    emittedAt,
    orderKeys,
  });
  const visitor = v2Visitor(chat);
  const preChatSurvey = v2PrechatSurvey(chat);
  const startedTimestamp = epochSeconds(chat.startedAt);

  const webhooks: RenderedWebhook[] = [];
  const firstMessage = chat.messages[0];
  const startedAt = firstMessage?.createdAt ?? chat.startedAt;
  const started: V2ChatStartedBody = {
    ...common('chat_started'),
    chat: {
      id: chat.chatId,
      started_timestamp: startedTimestamp,
      messages: firstMessage ? [v2Message(chat, firstMessage)] : [],
      tags: tagsAt(chat, startedAt),
    },
    visitor,
    pre_chat_survey: preChatSurvey,
  };
  webhooks.push(webhook(started, startedAt));

  for (const change of chat.tagChanges) {
    const changed: V2ChatChangedBody = {
      ...common('chat_changed'),
      chat: { id: chat.chatId, started_timestamp: startedTimestamp, tags: tagsAt(chat, change.at) },
      visitor,
    };
    webhooks.push(webhook(changed, change.at));
  }

  const ended: V2ChatEndedBody = {
    ...common('chat_ended'),
    chat: {
      id: chat.chatId,
      started_timestamp: startedTimestamp,
      ended_timestamp: epochSeconds(chat.closedAt),
      messages: chat.messages.map((message) => v2Message(chat, message)),
      events: v2CloseEvents(chat),
      attachments: [],
      agents: [{ name: chat.agent.name, login: chat.agent.id }],
      tags: tagsAt(chat, chat.closedAt),
      groups: [chat.groupId],
      ...(chat.report ? { rate: v2Rate(chat) } : {}),
    },
    visitor,
    pre_chat_survey: preChatSurvey,
  };
  webhooks.push(webhook(ended, chat.closedAt));
  if (chat.report?.queue) {
    const queued: V2VisitorQueuedBody = { ...common('visitor_queued'), visitor };
    webhooks.push({ ...webhook(queued, chat.report.queue.queuedAt), orderKeys: [] });
  }
  return webhooks.sort((a, b) => a.emittedAt - b.emittedAt);
}

/** v2 knows only the rating a chat ends with (a cancelled one is `not_rated`). */
function v2Rate(chat: SimulatedChat): 'rated_good' | 'rated_bad' | 'not_rated' {
  const rating = chat.report?.rating;
  if (!rating || rating.canceledAt !== null) return 'not_rated';
  return rating.score === 'good' ? 'rated_good' : 'rated_bad';
}

function v2Message(chat: SimulatedChat, message: SimulatedMessage): V2Message {
  const timestamp = epochSeconds(message.createdAt);
  const { author } = message;
  if (author.kind === 'customer') {
    return { user_type: 'visitor', author_name: chat.customer.name, text: message.text, timestamp };
  }
  return {
    user_type: author.kind === 'supervisor' ? 'supervisor' : 'agent',
    author_name: agentOf(chat, author.agentId).name,
    text: message.text,
    timestamp,
    agent_id: author.agentId,
  };
}

/** v2 reports a person closing the chat as a `closed` event; the router's close leaves no event. */
function v2CloseEvents(chat: SimulatedChat): V2ChatEvent[] {
  const timestamp = epochSeconds(chat.closedAt);
  const closer = chat.closedBy;
  switch (closer.by) {
    case 'agent': {
      const agent = agentOf(chat, closer.agentId);
      return [
        {
          user_type: 'agent',
          text: `${agent.name} closed the chat.`,
          timestamp,
          type: 'closed',
          agent_id: agent.id,
        },
      ];
    }
    case 'customer':
      return [
        { user_type: 'visitor', text: `${chat.customer.name} closed the chat.`, timestamp, type: 'closed' },
      ];
    case 'system':
      return [];
  }
}

function v2Visitor(chat: SimulatedChat): V2Visitor {
  const { customer } = chat;
  return {
    id: customer.visitorId,
    name: customer.name,
    email: customer.email,
    country: customer.country,
    city: customer.city,
    custom_variables: [{ key: 'Customer ID', value: customer.externalCustomerId }],
  };
}

function v2PrechatSurvey(chat: SimulatedChat): V2PrechatSurveyField[] {
  if (!chat.prechatSurvey) return [];
  return [
    { id: '2001', type: 'name', label: 'Name:', answer: chat.customer.name },
    { id: '2002', type: 'email', label: 'E-mail:', answer: chat.customer.email },
  ];
}
