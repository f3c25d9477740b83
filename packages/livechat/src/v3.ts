import { authorKindFromUserId, authorKindFromUserType } from './authors.js';
import { chatEvent } from './event-factory.js';
import type { DeliveryFacts } from './event-factory.js';
import { deterministicEventId, deterministicIdPrefix } from './ids.js';
import type { IdPrefix } from './ids.js';
import { checkLimit } from './limits.js';
import {
  arrayAt,
  canonicalJson,
  idAt,
  integerAt,
  integersAt,
  isJsonObject,
  jsonOrNull,
  objectAt,
  objectsAt,
  ownEntry,
  stringAt,
  stringsAt,
  booleanAt,
} from './json.js';
import type { JsonObject } from './json.js';
import { rfc3339At } from './time.js';
import { customerIdentified, sessionFieldsJson } from './customers.js';
import type { ChatDomainEvent, ChatUser, CustomerIdentifiedBody, QueueInfo } from './types.js';
import { chatMessageFromV3Event, chatUserFromV3, knownUsersFrom } from './v3-structures.js';
import type { KnownUsers } from './v3-structures.js';

/**
 * Old action names (v3.1, v3.2–3.3) mapped to the current one that means the same, so one handler serves every
 * version. Config actions (`agent_*`, `bot_*`, …) are matched by prefix instead, see `configurationEntity`.
 */
const V3_ACTION_ALIASES: Readonly<Record<string, string>> = {
  incoming_chat_thread: 'incoming_chat',
  thread_closed: 'chat_deactivated',
  chat_user_added: 'user_added_to_chat',
  chat_user_removed: 'user_removed_from_chat',
  chat_thread_tagged: 'thread_tagged',
  chat_thread_untagged: 'thread_untagged',
  chat_thread_properties_updated: 'thread_properties_updated',
  chat_thread_properties_deleted: 'thread_properties_deleted',
  agent_status_changed: 'routing_status_set',
  customer_created: 'incoming_customer',
  access_granted: 'chat_access_granted',
  access_revoked: 'chat_access_revoked',
  access_set: 'chat_access_set',
};

/** What every handler gets: the delivery, the action under its current name, and the payload. */
interface V3Delivery {
  readonly delivery: DeliveryFacts;
  /** The current name of the action (after `V3_ACTION_ALIASES`). */
  readonly action: string;
  /** The action exactly as sent. */
  readonly sentAction: string;
  readonly payload: unknown;
  /** The payload when it is an object (it is an array for `auto_accesses_updated`). */
  readonly fields: JsonObject | undefined;
  readonly body: JsonObject;
  /** The id of a fact without an id of its own: see `actionEventId`. */
  readonly actionId: (...extra: (string | number | null)[]) => string;
}

type V3Handler = (input: V3Delivery) => ChatDomainEvent[];

/** Parses a v3.x body (`action` present); unknown actions yield one `unrecognised_webhook` event. */
export function parseV3Webhook(
  body: JsonObject,
  sentAction: string,
  delivery: DeliveryFacts,
): ChatDomainEvent[] {
  const action = ownEntry(V3_ACTION_ALIASES, sentAction) ?? sentAction;
  const payload = body['payload'] ?? body['data']; // v3.0 called the payload `data` (renamed in v3.1).
  // The canonical payload is hashed once per delivery, however many events without an id it carries.
  let actionIds: IdPrefix | undefined;
  const input: V3Delivery = {
    delivery,
    action,
    sentAction,
    payload,
    fields: isJsonObject(payload) ? payload : undefined,
    body,
    actionId: (...extra) =>
      (actionIds ??= deterministicIdPrefix([
        'v3-action',
        delivery.tenant,
        action,
        canonicalJson(payload),
      ])).id(...extra),
  };
  const handler =
    ownEntry(V3_HANDLERS, action) ??
    (configurationEntity(action) === null ? unrecognised : configurationChanged);
  return handler(input);
}

/**
 * The id of a fact LiveChat gives no id to: `deterministicEventId(['v3-action', tenant, action, canonical payload
 * JSON, ...extra])`. A redelivery (same payload) gets the same id; two genuinely separate but identical actions
 * (tag, untag, tag again) collapse — LiveChat sends no time to tell them apart, so consumers must reconcile such
 * state (SPEC §3.8). The payload part is hashed once per delivery (`V3Delivery.actionId`), so a body with many
 * events without ids costs linear time.
 */
