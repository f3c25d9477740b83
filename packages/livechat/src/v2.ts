import { authorKindFromUserType } from './authors.js';
import { chatEvent } from './event-factory.js';
import type { DeliveryFacts } from './event-factory.js';
import { filledForm } from './forms.js';
import { deterministicEventId, textHash } from './ids.js';
import { checkLimit } from './limits.js';
import {
  arrayAt,
  canonicalJson,
  idAt,
  integerAt,
  integersAt,
  objectAt,
  objectsAt,
  ownEntry,
  stringAt,
  stringsAt,
} from './json.js';
import type { JsonObject } from './json.js';
import { epochSecondsAt, rfc3339At } from './time.js';
import type {
  ChatDomainEvent,
  ChatMessage,
  ChatUser,
  CustomerIdentifiedBody,
  ThreadClosedBody,
} from './types.js';
import { customerIdentified } from './customers.js';

/** Top-level v2 keys that are credentials or envelope, never facts: kept out of every event. */
const V2_ENVELOPE_KEYS = new Set(['event_type', 'token', 'license_id', 'event_unique_id']);

/** What every v2 handler gets. */
interface V2Delivery {
  readonly delivery: DeliveryFacts;
  readonly eventType: string;
  readonly body: JsonObject;
}

type V2Handler = (input: V2Delivery) => ChatDomainEvent[];

const V2_HANDLERS: Readonly<Record<string, V2Handler>> = {
  chat_started: (input) => chatTranscript(input, false),
  chat_ended: (input) => chatTranscript(input, true),
  chat_changed: chatChanged,
  visitor_queued: visitorQueued,
  ticket_created: ticketCreated,
  canned_response_changed: cannedResponseChanged,
};

/** Parses a v2 body (`event_type` present); unknown event types yield one `unrecognised_webhook` event. */
export function parseV2Webhook(
  body: JsonObject,
  eventType: string,
  delivery: DeliveryFacts,
): ChatDomainEvent[] {
  const handler = ownEntry(V2_HANDLERS, eventType) ?? unrecognised;
  return handler({ delivery, eventType, body });
}

/**
 * v2 has no threads: a v2 chat is what v3 calls a thread (one visitor conversation, start to end), so the thread id
 * of a v2 chat is the chat id itself.
 */
export function v2ThreadId(chatId: string | null): string | null {
  return chatId;
}

/**
 * `chat_started` / `chat_ended`: the whole transcript so far. Both emit `thread_started`, `customer_identified`,
 * the pre-chat survey as a `filled_form` message, one `message_posted` per message and chat event; `chat_ended`
 * adds the tag snapshot and `thread_closed`. Messages carry no ids in v2, so their ids come from their content
 * (see `v2MessageIds`): the messages `chat_started` repeats in `chat_ended` get the same ids.
 */
