import { agentOf } from './model.js';
import type {
  SimulatedAgent,
  SimulatedAgentStatus,
  SimulatedAuthor,
  SimulatedChat,
  SimulatedMessage,
  SimulatedPrechatSurvey,
  SimulatedQueue,
} from './model.js';
import { Random, hashToSeed } from './prng.js';
import { byEmission, type RenderedWebhook } from './rendered.js';
import { formatRfc3339Micros, type EpochMicros } from './time.js';
import type {
  V3AgentUser,
  V3Chat,
  V3ChatAction,
  V3CustomerUser,
  V3Envelope,
  V3Event,
  V3FilledFormEvent,
  V3MessageEvent,
  V3Properties,
  V3ChatDeactivatedBody,
  V3RoutingStatusSetBody,
  V3SystemMessageEvent,
  V3WebhookBody,
} from './v3-body.js';

/** A canary: a test can search Kafka, Postgres and logs for it and must never find it. */
export const DEFAULT_V3_SECRET_KEY = 'v3-secret-CANARY-0000000000000000';

/** The `source.client_id` of the simulated chat widget (32-hex like a LiveChat Client ID). */
export const DEFAULT_CLIENT_ID = 'c6e4f62e2a2dab12531235b12c5a2a6b';

export interface RenderV3Options {
  /** Echoed in every body, as LiveChat does with the key chosen at registration. */
  readonly secretKey?: string;
  /**
   * `webhook_id` identifies a registration, and registrations are per action: one id per action, the same
   * on every delivery. Default: a fixed 32-hex id per action.
   */
  readonly webhookIds?: Partial<Record<V3ChatAction, string>>;
  readonly clientId?: string;
}

const SECOND: EpochMicros = 1_000_000;

export function defaultWebhookId(action: V3ChatAction): string {
  return new Random(hashToSeed(`webhook:${action}`)).hex(32);
}

/** Renders chats as v3.6 webhooks, interleaved across chats in emission order. */
export function renderV3(chats: readonly SimulatedChat[], options: RenderV3Options = {}): RenderedWebhook[] {
  return byEmission(chats.flatMap((chat) => renderChatV3(chat, options)));
}

