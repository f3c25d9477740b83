/**
 * Domain events parsed from LiveChat webhooks (v2 `event_type` and v3.x `action`).
 *
 * Every shape here maps 1:1 onto the Avro schema `schemas/chat-events/chat-event.avsc` as avsc encodes it with
 * default options (`avro.Type.forSchema(schema)`, i.e. `wrapUnions: 'auto'`):
 * - field names are the Avro field names (snake_case);
 * - `T | null` is an Avro `["null", T]` union (unwrapped by avsc: the value itself, or null);
 * - `body` is the Avro union of one record per event type. avsc wraps that union (its branches are all records,
 *   so it is ambiguous), and a wrapped union value is `{ <branch name>: <record> }`. The branch records are named
 *   exactly like `type` and live in the null namespace, so the wrapped key is the type itself:
 *   `{ type: 'message_posted', body: { message_posted: {...} } }`.
 * - times are epoch microseconds (`long`, logicalType `timestamp-micros`; no avsc logical-type hook is used, so they
 *   stay plain JS numbers, exact up to 2^53 µs ≈ year 2255).
 * - free-form payloads are JSON text (`*_json`).
 */

import type { ParseLimits } from './limits.js';

/** Which webhook generation the event was parsed from. */
export type SourceFormat = 'v2' | 'v3';

/** Who wrote an event. v2 `visitor` and v3 customers are `customer`; v2 `agent`/`supervisor` are `agent`. */
export type AuthorKind = 'customer' | 'agent' | 'bot' | 'system' | 'unknown';

/** `agents` = visible to agents only (v2 supervisor whispers, v3 `visibility`/old `recipients` = `agents`). */
export type Visibility = 'all' | 'agents';

/** What the caller (the normalizer) knows about the raw delivery the body came from. */
export interface ParseContext {
  /** The raw topic's event id; copied onto every domain event as `raw_event_id`. */
  readonly rawEventId: string;
  /** When ingest received the delivery, epoch microseconds. */
  readonly receivedAtMicros: number;
  /** Used as tenant only when the body names none (v3 `organization_id`/`license_id`, v2 `license_id`). */
  readonly tenantHint?: string | null;
  /** The API version, when the caller knows it (e.g. the raw envelope's hint). v2 bodies always yield `'2'`. */
  readonly apiVersion?: string | null;
  /** Bounds on events, threads, users and nesting; each one left out is `DEFAULT_PARSE_LIMITS`'. */
  readonly limits?: Partial<ParseLimits>;
  /**
   * An archive record's read (its raw record's `archive`): when it was read, and which part of the thread it is. Only
   * the last part closes the thread (it carries the archiving message, see `parseArchiveThread`); the read time goes
   * into the `tags_snapshot` id. Absent: read at `receivedAtMicros`, the whole thread.
   */
  readonly archive?: { readonly readAtMicros: number; readonly part: number; readonly parts: number };
}

/** The fields every domain event carries, whatever its type. */
export interface ChatEventEnvelope {
  /** Deterministic: the same fact parsed twice (or from a redelivery) has the same id. See README "Event ids". */
  readonly event_id: string;
  readonly raw_event_id: string;
  readonly tenant: string;
  /** Null for events that are not about one chat (configuration, routing status, canned responses, tickets…). */
  readonly chat_id: string | null;
  /** Null where unknown. v2 has no threads: the thread id of a v2 chat is its chat id. */
  readonly thread_id: string | null;
  /** LiveChat's own time of the fact, epoch µs; null when the webhook carries no time (consumers use received_at). */
  readonly occurred_at: number | null;
  readonly received_at: number;
  readonly source_format: SourceFormat;
  readonly api_version: string | null;
}

/** A participant of a chat as LiveChat lists it. */
export interface ChatUser {
  readonly id: string | null;
  readonly kind: AuthorKind;
  readonly name: string | null;
  readonly email: string | null;
  readonly present: boolean | null;
}

export interface FileAttachment {
  readonly name: string | null;
  readonly url: string | null;
  readonly content_type: string | null;
  readonly size: number | null;
  readonly width: number | null;
  readonly height: number | null;
  readonly thumbnail_url: string | null;
}

/** One answered form field. Old payloads say `value`, newer `answer`; both land in `answer`. */
export interface FormField {
  readonly id: string | null;
  readonly type: string | null;
  readonly label: string | null;
  /** A single answer as text; a non-text answer (e.g. group_chooser's object) as JSON text. */
  readonly answer: string | null;
  /** Chosen options of multi-answer fields (checkbox/radio/select), by label. */
  readonly answers: readonly string[];
}