function chatTranscript(input: V2Delivery, ended: boolean): ChatDomainEvent[] {
  const { delivery, body } = input;
  const chat = objectAt(body, 'chat');
  const chatId = stringAt(chat, 'id');
  const threadId = v2ThreadId(chatId);
  const startedAt = epochSecondsAt(chat, 'started_timestamp');
  const visitor = objectAt(body, 'visitor');
  const survey = objectsAt(body, 'pre_chat_survey');
  // Refused before the per-message ids are computed: thread start, customer, survey, close and tags at most.
  checkLimit(delivery.limits, 'maxUsers', arrayAt(chat, 'agents').length, 'too many agents in chat.agents');
  checkLimit(
    delivery.limits,
    'maxEvents',
    arrayAt(chat, 'messages').length + arrayAt(chat, 'events').length + 5,
    'more events than allowed',
  );
  const messages = objectsAt(chat, 'messages');

  const events: ChatDomainEvent[] = [
    chatEvent(
      delivery,
      {
        event_id: deterministicEventId(['v2-thread-started', delivery.tenant, chatId]),
        chat_id: chatId,
        thread_id: threadId,
        occurred_at: startedAt,
      },
      'thread_started',
      {
        users: chatUsers(visitor, chat, messages),
        group_ids: integersAt(chat, 'groups'),
        // v2 sends tags as snapshots; they are emitted as `tags_snapshot`, not as start facts.
        tags: [],
        previous_thread_id: null,
        active: !ended,
        chat_properties_json: null,
        thread_properties_json: null,
        queue: null,
      },
    ),
  ];

  // `chat_started` may come without the chat's groups and `chat_ended` with them, but both share the
  // thread_started id, so only the first to arrive is applied: the groups are a fact of their own.
  const groupIds = integersAt(chat, 'groups');
  if (groupIds.length > 0) {
    events.push(
      chatEvent(
        delivery,
        {
          event_id: deterministicEventId(['v2-chat-groups', delivery.tenant, chatId, groupIds.join(',')]),
          chat_id: chatId,
          thread_id: threadId,
          occurred_at: startedAt,
        },
        'chat_access_changed',
        { change: 'set', group_ids: groupIds },
      ),
    );
  }

  const customer = customerFactsFromV2(visitor, survey);
  // The visitor is known before the chat starts: both deliveries date the facts at the start, so they dedup.
  if (customer !== null) events.push(customerIdentified(delivery, chatId, threadId, startedAt, customer));

  if (survey.length > 0) {
    events.push(
      chatEvent(
        delivery,
        {
          event_id: deterministicEventId([
            'v2-prechat-survey',
            delivery.tenant,
            chatId,
            canonicalJson(survey),
          ]),
          chat_id: chatId,
          thread_id: threadId,
          occurred_at: startedAt,
        },
        'message_posted',
        { message: surveyMessage(survey, visitor, startedAt) },
      ),
    );
  }

  const messageIds = v2MessageIds(delivery.tenant, chatId, messages, messageIdentity);
  messages.forEach((message, index) => {
    const content = v2Message(message, visitor, index);
    events.push(
      chatEvent(
        delivery,
        {
          event_id: messageIds[index] ?? '',
          chat_id: chatId,
          thread_id: threadId,
          occurred_at: content.created_at,
        },
        'message_posted',
        { message: content },
      ),
    );
  });

  const chatEvents = objectsAt(chat, 'events');
  const chatEventIds = v2MessageIds(delivery.tenant, chatId, chatEvents, chatEventIdentity);
  chatEvents.forEach((chatEventItem, index) => {
    const content = v2ChatEvent(chatEventItem);
    events.push(
      chatEvent(
        delivery,
        {
          event_id: chatEventIds[index] ?? '',
          chat_id: chatId,
          thread_id: threadId,
          occurred_at: content.created_at,
        },
        'message_posted',
        { message: content },
      ),
    );
  });

  const rating = v2Rating(input, chatId, threadId);
  if (rating !== null) events.push(rating);

  if (ended) {
    const tags = stringsAt(chat, 'tags');
    const endedAt = epochSecondsAt(chat, 'ended_timestamp');
    events.push(tagsSnapshot(input, chatId, tags, endedAt));
    events.push(
      chatEvent(
        delivery,
        {
          event_id: deterministicEventId(['thread-closed', delivery.tenant, chatId, threadId]),
          chat_id: chatId,
          thread_id: threadId,
          occurred_at: endedAt,
        },
        'thread_closed',
        threadCloser(chatEvents, visitor),
      ),
    );
  }
  return events;
}

/**
 * v2's `chat.rate` (`rated_good` / `rated_bad`; `not_rated` says nothing) as the `rating.score` thread property
 * v3 uses (1 good, 0 bad), dated at the chat's end (else its start): the same fact in both formats.
 */
function v2Rating(input: V2Delivery, chatId: string | null, threadId: string | null): ChatDomainEvent | null {
  const chat = objectAt(input.body, 'chat');
  const rate = stringAt(chat, 'rate');
  const score = rate === 'rated_good' ? 1 : rate === 'rated_bad' ? 0 : null;
  if (score === null) return null;
  return chatEvent(
    input.delivery,
    {
      event_id: deterministicEventId(['v2-rate', input.delivery.tenant, chatId, rate]),
      chat_id: chatId,
      thread_id: threadId,
      occurred_at: epochSecondsAt(chat, 'ended_timestamp') ?? epochSecondsAt(chat, 'started_timestamp'),
    },
    'properties_changed',
    {
      scope: 'thread',
      change: 'updated',
      livechat_event_id: null,
      properties_json: JSON.stringify({ rating: { score } }),
    },
  );
}

