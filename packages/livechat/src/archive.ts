import { customerIdentified } from './customers.js';
import { chatEvent } from './event-factory.js';
import type { DeliveryFacts } from './event-factory.js';
import { LiveChatParseError } from './errors.js';
import {
  arrayAt,
  canonicalJson,
  booleanAt,
  integerAt,
  integersAt,
  isJsonObject,
  jsonOrNull,
  objectAt,
  objectsAt,
  stringAt,
  stringsAt,
} from './json.js';
import type { JsonObject } from './json.js';
import { EventBudget, checkDepth, checkLimit, resolveParseLimits } from './limits.js';
import { rfc3339At } from './time.js';
import type { ChatDomainEvent, ChatUser, ParseContext, QueueInfo, ThreadClosedBody } from './types.js';
import {
  customerFacts,
  earliestCreatedAt,
  incomingEventIdWithoutId,
  livechatEventId,
  queueInfo,
  threadClosedEventId,
  threadStartedEventId,
} from './v3.js';
import { chatMessageFromV3Event, chatUserFromV3, knownUsersFrom } from './v3-structures.js';
import { deterministicEventId } from './ids.js';

/**
 * One thread read from LiveChat's Agent Chat API v3.6 (a `list_archives` row or a `get_chat` result: a chat with a
 * single `thread`, or a part of one, see @livechat-pipeline/events `buildArchiveRawWebhooks`) → the chat events its
 * v3 webhooks give, with the same event ids, so consumers dedup the two paths:
 *
 * | archive                                   | event (id rule shared with the webhook)                                     |
 * | ----------------------------------------- | --------------------------------------------------------------------------- |
 * | the chat and its thread                   | `thread_started` (`incoming_chat`'s id)                                      |
 * | each customer in `users`                  | `customer_identified` (same facts → same id as `incoming_chat`'s)            |
 * | each thread event (any type)              | `message_posted` (`incoming_event`'s id: the LiveChat event id)              |
 * | an event with `deleted: true`             | `event_deleted` (`event_deleted`'s id)                                       |
 * | `active: false`                           | `thread_closed` (`chat_deactivated`'s id), who closed from the archiving message |
 *
 * The thread's state goes into `thread_started` as of the read: tags, properties (e.g. `rating`), access, users,
 * `active`, queue (`queue` while queued, else `queues_duration` > 0 dates the queue at `created_at`). The tag
 * history, property changes and transfers have no record in an archive: they come only from webhooks.
 *
 * Same bounds as a webhook (`context.limits`: events, users, depth), same typed errors, pure.
 *
 * @throws LiveChatParseError `LIVECHAT_NOT_AN_OBJECT`, `LIVECHAT_ARCHIVE_NOT_A_THREAD`, `LIVECHAT_TENANT_UNKNOWN`
 *   (an archive names no tenant: the context's hint is required), `LIVECHAT_TOO_MANY_EVENTS`,
 *   `LIVECHAT_TOO_MANY_USERS`, `LIVECHAT_TOO_DEEP`.
 */