export interface FilledForm {
  readonly form_id: string | null;
  /** `prechat`, `postchat`, `ask_for_email`, … */
  readonly form_type: string | null;
  readonly fields: readonly FormField[];
}

/** The content of one transcript event (a v3 Event object, or a v2 message/system event/pre-chat survey). */
export interface ChatMessage {
  /** LiveChat's event id (v3); null for v2, which has none. */
  readonly livechat_event_id: string | null;
  readonly custom_id: string | null;
  /** The LiveChat event type: message, file, filled_form, form, rich_message, system_message, custom, system, … */
  readonly kind: string;
  readonly author_id: string | null;
  readonly author_kind: AuthorKind;
  readonly author_name: string | null;
  readonly visibility: Visibility;
  readonly created_at: number | null;
  readonly text: string | null;
  readonly file: FileAttachment | null;
  readonly form: FilledForm | null;
  /** e.g. `rating.chat_rated`; v2 chat events keep their `type` here prefixed with `v2.` (e.g. `v2.closed`). */
  readonly system_message_type: string | null;
  readonly text_vars_json: string | null;
  /** rich_message template (`cards`, `quick_replies`, …). */
  readonly template_id: string | null;
  /** rich_message `elements`, custom `content`, system `{source, subtype, version, details}`, message `postback`. */
  readonly content_json: string | null;
  readonly properties_json: string | null;
  /**
   * The message's index in a v2 transcript (`chat.messages`): v2 times are whole seconds, so this
   * orders messages written within one second. The same in `chat_started` and `chat_ended`. Null for v3.
   */
  readonly transcript_position: number | null;
}

export interface QueueInfo {
  readonly position: number | null;
  readonly wait_time: number | null;
  readonly queued_at: number | null;
}

export interface ThreadStartedBody {
  readonly users: readonly ChatUser[];
  readonly group_ids: readonly number[];
  readonly tags: readonly string[];
  readonly previous_thread_id: string | null;
  readonly active: boolean | null;
  readonly chat_properties_json: string | null;
  readonly thread_properties_json: string | null;
  /** The thread's queue while it waits for an agent (v3 `thread.queue`, present only while queued); null for v2. */
  readonly queue: QueueInfo | null;
}

export interface MessagePostedBody {
  readonly message: ChatMessage;
}

export interface EventEditedBody {
  /** The event as it is after the edit (LiveChat sends the whole event). */
  readonly message: ChatMessage;
}

export interface EventDeletedBody {
  readonly livechat_event_id: string | null;
}

export interface ThreadClosedBody {
  /** Null when the router closed the thread (v3 `chat_deactivated` without `user_id`) or v2 did not say. */
  readonly closed_by_user_id: string | null;
  /** `router` when v3 sends no `user_id`; `unknown` when v2 lists no `closed` chat event. */
  readonly closed_by_kind: AuthorKind | 'router';
}

export interface ThreadTagBody {
  readonly tag: string;
}

/** v2 `chat_changed` (and `chat_ended`) send the whole tag list, not a change: a snapshot of the thread's tags. */
export interface TagsSnapshotBody {
  readonly tags: readonly string[];
}

export interface ChatTransferredBody {
  readonly requester_id: string | null;
  readonly reason: string | null;
  readonly transferred_to_group_ids: readonly number[];
  readonly transferred_to_agent_ids: readonly string[];
  readonly queue: QueueInfo | null;
}

export interface ChatAccessChangedBody {
  /** `updated` (v3.4+), `granted`/`revoked` (v3.2–3.3 and v3.1), `set` (v3.1). */
  readonly change: string;
  readonly group_ids: readonly number[];
}

export interface ParticipantAddedBody {
  readonly user_id: string | null;
  readonly user_kind: AuthorKind;
  readonly user: ChatUser | null;
  readonly reason: string | null;
  readonly requester_id: string | null;
}

export interface ParticipantRemovedBody {
  readonly user_id: string | null;
  readonly user_kind: AuthorKind;
  readonly reason: string | null;
  readonly requester_id: string | null;
}

export interface CustomerIdentifiedBody {
  readonly customer_id: string | null;
  readonly name: string | null;
  readonly email: string | null;
  /** Session fields as one JSON object `{key: value}` (v3 `session_fields`, v2 `custom_variables`). */
  readonly session_fields_json: string | null;
  /** The visit (v3.6 `visit`, older `last_visit`, v2 visitor location fields) as JSON. */
  readonly visit_json: string | null;
}