function renderChatV3(chat: SimulatedChat, options: RenderV3Options): RenderedWebhook[] {
  const secretKey = options.secretKey ?? DEFAULT_V3_SECRET_KEY;
  const clientId = options.clientId ?? DEFAULT_CLIENT_ID;
  const chatProperties: V3Properties = {
    routing: { continuous: false, pinned: false },
    source: { client_id: clientId },
  };
  const whisperAt =
    chat.messages.find((m) => m.author.kind === 'supervisor')?.createdAt ?? Number.POSITIVE_INFINITY;
  // A supervisor counts as present from their first whisper on.
  const presentAt = (at: EpochMicros): string[] => [
    chat.customer.id,
    chat.agent.id,
    ...(chat.supervisor && at >= whisperAt ? [chat.supervisor.id] : []),
  ];

  const envelope = <Action extends V3ChatAction, Payload>(
    action: Action,
    at: EpochMicros,
    payload: Payload,
  ): V3Envelope<Action, Payload> => ({
    webhook_id: options.webhookIds?.[action] ?? defaultWebhookId(action),
    secret_key: secretKey,
    action,
    organization_id: chat.tenant.organizationId,
    payload,
    additional_data: { chat_properties: chatProperties, chat_presence_user_ids: presentAt(at) },
  });
  const webhook = (
    body: V3WebhookBody,
    emittedAt: EpochMicros,
    orderKeys: readonly string[] = [],
  ): RenderedWebhook => ({
    format: 'v3',
    body,
    chatId: chat.chatId,
    tenant: chat.tenant,
    emittedAt,
    orderKeys,
  });

  const tagOrderKey = (tag: string): string =>
    `${chat.tenant.organizationId}/${chat.chatId}/${chat.threadId}/tag:${tag}`;
  const [firstMessage, ...laterMessages] = chat.messages;
  const webhooks: RenderedWebhook[] = [];
  // `incoming_chat` goes out with the first message already in the thread, as in real captures.
  const incomingChatAt = firstMessage?.createdAt ?? chat.startedAt;
  webhooks.push(
    webhook(
      envelope('incoming_chat', incomingChatAt, { chat: v3Chat(chat, chatProperties, firstMessage) }),
      incomingChatAt,
      chat.initialTags.map(tagOrderKey),
    ),
  );
  for (const message of laterMessages) {
    const payload = { chat_id: chat.chatId, thread_id: chat.threadId, event: v3MessageEvent(chat, message) };
    webhooks.push(webhook(envelope('incoming_event', message.createdAt, payload), message.createdAt));
  }
  for (const change of chat.tagChanges) {
    const payload = { chat_id: chat.chatId, thread_id: chat.threadId, tag: change.tag };
    const body =
      change.kind === 'tagged'
        ? envelope('thread_tagged', change.at, payload)
        : envelope('thread_untagged', change.at, payload);
    webhooks.push(webhook(body, change.at, [tagOrderKey(change.tag)]));
  }
  // Agents who join later (LiveChat sends user_added_to_chat with the user, as the archive lists them in users[]).
  if (chat.supervisor && whisperAt !== Number.POSITIVE_INFINITY) {
    // Just before the first whisper: the supervisor joins to whisper.
    const at = whisperAt - 1;
    webhooks.push(
      webhook(
        envelope('user_added_to_chat', at, {
          chat_id: chat.chatId,
          thread_id: chat.threadId,
          user: v3Agent(chat.supervisor),
          user_type: 'agent' as const,
          reason: 'manual' as const,
          requester_id: chat.supervisor.id,
        }),
        at,
      ),
    );
  }
  const transfer = chat.report?.transfer;
  if (transfer && transfer.to.id !== chat.agent.id && transfer.to.id !== chat.supervisor?.id) {
    webhooks.push(
      webhook(
        envelope('user_added_to_chat', transfer.at, {
          chat_id: chat.chatId,
          thread_id: chat.threadId,
          user: v3Agent(transfer.to),
          user_type: 'agent' as const,
          reason: 'transfer' as const,
          requester_id: transfer.from.id,
        }),
        transfer.at,
      ),
    );
  }
  webhooks.push(...reportWebhooksV3(chat, envelope, webhook));
  const closer = chat.closedBy;
  const closedByUserId =
    closer.by === 'agent' ? closer.agentId : closer.by === 'customer' ? chat.customer.id : undefined;
  const deactivated: V3ChatDeactivatedBody = envelope('chat_deactivated', chat.closedAt, {
    chat_id: chat.chatId,
    thread_id: chat.threadId,
    // Absent, not null, when the router closed the thread.
    ...(closedByUserId === undefined ? {} : { user_id: closedByUserId }),
  });
  webhooks.push(webhook(deactivated, chat.closedAt));
  return webhooks.sort((a, b) => a.emittedAt - b.emittedAt);
}

function v3Chat(
  chat: SimulatedChat,
  chatProperties: V3Properties,
  firstMessage: SimulatedMessage | undefined,
): V3Chat {
  const events: V3Event[] = [];
  if (chat.prechatSurvey) events.push(v3PrechatForm(chat, chat.prechatSurvey));
  if (firstMessage) events.push(v3MessageEvent(chat, firstMessage));
  const access = { group_ids: [chat.groupId] };
  return {
    id: chat.chatId,
    users: [v3Customer(chat), v3Agent(chat.agent)],
    properties: chatProperties,
    access,
    thread: {
      id: chat.threadId,
      active: true,
      user_ids: [chat.customer.id, chat.agent.id],
      events,
      properties: { routing: { idle: false, unassigned: false } },
      access,
      created_at: formatRfc3339Micros(chat.startedAt),
      ...(chat.initialTags.length > 0 ? { tags: [...chat.initialTags] } : {}),
      ...(chat.report?.previousThreadId ? { previous_thread_id: chat.report.previousThreadId } : {}),
      ...(chat.report?.queue
        ? { queue: v3Queue(chat.report.queue, firstMessage?.createdAt ?? chat.startedAt) }
        : {}),
    },
  };
}

/** The queue as `incoming_chat` shows it: where the thread stands and how long it has waited so far. */
function v3Queue(
  queue: SimulatedQueue,
  at: EpochMicros,
): { position: number; wait_time: number; queued_at: string } {
  return {
    position: queue.position,
    wait_time: Math.floor((at - queue.queuedAt) / SECOND),
    queued_at: formatRfc3339Micros(queue.queuedAt),
  };
}