/** Who closed a v2 chat: its `closed` chat event names the user type; a visitor's id is the top-level visitor's. */
function threadCloser(chatEvents: readonly JsonObject[], visitor: JsonObject | undefined): ThreadClosedBody {
  const closed = chatEvents.find((item) => stringAt(item, 'type') === 'closed');
  if (closed === undefined) return { closed_by_user_id: null, closed_by_kind: 'unknown' };
  const kind = authorKindFromUserType(stringAt(closed, 'user_type'), null) ?? 'unknown';
  return {
    closed_by_user_id: kind === 'customer' ? stringAt(visitor, 'id') : stringAt(closed, 'agent_id'),
    closed_by_kind: kind,
  };
}

/**
 * Content ids for v2 transcript entries, which have none: (tenant, chat, time, author, text hash), plus the
 * occurrence number among identical entries so that two "ok"s by the same author in the same second stay two.
 * `chat_ended` repeats `chat_started`'s messages as a prefix, so the n-th identical entry is the same in both.
 */
function v2MessageIds(
  tenant: string,
  chatId: string | null,
  items: readonly JsonObject[],
  identity: TranscriptIdentity,
): string[] {
  const seen = new Map<string, number>();
  return items.map((item) => {
    const parts = identity.parts(item);
    const key = canonicalJson(parts);
    const occurrence = seen.get(key) ?? 0;
    seen.set(key, occurrence + 1);
    return deterministicEventId([identity.scheme, tenant, chatId, ...parts, occurrence]);
  });
}

interface TranscriptIdentity {
  readonly scheme: string;
  readonly parts: (item: JsonObject) => (string | number | null)[];
}

const messageIdentity: TranscriptIdentity = {
  scheme: 'v2-message',
  parts: (message) => [
    integerAt(message, 'timestamp'),
    stringAt(message, 'user_type'),
    stringAt(message, 'agent_id') ?? stringAt(message, 'author_name'),
    textHash(stringAt(message, 'text') ?? ''),
  ],
};

const chatEventIdentity: TranscriptIdentity = {
  scheme: 'v2-chat-event',
  parts: (item) => [
    integerAt(item, 'timestamp'),
    stringAt(item, 'type'),
    stringAt(item, 'user_type'),
    textHash(stringAt(item, 'text') ?? ''),
  ],
};

/** v2 `visitor` = customer; `agent` = agent; `supervisor` = an agent whispering to agents only. */
function v2Message(message: JsonObject, visitor: JsonObject | undefined, position: number): ChatMessage {
  const userType = stringAt(message, 'user_type');
  const authorKind = authorKindFromUserType(userType, null) ?? 'unknown';
  return {
    livechat_event_id: null,
    custom_id: null,
    kind: 'message',
    author_id: authorKind === 'customer' ? stringAt(visitor, 'id') : stringAt(message, 'agent_id'),
    author_kind: authorKind,
    author_name: stringAt(message, 'author_name'),
    visibility: userType === 'supervisor' ? 'agents' : 'all',
    created_at: epochSecondsAt(message, 'timestamp'),
    text: stringAt(message, 'text'),
    file: null,
    form: null,
    system_message_type: null,
    text_vars_json: null,
    template_id: null,
    content_json: null,
    properties_json: null,
    transcript_position: position,
  };
}

/** v2 chat events (`{type: "closed", text: "X closed the chat.", user_type}`) are LiveChat's system messages. */
function v2ChatEvent(item: JsonObject): ChatMessage {
  const type = stringAt(item, 'type');
  return {
    livechat_event_id: null,
    custom_id: null,
    kind: 'system_message',
    author_id: null,
    author_kind: 'system',
    author_name: null,
    visibility: 'all',
    created_at: epochSecondsAt(item, 'timestamp'),
    text: stringAt(item, 'text'),
    file: null,
    form: null,
    system_message_type: type === null ? null : `v2.${type}`,
    text_vars_json: null,
    template_id: null,
    content_json: null,
    properties_json: null,
    transcript_position: null,
  };
}

