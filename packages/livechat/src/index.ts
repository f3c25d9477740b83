/**
 * @livechat-pipeline/livechat — LiveChat v2 and v3.x webhooks → typed domain events. Pure: no I/O, no runtime
 * dependencies. The events map 1:1 onto `schemas/chat-events/chat-event.avsc` (see README).
 */
export { parseWebhook } from './parse.js';
export { parseArchiveThread } from './archive.js';
export { detectFormat, readEnvelope, webhookDiscriminator, webhookTenant } from './envelope.js';
export type { WebhookEnvelope } from './envelope.js';
export { canonicalJson, idAt, isJsonObject, stringAt } from './json.js';
export type { JsonObject } from './json.js';
export { v2ThreadId } from './v2.js';
export { CHAT_EVENT_TYPES, bodyOf, isChatEventType } from './catalogue.js';
export { LiveChatParseError, LIVECHAT_PARSE_ERROR_CODES } from './errors.js';
export type { LiveChatParseErrorCode } from './errors.js';
export { DEFAULT_PARSE_LIMITS } from './limits.js';
export type { ParseLimits } from './limits.js';
export type {
  AuthorKind,
  CannedResponseChangedBody,
  ChatAccessChangedBody,
  ChatDomainEvent,
  ChatEventBodies,
  ChatEventEnvelope,
  ChatEventOf,
  ChatEventType,
  ChatMessage,
  ChatTransferredBody,
  ChatUser,
  ConfigurationChangedBody,
  CustomerIdentifiedBody,
  EventDeletedBody,
  EventEditedBody,
  EventsMarkedAsSeenBody,
  FileAttachment,
  FilledForm,
  FormField,
  MessagePostedBody,
  ParseContext,
  ParticipantAddedBody,
  ParticipantRemovedBody,
  PropertiesChangedBody,
  QueueInfo,
  RichMessagePostbackBody,
  RoutingStatusSetBody,
  SourceFormat,
  TagsSnapshotBody,
  ThreadClosedBody,
  ThreadStartedBody,
  ThreadSummarySetBody,
  ThreadTagBody,
  TicketCreatedBody,
  UnrecognisedWebhookBody,
  Visibility,
  VisitorQueuedBody,
} from './types.js';