/** The pre-chat survey as the thread's `filled_form` event (in `incoming_chat` and in the archive). */
export function v3PrechatForm(chat: SimulatedChat, survey: SimulatedPrechatSurvey): V3FilledFormEvent {
  return {
    id: survey.eventId,
    type: 'filled_form',
    author_id: chat.customer.id,
    created_at: formatRfc3339Micros(survey.filledAt),
    visibility: 'all',
    form_id: 'prechat-1',
    form_type: 'prechat',
    properties: { lc2: { form_type: 'prechat' } },
    fields: [
      { id: 'f1', type: 'name', label: 'Name:', answer: chat.customer.name },
      { id: 'f2', type: 'email', label: 'E-mail:', answer: chat.customer.email },
    ],
  };
}

export function v3Customer(chat: SimulatedChat): V3CustomerUser {
  const { customer } = chat;
  return {
    id: customer.id,
    type: 'customer',
    name: customer.name,
    email: customer.email,
    present: true,
    events_seen_up_to: formatRfc3339Micros(chat.startedAt),
    created_at: formatRfc3339Micros(chat.startedAt - 3 * 24 * 3600 * SECOND),
    visit: {
      started_at: formatRfc3339Micros(chat.startedAt - 120 * SECOND),
      ip: customer.ip,
      user_agent:
        'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36',
      geolocation: { country: customer.country, country_code: customer.countryCode, city: customer.city },
      last_pages: [
        {
          opened_at: formatRfc3339Micros(chat.startedAt - 30 * SECOND),
          url: 'https://shop.example/cart',
          title: 'Cart',
        },
      ],
    },
    statistics: { chats_count: 1, threads_count: 1, visits_count: 3 },
  };
}

export function v3Agent(agent: SimulatedAgent): V3AgentUser {
  return {
    id: agent.id,
    type: 'agent',
    name: agent.name,
    email: agent.id,
    present: true,
    events_seen_up_to: '1970-01-01T00:00:00.000000Z',
    visibility: 'all',
    routing_status: 'accepting_chats',
  };
}

export function v3MessageEvent(chat: SimulatedChat, message: SimulatedMessage): V3MessageEvent {
  return {
    id: message.eventId,
    type: 'message',
    text: message.text,
    author_id: authorId(chat, message.author),
    created_at: formatRfc3339Micros(message.createdAt),
    visibility: message.visibility,
    ...(message.isWelcome ? { properties: { lc2: { welcome_message: true } } } : {}),
    ...(message.isGreeting === true ? { properties: { lc2: { greeting_id: 42 } } } : {}),
  };
}

function authorId(chat: SimulatedChat, author: SimulatedAuthor): string {
  return author.kind === 'customer' ? chat.customer.id : author.agentId;
}

type Envelope = <Action extends V3ChatAction, Payload>(
  action: Action,
  at: EpochMicros,
  payload: Payload,
) => V3Envelope<Action, Payload>;

/** One of LiveChat's own events in a thread (archiving, ratings) and when it happened. */
export interface SystemEventV3 {
  readonly event: V3SystemMessageEvent;
  readonly at: EpochMicros;
}

/**
 * The system messages of a thread's report facts, in the order they are sent: the archiving message at the close
 * (`manual_archived_agent` names the agent in `text_vars.agent`, as LiveChat's activity messages do; the archive
 * tells who closed the thread only through it), then the rating's `rating.chat_rated`, `rating.chat_commented`,
 * `rating.chat_rating_canceled`. The same events in the webhooks (`incoming_event`) and in the archive.
 */