function surveyMessage(
  survey: readonly JsonObject[],
  visitor: JsonObject | undefined,
  startedAt: number | null,
): ChatMessage {
  return {
    livechat_event_id: null,
    custom_id: null,
    kind: 'filled_form',
    author_id: stringAt(visitor, 'id'),
    author_kind: 'customer',
    author_name: stringAt(visitor, 'name'),
    visibility: 'all',
    created_at: startedAt,
    text: null,
    file: null,
    form: filledForm(null, 'prechat', survey),
    system_message_type: null,
    text_vars_json: null,
    template_id: null,
    content_json: null,
    properties_json: null,
    transcript_position: null,
  };
}

/** The visitor and the agents of a v2 chat (`chat.agents`, else the agents who wrote messages). */
function chatUsers(
  visitor: JsonObject | undefined,
  chat: JsonObject | undefined,
  messages: readonly JsonObject[],
): ChatUser[] {
  const users: ChatUser[] = [];
  if (visitor !== undefined) {
    users.push({
      id: stringAt(visitor, 'id'),
      kind: 'customer',
      name: stringAt(visitor, 'name'),
      email: stringAt(visitor, 'email'),
      present: null,
    });
  }
  const agents = objectsAt(chat, 'agents');
  if (agents.length > 0) {
    for (const agent of agents) {
      const login = stringAt(agent, 'login');
      users.push({ id: login, kind: 'agent', name: stringAt(agent, 'name'), email: login, present: null });
    }
    return users;
  }
  const seen = new Set<string>();
  for (const message of messages) {
    const agentId = stringAt(message, 'agent_id');
    if (agentId === null || seen.has(agentId)) continue;
    seen.add(agentId);
    users.push({
      id: agentId,
      kind: 'agent',
      name: stringAt(message, 'author_name'),
      email: agentId,
      present: null,
    });
  }
  return users;
}

/** Visitor facts; name and email fall back to the pre-chat survey's `name`/`email` fields. */
function customerFactsFromV2(
  visitor: JsonObject | undefined,
  survey: readonly JsonObject[],
): CustomerIdentifiedBody | null {
  const surveyAnswer = (type: string): string | null => {
    const field = survey.find((item) => stringAt(item, 'type') === type);
    return stringAt(field, 'answer') ?? stringAt(field, 'value');
  };
  const name = stringAt(visitor, 'name') ?? surveyAnswer('name');
  const email = stringAt(visitor, 'email') ?? surveyAnswer('email');
  const customVariables = objectsAt(visitor, 'custom_variables');
  const sessionFields: Record<string, unknown> = {};
  for (const variable of customVariables) {
    const key = stringAt(variable, 'key');
    if (key !== null) sessionFields[key] = variable['value'] ?? null;
  }
  const visit: Record<string, unknown> = {};
  if (visitor !== undefined) {
    for (const [key, value] of Object.entries(visitor)) {
      if (!['id', 'name', 'email', 'custom_variables'].includes(key)) visit[key] = value;
    }
  }
  if (visitor === undefined && name === null && email === null) return null;
  return {
    customer_id: stringAt(visitor, 'id'),
    name,
    email,
    session_fields_json: customVariables.length > 0 ? JSON.stringify(sessionFields) : null,
    visit_json: Object.keys(visit).length > 0 ? JSON.stringify(visit) : null,
  };
}

/**
 * v2 `chat_changed` fires only when the chat's tag list changed, and sends the whole list: a snapshot, not a
 * tag/untag. It carries no time of the change, so `occurred_at` is null.
 */
function chatChanged(input: V2Delivery): ChatDomainEvent[] {
  const chat = objectAt(input.body, 'chat');
  return [tagsSnapshot(input, stringAt(chat, 'id'), stringsAt(chat, 'tags'), null)];
}

function tagsSnapshot(
  input: V2Delivery,
  chatId: string | null,
  tags: string[],
  occurredAt: number | null,
): ChatDomainEvent {
  const { delivery } = input;
  // event_unique_id (undocumented, present in real payloads) is stable across redeliveries of one webhook.
  const occurrence = stringAt(input.body, 'event_unique_id') ?? canonicalJson([...tags].sort());
  return chatEvent(
    delivery,
    {
      event_id: deterministicEventId([
        'v2-tags-snapshot',
        delivery.tenant,
        chatId,
        input.eventType,
        occurrence,
      ]),
      chat_id: chatId,
      thread_id: v2ThreadId(chatId),
      occurred_at: occurredAt,
    },
    'tags_snapshot',
    { tags },
  );
}