export function parseArchiveThread(body: unknown, context: ParseContext): ChatDomainEvent[] {
  if (!isJsonObject(body)) {
    throw new LiveChatParseError(
      'LIVECHAT_NOT_AN_OBJECT',
      `the archive body is ${describe(body)}, not a JSON object`,
    );
  }
  const tenant =
    typeof context.tenantHint === 'string' && context.tenantHint !== '' ? context.tenantHint : null;
  if (tenant === null) {
    throw new LiveChatParseError(
      'LIVECHAT_TENANT_UNKNOWN',
      'an archive thread names no tenant and the context gives none',
    );
  }
  const limits = resolveParseLimits(context.limits);
  checkDepth(body, limits);
  const chatId = stringAt(body, 'id');
  const thread = objectAt(body, 'thread');
  const threadId = stringAt(thread, 'id');
  if (chatId === null || thread === undefined || threadId === null) {
    throw new LiveChatParseError(
      'LIVECHAT_ARCHIVE_NOT_A_THREAD',
      'the archive body is not a chat with an id and a thread with an id (one list_archives row or get_chat result)',
      { details: { has_chat_id: chatId !== null, has_thread: thread !== undefined } },
    );
  }
  checkLimit(limits, 'maxUsers', arrayAt(body, 'users').length, 'too many users in chat.users');
  const userObjects = objectsAt(body, 'users');
  const customers = userObjects.filter((user) => stringAt(user, 'type') === 'customer');
  const threadEvents = objectsAt(thread, 'events');
  // A thread split into parts (buildArchiveRawWebhooks) is closed by its last part only: every part is the chat with
  // `active: false`, but only the last carries the archiving message (the parts are cut from the end), and the parts
  // share the close's id, so an earlier part arriving first would close it with an unknown closer and no time.
  const lastPart = context.archive === undefined || context.archive.part >= context.archive.parts;
  const closed = booleanAt(thread, 'active') === false && lastPart;
  checkLimit(
    limits,
    'maxEvents',
    2 + userObjects.length + customers.length + threadEvents.length + (closed ? 1 : 0),
    'more events than allowed',
  );
  const delivery: DeliveryFacts = {
    raw_event_id: context.rawEventId,
    tenant,
    received_at: context.receivedAtMicros,
    source_format: 'v3',
    api_version:
      typeof context.apiVersion === 'string' && context.apiVersion !== '' ? context.apiVersion : null,
    limits,
    budget: new EventBudget(limits),
  };

  const users = userObjects.map((user) => chatUserFromV3(user));
  const knownUsers = knownUsersFrom(users);
  const startedAt = rfc3339At(thread, 'created_at') ?? earliestCreatedAt(threadEvents);
  const events: ChatDomainEvent[] = [
    chatEvent(
      delivery,
      {
        event_id: threadStartedEventId(tenant, chatId, threadId),
        chat_id: chatId,
        thread_id: threadId,
        occurred_at: startedAt,
      },
      'thread_started',
      {
        users,
        group_ids: integersAt(objectAt(thread, 'access') ?? objectAt(body, 'access'), 'group_ids'),
        tags: stringsAt(thread, 'tags'),
        previous_thread_id: stringAt(thread, 'previous_thread_id'),
        active: booleanAt(thread, 'active'),
        chat_properties_json: jsonOrNull(body['properties']),
        thread_properties_json: jsonOrNull(thread['properties']),
        queue: queueOf(thread, startedAt),
      },
    ),
  ];
  // The tags as of the read. An archive has no tag changes; consumers let this list supersede the tag changes they
  // received before the read (received_at) and apply later ones on top (packages/livechat README "Archives").
  // A restricted thread (beyond the plan's history) tells nothing about them.
  if (thread['restricted_access'] === undefined) {
    const tags = [...new Set(stringsAt(thread, 'tags'))].sort();
    const readAt = context.archive?.readAtMicros ?? context.receivedAtMicros;
    events.push(
      chatEvent(
        delivery,
        {
          // The read time is part of the id: two reads that see the same tags are two facts (a tag change received
          // between them is superseded by the later one only if the later one is applied).
          event_id: deterministicEventId([
            'v3-archive-tags',
            tenant,
            chatId,
            threadId,
            String(readAt),
            canonicalJson(tags),
          ]),
          chat_id: chatId,
          thread_id: threadId,
          occurred_at: null,
        },
        'tags_snapshot',
        { tags },
      ),
    );
  }
  // Every user of the chat as a participant of its own: thread_started carries them too, but a thread_started from
  // the thread's incoming_chat (listing only the first users) wins the dedup, and the webhooks that added the others
  // (user_added_to_chat) may be the ones lost. Same user, same facts, same id, whenever read.
  for (const user of users) {
    if (user.id === null) continue;
    const facts = { id: user.id, kind: user.kind, name: user.name, email: user.email };
    events.push(
      chatEvent(
        delivery,
        {
          event_id: deterministicEventId([
            'v3-archive-participant',
            tenant,
            chatId,
            threadId,
            canonicalJson(facts),
          ]),
          chat_id: chatId,
          thread_id: threadId,
          occurred_at: null,
        },
        'participant_added',
        { user_id: user.id, user_kind: user.kind, user, reason: null, requester_id: null },
      ),
    );
  }
  for (const customer of customers) {
    const facts = customerFacts(customer);
    if (facts !== null) events.push(customerIdentified(delivery, chatId, threadId, startedAt, facts));
  }
  for (const event of threadEvents) {
    const livechatId = stringAt(event, 'id');
    if (event['deleted'] === true && livechatId !== null) {
      events.push(
        chatEvent(
          delivery,
          {
            event_id: deterministicEventId(['v3-event-deleted', tenant, chatId, threadId, livechatId]),
            chat_id: chatId,
            thread_id: threadId,
            occurred_at: null,
          },
          'event_deleted',
          { livechat_event_id: livechatId },
        ),
      );
      continue;
    }
    const message = chatMessageFromV3Event(event, knownUsers);
    events.push(
      chatEvent(
        delivery,
        {
          event_id:
            livechatId === null
              ? incomingEventIdWithoutId(tenant, chatId, threadId, event)
              : livechatEventId(tenant, chatId, threadId, livechatId),
          chat_id: chatId,
          thread_id: threadId,
          occurred_at: message.created_at,
        },
        'message_posted',
        { message },
      ),
    );
  }
  if (closed) {
    const { closer, archivedAt } = closerOf(threadEvents, users);
    events.push(
      chatEvent(
        delivery,
        {
          event_id: threadClosedEventId(tenant, chatId, threadId),
          chat_id: chatId,
          thread_id: threadId,
          // chat_deactivated has no time and is dated by its receipt, seconds after the close; an archive is read
          // any time later, so its close is dated by the archiving message instead (null without one).
          occurred_at: archivedAt,
        },
        'thread_closed',
        closer,
      ),
    );
  }
  return events;
}

