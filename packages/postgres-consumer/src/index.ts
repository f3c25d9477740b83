export { PostgresConsumer, createPostgresConsumer, createConsumerPool } from './runtime.js';
export type {
  ConsumerDefinition,
  ConsumerTransaction,
  EventHandler,
  RecordOrigin,
  RuntimeEvent,
  ReadyReport,
  BatchSummary,
  Queryable,
} from './types.js';
export { resolveOptions, defaultSchemaName } from './options.js';
export type { PostgresConsumerOptions, ResolvedOptions, RuntimeHooks } from './options.js';
export {
  CONSUMER_ERROR_CODES,
  ConsumerError,
  EventRejectedError,
  isConsumerError,
  classifyError,
  transientFaultCode,
} from './errors.js';
export type { ConsumerErrorCode, ConsumerErrorOptions, ConsumerErrorDetails } from './errors.js';
export { DEFAULT_BACKOFF, backoffDelay } from './backoff.js';
export type { BackoffPolicy } from './backoff.js';
export { planBatch, compareAndSetOffset, readStoredOffset, readAllStoredOffsets } from './offsets.js';
export type { BatchPlan, PartitionKey } from './offsets.js';
export {
  DEAD_LETTER_HEADERS,
  REPLAY_HEADER,
  toDeadLetterMessage,
  parseDeadLetter,
  readDeadLetters,
  replayDeadLetters,
} from './dead-letter.js';
export type { DeadLetterRecord, DeadLetterInput } from './dead-letter.js';
export { migrateConsumerSchema } from './migrations.js';
export type { MigrateOptions } from './migrations.js';
export { rebuild } from './rebuild.js';
export type { RebuildOptions, RebuildResult } from './rebuild.js';
export { progressSnapshot, renderProgressBar, progressWriter } from './progress.js';
export type { ProgressSnapshot } from './progress.js';
export { ConsumerMetrics } from './metrics.js';