function visitorQueued(input: V2Delivery): ChatDomainEvent[] {
  const { delivery, body } = input;
  const visitor = objectAt(body, 'visitor');
  return [
    chatEvent(
      delivery,
      {
        event_id: deterministicEventId([
          'v2-visitor-queued',
          delivery.tenant,
          stringAt(body, 'event_unique_id') ?? canonicalJson(visitor ?? null),
        ]),
        chat_id: null,
        thread_id: null,
        occurred_at: null,
      },
      'visitor_queued',
      {
        visitor_id: stringAt(visitor, 'id'),
        name: stringAt(visitor, 'name'),
        email: stringAt(visitor, 'email'),
      },
    ),
  ];
}

/** Tickets have no creation time; their first event's `date` (ISO, unlike the rest of v2) is the closest. */
function ticketCreated(input: V2Delivery): ChatDomainEvent[] {
  const { delivery, body } = input;
  const ticket = objectAt(body, 'ticket') ?? {};
  let firstEventTime: number | null = null;
  for (const event of objectsAt(ticket, 'events')) {
    const time = rfc3339At(event, 'date');
    if (time !== null && (firstEventTime === null || time < firstEventTime)) firstEventTime = time;
  }
  const requester = objectAt(ticket, 'requester');
  return [
    chatEvent(
      delivery,
      {
        event_id: deterministicEventId([
          'v2-ticket-created',
          delivery.tenant,
          idAt(ticket, 'id') ?? canonicalJson(ticket),
        ]),
        chat_id: null,
        thread_id: null,
        occurred_at: firstEventTime,
      },
      'ticket_created',
      {
        ticket_id: idAt(ticket, 'id'),
        status: stringAt(ticket, 'status'),
        subject: stringAt(ticket, 'subject'),
        requester_name: stringAt(requester, 'name'),
        requester_email: stringAt(requester, 'mail') ?? stringAt(requester, 'email'),
        assignee_id: idAt(objectAt(ticket, 'assignee'), 'id'),
        tags: stringsAt(ticket, 'tags'),
        group_ids: objectsAt(ticket, 'groups')
          .map((group) => integerAt(group, 'id'))
          .filter((id): id is number => id !== null),
        source_chat_id: stringAt(objectAt(ticket, 'source'), 'id'),
        ticket_json: JSON.stringify(ticket),
      },
    ),
  ];
}

function cannedResponseChanged(input: V2Delivery): ChatDomainEvent[] {
  const { delivery, body } = input;
  const cannedResponse = objectAt(body, 'canned_response') ?? {};
  return [
    chatEvent(
      delivery,
      {
        event_id: deterministicEventId([
          'v2-canned-response-changed',
          delivery.tenant,
          canonicalJson(cannedResponse),
        ]),
        chat_id: null,
        thread_id: null,
        occurred_at: epochSecondsAt(cannedResponse, 'modification_date'),
      },
      'canned_response_changed',
      {
        canned_response_id: integerAt(cannedResponse, 'id'),
        group_id: integerAt(cannedResponse, 'group'),
        text: stringAt(cannedResponse, 'text'),
        tags: stringsAt(cannedResponse, 'tags'),
      },
    ),
  ];
}

function unrecognised(input: V2Delivery): ChatDomainEvent[] {
  const { delivery, body } = input;
  const facts: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(body)) if (!V2_ENVELOPE_KEYS.has(key)) facts[key] = value;
  const chatId = stringAt(objectAt(body, 'chat'), 'id');
  return [
    chatEvent(
      delivery,
      {
        event_id: deterministicEventId([
          'v2-unrecognised',
          delivery.tenant,
          input.eventType,
          canonicalJson(facts),
        ]),
        chat_id: chatId,
        thread_id: v2ThreadId(chatId),
        occurred_at: null,
      },
      'unrecognised_webhook',
      { discriminator: input.eventType, payload_json: JSON.stringify(facts) },
    ),
  ];
}