function actionEventId(input: V3Delivery, ...extra: (string | number | null)[]): string {
  return input.actionId(...extra);
}

/** The id of a LiveChat event: its own id, scoped by tenant, chat and thread. */
export function livechatEventId(
  tenant: string,
  chatId: string | null,
  threadId: string | null,
  eventId: string,
): string {
  return deterministicEventId(['v3-event', tenant, chatId, threadId, eventId]);
}

/** The id of a thread's start: `incoming_chat` and an archive of the thread give the same. */
export function threadStartedEventId(tenant: string, chatId: string | null, threadId: string | null): string {
  return deterministicEventId(['v3-thread-started', tenant, chatId, threadId]);
}

/** The id of a thread's close: `chat_deactivated` (v3), `chat_ended` (v2, by its thread id) and an archive alike. */
export function threadClosedEventId(tenant: string, chatId: string | null, threadId: string | null): string {
  return deterministicEventId(['thread-closed', tenant, chatId, threadId]);
}

/**
 * The id of an event without a LiveChat id as `incoming_event` delivers it (its payload `{chat_id, thread_id, event}`):
 * `['v3-action', tenant, 'incoming_event', canonical payload, canonical event]`, what `actionEventId` gives that
 * webhook, so an archive's copy of the event meets it.
 */
export function incomingEventIdWithoutId(
  tenant: string,
  chatId: string | null,
  threadId: string | null,
  event: JsonObject,
): string {
  const payload: JsonObject = {
    ...(chatId === null ? {} : { chat_id: chatId }),
    ...(threadId === null ? {} : { thread_id: threadId }),
    event,
  };
  return deterministicEventId([
    'v3-action',
    tenant,
    'incoming_event',
    canonicalJson(payload),
    canonicalJson(event),
  ]);
}

const V3_HANDLERS: Readonly<Record<string, V3Handler>> = {
  incoming_chat: incomingChat,
  incoming_event: incomingEvent,
  event_updated: eventUpdated,
  event_deleted: eventDeleted,
  chat_deactivated: chatDeactivated,
  thread_tagged: (input) => threadTag(input, 'thread_tagged'),
  thread_untagged: (input) => threadTag(input, 'thread_untagged'),
  chat_transferred: chatTransferred,
  chat_access_updated: (input) => chatAccessChanged(input, 'updated'),
  chat_access_granted: (input) => chatAccessChanged(input, 'granted'),
  chat_access_revoked: (input) => chatAccessChanged(input, 'revoked'),
  chat_access_set: (input) => chatAccessChanged(input, 'set'),
  user_added_to_chat: userAddedToChat,
  user_removed_from_chat: userRemovedFromChat,
  chat_properties_updated: (input) => propertiesChanged(input, 'chat', 'updated'),
  chat_properties_deleted: (input) => propertiesChanged(input, 'chat', 'deleted'),
  thread_properties_updated: (input) => propertiesChanged(input, 'thread', 'updated'),
  thread_properties_deleted: (input) => propertiesChanged(input, 'thread', 'deleted'),
  event_properties_updated: (input) => propertiesChanged(input, 'event', 'updated'),
  event_properties_deleted: (input) => propertiesChanged(input, 'event', 'deleted'),
  incoming_rich_message_postback: richMessagePostback,
  customer_session_fields_updated: customerSessionFieldsUpdated,
  incoming_customer: incomingCustomer,
  thread_summary_set: threadSummarySet,
  routing_status_set: routingStatusSet,
  events_marked_as_seen: eventsMarkedAsSeen,
};

/**
 * `incoming_chat` (v3.1 `incoming_chat_thread`): a thread started. Emits `thread_started`, `customer_identified`
 * for each customer in the chat, and a `message_posted` for every event already in the thread — with the same ids
 * as the `incoming_event` deliveries of those events, so either path dedups against the other.
 *
 * Webhooks carry one `thread`; API-shaped chats (`threads[]`) are accepted too. The chat-level facts (its users,
 * properties, access as the fallback of a thread's, and the customers) are emitted once per body, with the first
 * thread, never copied into every thread: a body's output stays linear in its size.
 */