export function reportSystemEventsV3(chat: SimulatedChat): SystemEventV3[] {
  const report = chat.report;
  if (report === undefined) return [];
  const system = (
    id: string,
    type: string,
    text: string,
    at: EpochMicros,
    vars?: Record<string, string>,
  ): SystemEventV3 => ({
    event: {
      id,
      type: 'system_message',
      system_message_type: type,
      text,
      ...(vars ? { text_vars: vars } : {}),
      created_at: formatRfc3339Micros(at),
      visibility: 'all',
    },
    at,
  });
  const closer = chat.closedBy;
  const out: SystemEventV3[] = [
    system(
      report.archivedEventId,
      closer.by === 'agent'
        ? 'manual_archived_agent'
        : closer.by === 'customer'
          ? 'manual_archived_customer'
          : 'system_archived',
      'The chat was archived.',
      chat.closedAt,
      closer.by === 'agent' ? { agent: agentOf(chat, closer.agentId).name } : undefined,
    ),
  ];
  const rating = report.rating;
  if (rating) {
    out.push(
      system(
        `${chat.threadId}_r1`,
        'rating.chat_rated',
        `Customer rated the chat as ${rating.score}`,
        rating.ratedAt,
        {
          score: rating.score,
        },
      ),
    );
    if (rating.comment !== null)
      out.push(
        system(
          `${chat.threadId}_r2`,
          'rating.chat_commented',
          'Customer left a comment',
          rating.commentedAt,
          {
            comment: rating.comment,
          },
        ),
      );
    if (rating.canceledAt !== null)
      out.push(
        system(
          `${chat.threadId}_r3`,
          'rating.chat_rating_canceled',
          'Customer canceled the rating',
          rating.canceledAt,
        ),
      );
  }
  return out;
}

/**
 * The report facts of a thread as LiveChat sends them (the queue is in `incoming_chat`'s thread): a manual transfer (`chat_transferred`),
 * the archiving system message at the close, the rating (system messages `rating.chat_rated`,
 * `rating.chat_commented`, `rating.chat_rating_canceled`, with the `rating` thread properties set and deleted).
 */
function reportWebhooksV3(
  chat: SimulatedChat,
  envelope: Envelope,
  webhook: (body: V3WebhookBody, emittedAt: EpochMicros) => RenderedWebhook,
): RenderedWebhook[] {
  const report = chat.report;
  if (report === undefined) return [];
  const ids = { chat_id: chat.chatId, thread_id: chat.threadId };
  const out: RenderedWebhook[] = [];
  const systemEvents = new Map(reportSystemEventsV3(chat).map((s) => [s.event.id, s]));
  const system = (id: string): RenderedWebhook => {
    const { event, at } = systemEvents.get(id)!;
    return webhook(envelope('incoming_event', at, { ...ids, event }), at);
  };
  if (report.transfer) {
    const { at, from, to } = report.transfer;
    out.push(
      webhook(
        envelope('chat_transferred', at, {
          ...ids,
          requester_id: from.id,
          reason: 'manual' as const,
          transferred_to: { group_ids: [chat.groupId], agent_ids: [to.id] },
        }),
        at,
      ),
    );
  }
  out.push(system(report.archivedEventId));
  const rating = report.rating;
  if (rating) {
    out.push(
      system(`${chat.threadId}_r1`),
      webhook(
        envelope('thread_properties_updated', rating.ratedAt, {
          ...ids,
          properties: { rating: { score: rating.score === 'good' ? 1 : 0 } },
        }),
        rating.ratedAt,
      ),
    );
    if (rating.comment !== null)
      out.push(
        system(`${chat.threadId}_r2`),
        webhook(
          envelope('thread_properties_updated', rating.commentedAt, {
            ...ids,
            properties: { rating: { comment: rating.comment } },
          }),
          rating.commentedAt,
        ),
      );
    if (rating.canceledAt !== null)
      out.push(
        system(`${chat.threadId}_r3`),
        webhook(
          envelope('thread_properties_deleted', rating.canceledAt, {
            ...ids,
            properties: { rating: ['score', 'comment'] },
          }),
          rating.canceledAt,
        ),
      );
  }
  return out;
}

/** `routing_status_set` per agent status change (agents are not chats: each agent's changes keep their order). */
export function renderAgentStatusesV3(
  statuses: readonly SimulatedAgentStatus[],
  options: RenderV3Options = {},
): RenderedWebhook[] {
  return statuses.map((status) => {
    const body: V3RoutingStatusSetBody = {
      webhook_id: options.webhookIds?.routing_status_set ?? defaultWebhookId('routing_status_set'),
      secret_key: options.secretKey ?? DEFAULT_V3_SECRET_KEY,
      action: 'routing_status_set',
      organization_id: status.tenant.organizationId,
      payload: { agent_id: status.agentId, status: status.status },
      additional_data: {},
    };
    return {
      format: 'v3',
      body,
      chatId: `agent:${status.agentId}`,
      tenant: status.tenant,
      emittedAt: status.at,
      orderKeys: [`${status.tenant.organizationId}/status:${status.agentId}`],
    };
  });
}