/** `queue` while queued; after, a positive `queues_duration` says the thread was queued from its start. */
function queueOf(thread: JsonObject, startedAt: number | null): QueueInfo | null {
  const queue = queueInfo(objectAt(thread, 'queue'));
  if (queue !== null) return queue;
  const duration = integerAt(thread, 'queues_duration');
  return duration !== null && duration > 0
    ? { position: null, wait_time: duration, queued_at: startedAt }
    : null;
}

const ROUTER_ARCHIVED = /^(system_archived|routing\.archived_[a-z_]+)$/;

/**
 * Who closed the thread, from its last archiving system message (an archive has no `chat_deactivated`):
 * `manual_archived_agent` names the agent in `text_vars.agent` (matched by name to one agent of `users`, the id
 * `chat_deactivated` would carry), `manual_archived_customer` is the chat's customer, `system_archived` /
 * `routing.archived_*` the router (`chat_deactivated` without `user_id`). Without one: unknown. The message's time
 * dates the close.
 */
function closerOf(
  events: readonly JsonObject[],
  users: readonly ChatUser[],
): { closer: ThreadClosedBody; archivedAt: number | null } {
  for (let i = events.length - 1; i >= 0; i--) {
    const event = events[i]!;
    if (stringAt(event, 'type') !== 'system_message') continue;
    const type = stringAt(event, 'system_message_type');
    const archivedAt = rfc3339At(event, 'created_at');
    if (type === 'manual_archived_agent') {
      const name = stringAt(objectAt(event, 'text_vars'), 'agent');
      const agents = users.filter(
        (u) => (u.kind === 'agent' || u.kind === 'bot') && u.name !== null && u.name === name,
      );
      const agent = agents.length === 1 ? agents[0]! : undefined;
      return {
        closer: { closed_by_user_id: agent?.id ?? null, closed_by_kind: agent?.kind ?? 'agent' },
        archivedAt,
      };
    }
    if (type === 'manual_archived_customer') {
      const customers = users.filter((u) => u.kind === 'customer');
      return {
        closer: {
          closed_by_user_id: customers.length === 1 ? customers[0]!.id : null,
          closed_by_kind: 'customer',
        },
        archivedAt,
      };
    }
    if (type !== null && ROUTER_ARCHIVED.test(type))
      return { closer: { closed_by_user_id: null, closed_by_kind: 'router' }, archivedAt };
  }
  return { closer: { closed_by_user_id: null, closed_by_kind: 'unknown' }, archivedAt: null };
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}