function incomingChat(input: V3Delivery): ChatDomainEvent[] {
  const { delivery } = input;
  const { limits } = delivery;
  const chat = objectAt(input.fields, 'chat');
  const chatId = stringAt(chat, 'id');
  checkLimit(limits, 'maxUsers', arrayAt(chat, 'users').length, 'too many users in chat.users');
  const single = objectAt(chat, 'thread');
  checkLimit(
    limits,
    'maxThreads',
    single ? 1 : arrayAt(chat, 'threads').length,
    'too many threads in chat.threads',
  );
  const threads = single ? [single] : objectsAt(chat, 'threads');
  if (threads.length === 0) threads.push({});
  const userObjects = objectsAt(chat, 'users');
  const customers = userObjects.filter((user) => stringAt(user, 'type') === 'customer');
  let eventCount = threads.length + customers.length;
  for (const thread of threads) eventCount += arrayAt(thread, 'events').length;
  checkLimit(limits, 'maxEvents', eventCount, 'more events than allowed');

  const users = userObjects.map((user) => chatUserFromV3(user));
  const knownUsers = knownUsersFrom(users);
  const events: ChatDomainEvent[] = [];
  threads.forEach((thread, index) => {
    const first = index === 0;
    const threadId = stringAt(thread, 'id');
    const threadEvents = objectsAt(thread, 'events');
    const startedAt = rfc3339At(thread, 'created_at') ?? earliestCreatedAt(threadEvents);
    events.push(
      chatEvent(
        delivery,
        {
          event_id: threadStartedEventId(delivery.tenant, chatId, threadId),
          chat_id: chatId,
          thread_id: threadId,
          occurred_at: startedAt,
        },
        'thread_started',
        {
          users: first ? users : [],
          group_ids: integersAt(
            objectAt(thread, 'access') ?? (first ? objectAt(chat, 'access') : undefined),
            'group_ids',
          ),
          tags: stringsAt(thread, 'tags'),
          previous_thread_id: stringAt(thread, 'previous_thread_id'),
          active: booleanAt(thread, 'active'),
          chat_properties_json: first ? jsonOrNull(chat?.['properties']) : null,
          thread_properties_json: jsonOrNull(thread['properties']),
          queue: queueInfo(objectAt(thread, 'queue')),
        },
      ),
    );
    if (first) {
      for (const customer of customers) {
        const facts = customerFacts(customer);
        if (facts === null) continue;
        events.push(customerIdentified(delivery, chatId, threadId, startedAt, facts));
      }
    }
    for (const event of threadEvents) events.push(messagePosted(input, chatId, threadId, event, knownUsers));
  });
  return events;
}

export function earliestCreatedAt(events: readonly JsonObject[]): number | null {
  let earliest: number | null = null;
  for (const event of events) {
    const time = rfc3339At(event, 'created_at');
    if (time !== null && (earliest === null || time < earliest)) earliest = time;
  }
  return earliest;
}

function incomingEvent(input: V3Delivery): ChatDomainEvent[] {
  const event = objectAt(input.fields, 'event') ?? {};
  return [
    messagePosted(input, stringAt(input.fields, 'chat_id'), stringAt(input.fields, 'thread_id'), event),
  ];
}

function messagePosted(
  input: V3Delivery,
  chatId: string | null,
  threadId: string | null,
  event: JsonObject,
  knownUsers?: KnownUsers,
): ChatDomainEvent {
  const message = chatMessageFromV3Event(event, knownUsers);
  const eventId =
    message.livechat_event_id === null
      ? actionEventId(input, canonicalJson(event))
      : livechatEventId(input.delivery.tenant, chatId, threadId, message.livechat_event_id);
  return chatEvent(
    input.delivery,
    { event_id: eventId, chat_id: chatId, thread_id: threadId, occurred_at: message.created_at },
    'message_posted',
    { message },
  );
}

