export { EVENTS_ERROR_CODES, EventsError, isEventsError } from './errors.js';
export type { EventsErrorCode, EventsErrorOptions } from './errors.js';
export {
  CHAT_EVENTS_MAX_MESSAGE_BYTES,
  DEAD_LETTER_MAX_MESSAGE_BYTES,
  TOPICS,
  chatEventsTopic,
  defaultMinInsyncReplicas,
  keptForeverTopicSpec,
  rawWebhookTopic,
  topicSpecs,
  valueSubject,
} from './topics.js';
export { loadAvroSchema, schemasDir } from './schemas.js';
export type { LoadedSchema } from './schemas.js';
export { SchemaRegistryClient } from './registry-client.js';
export type { CompatibilityLevel, SchemaRegistryClientOptions } from './registry-client.js';
export { ConfluentAvroSerde } from './serde.js';
export type { Decoded, RegisterOptions, RegisteredSchema, SchemaReader } from './serde.js';
export { readChatEvent, readRawWebhook } from './readers.js';
export { HEADER_LENGTH, MAGIC_BYTE, frame, unframe } from './wire-format.js';
export type { Unframed } from './wire-format.js';
export {
  DEAD_LETTER_HEADERS,
  DEAD_LETTER_HEADER_PREFIX,
  DEAD_LETTER_MESSAGE_MAX_BYTES,
  REPLAY_HEADER,
  deadLetterMessage,
  parseDeadLetter,
  replayMessage,
  truncateDeadLetterMessage,
  withValueOmitted,
  withoutDeadLetterHeaders,
} from './dead-letter.js';
export type { DeadLetterInput, DeadLetterOrigin, DeadLetterRecord } from './dead-letter.js';
export { ensureTopic, unreplicatedRefusal, waitForTopic, withReplicatedRequirements } from './topic-admin.js';
export { keepConsumerRunning } from './consumer-run.js';
export type { KeepRunningOptions, KeptConsumer } from './consumer-run.js';
export type { EnsureTopicOptions, TopicRequirement, TopicSpec } from './topic-admin.js';
export {
  RAW_WEBHOOK_FIELDS,
  RAW_WEBHOOK_SCHEMA_PATH,
  rawRecordKind,
  rawWebhookSchema,
} from './raw-webhook.js';
export type { ArchiveSource, RawWebhook, SealedBody, TenantSource, WebhookFormat } from './raw-webhook.js';
export {
  ERASED_KEY_VERSION,
  KEY_SCOPE_MAX,
  PERSONAL_PATHS,
  boundedKeyScope,
  chatEventField,
  chatEventKeyScope,
  keyStateFor,
  openChatEvent,
  reduceProperties,
  reduceTextVars,
  sealChatEvent,
} from './sealed-chat-event.js';
export type { KeyStates, OpenOutcome, SealableChatEvent, WithSealed } from './sealed-chat-event.js';
export { openRawBody, rawKeyScope, scopeToOpen, sealRawBody } from './sealed-raw-webhook.js';
export type { RawWebhookRecord } from './sealed-raw-webhook.js';
export type { SealedFields } from './generated/chat-event.js';
export {
  ARCHIVE_ACTION,
  ARCHIVE_API_VERSION,
  ARCHIVE_BODY_MAX_BYTES,
  ARCHIVE_EVENTS_PER_PART_MAX,
  archiveContent,
  buildArchiveRawWebhooks,
  kafkaKeyOfArchive,
} from './archive.js';
export type { ArchiveMethod, ArchiveReadSource, BuildArchiveInput, BuildArchiveOptions } from './archive.js';
export { CHAT_EVENT_SCHEMA_PATH, chatEventSchema } from './chat-event.js';
// Types generated from schemas/ (src/generated, `pnpm --filter @livechat-pipeline/events generate`), one namespace per
// schema: e.g. `ChatEventAvro.ChatEvent`, `RawWebhookAvro.RawWebhook` (the shapes avsc reads and writes).
export type * as ChatEventAvro from './generated/chat-event.js';
export type * as RawWebhookAvro from './generated/raw-webhook.js';
export {
  MAX_TRACE_LINKS,
  SPAN_STATUS_MESSAGE_MAX_CHARS,
  TRACE_HEADERS,
  describeSpanError,
  headerBytes,
  markSpanFailed,
  spanContextOf,
  traceContextOf,
  traceHeaders,
  traceLinksOf,
  withSpan,
} from './trace-headers.js';