export interface VisitorQueuedBody {
  readonly visitor_id: string | null;
  readonly name: string | null;
  readonly email: string | null;
}

export interface TicketCreatedBody {
  readonly ticket_id: string | null;
  readonly status: string | null;
  readonly subject: string | null;
  readonly requester_name: string | null;
  readonly requester_email: string | null;
  readonly assignee_id: string | null;
  readonly tags: readonly string[];
  readonly group_ids: readonly number[];
  /** The chat the ticket came from (`source.id`), when the ticket says so. */
  readonly source_chat_id: string | null;
  readonly ticket_json: string;
}

export interface CannedResponseChangedBody {
  readonly canned_response_id: number | null;
  readonly group_id: number | null;
  readonly text: string | null;
  readonly tags: readonly string[];
}

export interface PropertiesChangedBody {
  readonly scope: 'chat' | 'thread' | 'event';
  readonly change: 'updated' | 'deleted';
  readonly livechat_event_id: string | null;
  /** Updated: `{namespace: {name: value}}` (only the changed ones); deleted: `{namespace: [names]}`. */
  readonly properties_json: string;
}

export interface ThreadSummarySetBody {
  readonly status: string | null;
  readonly text: string | null;
  readonly updated_at: number | null;
}

export interface RichMessagePostbackBody {
  readonly user_id: string | null;
  readonly livechat_event_id: string | null;
  readonly postback_json: string | null;
}

export interface ConfigurationChangedBody {
  /** `agent`, `bot`, `group`, `tag`, `auto_access`. */
  readonly entity: string;
  /** `created`, `updated`, `deleted`, `approved`, `suspended`, `unsuspended`, `added`, … */
  readonly change: string;
  readonly entity_id: string | null;
  readonly requester_user_id: string | null;
  readonly requester_client_id: string | null;
  readonly payload_json: string;
}

export interface RoutingStatusSetBody {
  readonly agent_id: string | null;
  /** `accepting_chats`, `not_accepting_chats`, `offline` (spaces in doc samples normalised to `_`). */
  readonly status: string | null;
}

export interface EventsMarkedAsSeenBody {
  readonly user_id: string | null;
  readonly seen_up_to: number | null;
}

export interface UnrecognisedWebhookBody {
  /** The v3 `action` or v2 `event_type` as sent. */
  readonly discriminator: string;
  /** v3 `payload`, or the v2 body without its credentials (`token`), as JSON. */
  readonly payload_json: string | null;
}

/** The body of each event type, keyed by the `type` value (which is also the Avro union branch name). */
export interface ChatEventBodies {
  thread_started: ThreadStartedBody;
  message_posted: MessagePostedBody;
  event_edited: EventEditedBody;
  event_deleted: EventDeletedBody;
  thread_closed: ThreadClosedBody;
  thread_tagged: ThreadTagBody;
  thread_untagged: ThreadTagBody;
  tags_snapshot: TagsSnapshotBody;
  chat_transferred: ChatTransferredBody;
  chat_access_changed: ChatAccessChangedBody;
  participant_added: ParticipantAddedBody;
  participant_removed: ParticipantRemovedBody;
  customer_identified: CustomerIdentifiedBody;
  visitor_queued: VisitorQueuedBody;
  ticket_created: TicketCreatedBody;
  canned_response_changed: CannedResponseChangedBody;
  properties_changed: PropertiesChangedBody;
  thread_summary_set: ThreadSummarySetBody;
  rich_message_postback: RichMessagePostbackBody;
  configuration_changed: ConfigurationChangedBody;
  routing_status_set: RoutingStatusSetBody;
  events_marked_as_seen: EventsMarkedAsSeenBody;
  unrecognised_webhook: UnrecognisedWebhookBody;
}

export type ChatEventType = keyof ChatEventBodies;

/** One event of type `T`: the envelope, `type`, and `body` wrapped as avsc writes the Avro union. */
export type ChatEventOf<T extends ChatEventType> = ChatEventEnvelope & {
  readonly type: T;
  readonly body: { readonly [K in T]: ChatEventBodies[K] };
};

/** The domain event union, discriminated on `type`. */
export type ChatDomainEvent = { [T in ChatEventType]: ChatEventOf<T> }[ChatEventType];