/** `event_updated`: LiveChat sends the whole edited event but no edit time, so `occurred_at` is null. */
function eventUpdated(input: V3Delivery): ChatDomainEvent[] {
  const event = objectAt(input.fields, 'event') ?? {};
  const chatId = stringAt(input.fields, 'chat_id');
  const threadId = stringAt(input.fields, 'thread_id');
  const message = chatMessageFromV3Event(event);
  return [
    chatEvent(
      input.delivery,
      {
        // Each distinct edit is its own fact: the id covers the edited content.
        event_id: deterministicEventId([
          'v3-event-edited',
          input.delivery.tenant,
          chatId,
          threadId,
          message.livechat_event_id,
          canonicalJson(event),
        ]),
        chat_id: chatId,
        thread_id: threadId,
        occurred_at: null,
      },
      'event_edited',
      { message },
    ),
  ];
}

function eventDeleted(input: V3Delivery): ChatDomainEvent[] {
  const chatId = stringAt(input.fields, 'chat_id');
  const threadId = stringAt(input.fields, 'thread_id');
  const livechatEventId = stringAt(input.fields, 'event_id');
  return [
    chatEvent(
      input.delivery,
      {
        event_id: deterministicEventId([
          'v3-event-deleted',
          input.delivery.tenant,
          chatId,
          threadId,
          livechatEventId,
        ]),
        chat_id: chatId,
        thread_id: threadId,
        occurred_at: null,
      },
      'event_deleted',
      { livechat_event_id: livechatEventId },
    ),
  ];
}

/** `chat_deactivated` (v3.1 `thread_closed`): no `user_id` means the router closed the thread. */
function chatDeactivated(input: V3Delivery): ChatDomainEvent[] {
  const chatId = stringAt(input.fields, 'chat_id');
  const threadId = stringAt(input.fields, 'thread_id');
  const userId = stringAt(input.fields, 'user_id');
  return [
    chatEvent(
      input.delivery,
      {
        event_id: threadClosedEventId(input.delivery.tenant, chatId, threadId),
        chat_id: chatId,
        thread_id: threadId,
        occurred_at: null,
      },
      'thread_closed',
      {
        closed_by_user_id: userId,
        closed_by_kind: userId === null ? 'router' : authorKindFromUserId(userId),
      },
    ),
  ];
}

function threadTag(input: V3Delivery, type: 'thread_tagged' | 'thread_untagged'): ChatDomainEvent[] {
  return [
    chatEvent(input.delivery, chatScopedFacts(input), type, { tag: stringAt(input.fields, 'tag') ?? '' }),
  ];
}

/** The envelope facts of an action about one chat/thread that LiveChat gives no id or time to. */
function chatScopedFacts(input: V3Delivery, chatIdKey = 'chat_id') {
  return {
    event_id: actionEventId(input),
    chat_id: stringAt(input.fields, chatIdKey),
    thread_id: stringAt(input.fields, 'thread_id'),
    occurred_at: null,
  };
}

function chatTransferred(input: V3Delivery): ChatDomainEvent[] {
  const transferredTo = objectAt(input.fields, 'transferred_to');
  const queue = objectAt(input.fields, 'queue');
  return [
    chatEvent(input.delivery, chatScopedFacts(input), 'chat_transferred', {
      requester_id: stringAt(input.fields, 'requester_id'),
      reason: stringAt(input.fields, 'reason'),
      transferred_to_group_ids: integersAt(transferredTo, 'group_ids'),
      transferred_to_agent_ids: stringsAt(transferredTo, 'agent_ids'),
      queue: queueInfo(queue),
    }),
  ];
}

/** A thread's queue (`{position, wait_time, queued_at}`), in a transfer or in the thread itself. */
export function queueInfo(queue: JsonObject | undefined): QueueInfo | null {
  return queue === undefined
    ? null
    : {
        position: integerAt(queue, 'position'),
        wait_time: integerAt(queue, 'wait_time'),
        queued_at: rfc3339At(queue, 'queued_at'),
      };
}

/** Chat access actions name the chat `id`, not `chat_id`. */
function chatAccessChanged(input: V3Delivery, change: string): ChatDomainEvent[] {
  const facts = chatScopedFacts(input, 'id');
  return [
    chatEvent(
      input.delivery,
      { ...facts, chat_id: facts.chat_id ?? stringAt(input.fields, 'chat_id') },
      'chat_access_changed',
      {
        change,
        group_ids: integersAt(objectAt(input.fields, 'access'), 'group_ids'),
      },
    ),
  ];
}

function userAddedToChat(input: V3Delivery): ChatDomainEvent[] {
  const userObject = objectAt(input.fields, 'user');
  const userType = stringAt(input.fields, 'user_type');
  const user: ChatUser | null = userObject === undefined ? null : chatUserFromV3(userObject, userType);
  const userId = user?.id ?? stringAt(input.fields, 'user_id');
  return [
    chatEvent(input.delivery, chatScopedFacts(input), 'participant_added', {
      user_id: userId,
      user_kind: user?.kind ?? authorKindFromUserType(userType, userId) ?? authorKindFromUserId(userId),
      user,
      reason: stringAt(input.fields, 'reason'),
      requester_id: stringAt(input.fields, 'requester_id'),
    }),
  ];
}

function userRemovedFromChat(input: V3Delivery): ChatDomainEvent[] {
  const userId = stringAt(input.fields, 'user_id');
  return [
    chatEvent(input.delivery, chatScopedFacts(input), 'participant_removed', {
      user_id: userId,
      user_kind:
        authorKindFromUserType(stringAt(input.fields, 'user_type'), userId) ?? authorKindFromUserId(userId),
      reason: stringAt(input.fields, 'reason'),
      requester_id: stringAt(input.fields, 'requester_id'),
    }),
  ];
}

function propertiesChanged(
  input: V3Delivery,
  scope: 'chat' | 'thread' | 'event',
  change: 'updated' | 'deleted',
): ChatDomainEvent[] {
  return [
    chatEvent(input.delivery, chatScopedFacts(input), 'properties_changed', {
      scope,
      change,
      livechat_event_id: scope === 'event' ? stringAt(input.fields, 'event_id') : null,
      properties_json: JSON.stringify(input.fields?.['properties'] ?? {}),
    }),
  ];
}

function richMessagePostback(input: V3Delivery): ChatDomainEvent[] {
  return [
    chatEvent(input.delivery, chatScopedFacts(input), 'rich_message_postback', {
      user_id: stringAt(input.fields, 'user_id'),
      livechat_event_id: stringAt(input.fields, 'event_id'),
      postback_json: jsonOrNull(input.fields?.['postback']),
    }),
  ];
}

/** Sent once per active chat of the customer; the payload's `id` is the customer's, the chat is `active_chat`. */
function customerSessionFieldsUpdated(input: V3Delivery): ChatDomainEvent[] {
  const activeChat = objectAt(input.fields, 'active_chat');
  const facts: CustomerIdentifiedBody = {
    customer_id: stringAt(input.fields, 'id'),
    name: null,
    email: null,
    session_fields_json: sessionFieldsJson(input.fields?.['session_fields']),
    visit_json: null,
  };
  return [
    customerIdentified(
      input.delivery,
      stringAt(activeChat, 'chat_id'),
      stringAt(activeChat, 'thread_id'),
      null,
      facts,
    ),
  ];
}

/** v3.3–3.5 `incoming_customer` (v3.2 `customer_created`); removed in v3.6. */
function incomingCustomer(input: V3Delivery): ChatDomainEvent[] {
  const customer = objectAt(input.fields, 'customer') ?? input.fields ?? {};
  const facts = customerFacts(customer) ?? {
    customer_id: stringAt(customer, 'id'),
    name: null,
    email: null,
    session_fields_json: null,
    visit_json: null,
  };
  return [customerIdentified(input.delivery, null, null, rfc3339At(customer, 'created_at'), facts)];
}

/** The customer facts of a v3 Customer object; null when it says nothing but its id. */
export function customerFacts(customer: JsonObject): CustomerIdentifiedBody | null {
  const facts: CustomerIdentifiedBody = {
    customer_id: stringAt(customer, 'id'),
    name: stringAt(customer, 'name'),
    email: stringAt(customer, 'email'),
    session_fields_json: sessionFieldsJson(customer['session_fields']),
    // v3.6 renamed `last_visit` to `visit`.
    visit_json: jsonOrNull(customer['visit'] ?? customer['last_visit']),
  };
  const saysSomething =
    facts.name !== null ||
    facts.email !== null ||
    facts.session_fields_json !== null ||
    facts.visit_json !== null;
  return saysSomething ? facts : null;
}

function threadSummarySet(input: V3Delivery): ChatDomainEvent[] {
  const summary = objectAt(input.fields, 'summary');
  const updatedAt = rfc3339At(summary, 'updated_at');
  return [
    chatEvent(input.delivery, { ...chatScopedFacts(input), occurred_at: updatedAt }, 'thread_summary_set', {
      status: stringAt(summary, 'status'),
      text: stringAt(summary, 'text'),
      updated_at: updatedAt,
    }),
  ];
}

function routingStatusSet(input: V3Delivery): ChatDomainEvent[] {
  // The docs write the statuses with spaces ("accepting chats"), the SDKs with underscores.
  const status = stringAt(input.fields, 'status')?.trim().replace(/\s+/g, '_') ?? null;
  // The body has neither an id nor a time, so an agent's repeated status (accepting, not accepting, accepting)
  // has the same payload each time: its receipt time is part of the id. A replay of the raw record keeps its
  // received_at (same id, deduplicated); a retried HTTP delivery repeats the current status, harmless to intervals.
  return [
    chatEvent(
      input.delivery,
      {
        ...chatScopedFacts(input),
        event_id: actionEventId(input, input.delivery.received_at),
        chat_id: null,
        thread_id: null,
      },
      'routing_status_set',
      {
        agent_id: stringAt(input.fields, 'agent_id'),
        status,
      },
    ),
  ];
}

/** `seen_up_to` bounds what was seen; when it was marked is not sent, so `occurred_at` is null. */
function eventsMarkedAsSeen(input: V3Delivery): ChatDomainEvent[] {
  return [
    chatEvent(input.delivery, chatScopedFacts(input), 'events_marked_as_seen', {
      user_id: stringAt(input.fields, 'user_id'),
      seen_up_to: rfc3339At(input.fields, 'seen_up_to'),
    }),
  ];
}

const CONFIGURATION_ACTION = /^(agent|bot|group|tag|auto_access)_([a-z_]+)$/;

/** The entity and change of a configuration action (`agent_updated` → agent/updated); null for other actions. */
function configurationEntity(action: string): { entity: string; change: string } | null {
  if (action === 'auto_accesses_updated') return { entity: 'auto_access', change: 'updated' };
  const match = CONFIGURATION_ACTION.exec(action);
  if (!match) return null;
  const [, entity = '', change = ''] = match;
  return { entity, change };
}

/**
 * Configuration webhooks (agents, bots, groups, tags, auto accesses) as one generic event each. The array payload
 * of `auto_accesses_updated` yields one event per entry, with the entry's `status` as the change.
 */
function configurationChanged(input: V3Delivery): ChatDomainEvent[] {
  const { entity, change } = configurationEntity(input.action) ?? { entity: 'unknown', change: input.action };
  const requester = objectAt(input.body, 'requester');
  const entries: readonly unknown[] = Array.isArray(input.payload) ? input.payload : [input.payload ?? {}];
  checkLimit(input.delivery.limits, 'maxEvents', entries.length, 'more events than allowed');
  return entries.map((entry, index) => {
    const fields = isJsonObject(entry) ? entry : undefined;
    return chatEvent(
      input.delivery,
      {
        event_id: actionEventId(input, index),
        chat_id: null,
        thread_id: null,
        occurred_at: rfc3339At(fields, 'created_at'),
      },
      'configuration_changed',
      {
        entity,
        change: Array.isArray(input.payload) ? (stringAt(fields, 'status') ?? change) : change,
        // Tags are identified by name; v3.2–3.3 agent_deleted said `agent_id`.
        entity_id: idAt(fields, 'id') ?? stringAt(fields, 'agent_id') ?? stringAt(fields, 'name'),
        requester_user_id: stringAt(requester, 'user_id'),
        requester_client_id: stringAt(requester, 'client_id'),
        payload_json: JSON.stringify(entry ?? null),
      },
    );
  });
}

function unrecognised(input: V3Delivery): ChatDomainEvent[] {
  return [
    chatEvent(input.delivery, chatScopedFacts(input), 'unrecognised_webhook', {
      discriminator: input.sentAction,
      payload_json: jsonOrNull(input.payload),
    }),
  ];
}
