/**
 * Error codes of @livechat-pipeline/postgres-consumer: one closed list, each saying whether a retry
 * can help. The runtime acts on that flag: retryable -> pause the partition and back off; not
 * retryable -> the event goes to the dead-letter topic.
 */
export const CONSUMER_ERROR_CODES = {
  CONSUMER_CONFIG_INVALID: {
    retryable: false,
    description: 'The consumer definition or its options are invalid',
  },
  CONSUMER_MIGRATION_FAILED: {
    retryable: false,
    description: 'A SQL migration of the consumer (or of the runtime bookkeeping) failed',
  },
  CONSUMER_DECODE_FAILED: {
    retryable: false,
    description: 'A record value could not be decoded into an event',
  },
  CONSUMER_EVENT_ID_MISSING: {
    retryable: false,
    description: 'eventId() returned no id (or threw) for a decoded event',
  },
  CONSUMER_EVENT_REJECTED: {
    retryable: false,
    description: 'The handler rejected an event with a non-retryable error',
  },
  CONSUMER_HANDLER_FAILED: {
    retryable: false,
    description: 'The handler threw an error that is neither marked retryable nor a known transient fault',
  },
  CONSUMER_POSTGRES_UNAVAILABLE: {
    retryable: true,
    description: 'Postgres could not be reached or the connection broke',
  },
  CONSUMER_TRANSIENT_FAILURE: {
    retryable: true,
    description: 'A transient fault: serialization failure, deadlock, timeout, or an error marked retryable',
  },
  CONSUMER_DEAD_LETTER_FAILED: {
    retryable: true,
    description: 'A dead letter could not be produced to the dead-letter topic',
  },
  CONSUMER_KAFKA_UNAVAILABLE: {
    retryable: true,
    description: 'Kafka metadata (watermarks) could not be read',
  },
  CONSUMER_REBUILD_FAILED: { retryable: false, description: 'A rebuild could not start or finish' },
} as const;

export type ConsumerErrorCode = keyof typeof CONSUMER_ERROR_CODES;

export type ConsumerErrorDetails = Readonly<Record<string, string | number | boolean | null>>;

export interface ConsumerErrorOptions {
  cause?: unknown;
  details?: ConsumerErrorDetails;
}

export class ConsumerError extends Error {
  override readonly name = 'ConsumerError';
  readonly code: ConsumerErrorCode;
  readonly retryable: boolean;
  readonly details: ConsumerErrorDetails;

  constructor(code: ConsumerErrorCode, message: string, options: ConsumerErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retryable = CONSUMER_ERROR_CODES[code].retryable;
    this.details = options.details ?? {};
  }
}

export function isConsumerError(err: unknown): err is ConsumerError {
  return err instanceof ConsumerError;
}

/**
 * What a handler throws to refuse an event for good (it goes to the dead-letter topic; replay it once
 * the cause is fixed). Any error with `retryable: false` has the same effect.
 */
export class EventRejectedError extends ConsumerError {
  constructor(message: string, options: ConsumerErrorOptions = {}) {
    super('CONSUMER_EVENT_REJECTED', message, options);
  }
}

/** SQLSTATE classes and codes that say "try again later", not "this data is wrong". */
// 42 (undefined table/column, syntax, privilege) and 3F (no such schema) come from the deployment, not
// from one event: dead-lettering would send the whole stream to the DLQ. Waiting keeps every event
// in place until the migration or grant is fixed, and lag shows it.
const TRANSIENT_SQLSTATE_CLASSES = ['08', '53', '57P', '58', '42', '3F'];
const TRANSIENT_SQLSTATES = new Set(['40001', '40P01', '55P03', '57014', '25P03', '25P04']);
const CONNECTION_ERRNOS = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ECONNABORTED',
]);
/** node-postgres reports broken connections with plain Errors; these are their messages. */
const PG_CONNECTION_MESSAGES = [
  'Connection terminated',
  'timeout exceeded when trying to connect',
  'Client has encountered a connection error',
  'Client was closed',
  'Query read timeout',
  'the database system is',
  'terminating connection',
];

function stringProp(value: unknown, key: string): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const prop = (value as Record<string, unknown>)[key];
  return typeof prop === 'string' ? prop : undefined;
}

function booleanProp(value: unknown, key: string): boolean | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const prop = (value as Record<string, unknown>)[key];
  return typeof prop === 'boolean' ? prop : undefined;
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** A connection-level or Postgres-level fault that a later attempt can get past; undefined if not one. */
export function transientFaultCode(err: unknown): ConsumerErrorCode | undefined {
  const errno = stringProp(err, 'code');
  if (errno !== undefined && CONNECTION_ERRNOS.has(errno)) return 'CONSUMER_POSTGRES_UNAVAILABLE';
  if (errno !== undefined && /^[0-9A-Z]{5}$/.test(errno)) {
    if (errno.startsWith('08') || errno.startsWith('57P')) return 'CONSUMER_POSTGRES_UNAVAILABLE';
    if (TRANSIENT_SQLSTATES.has(errno) || TRANSIENT_SQLSTATE_CLASSES.some((c) => errno.startsWith(c))) {
      return 'CONSUMER_TRANSIENT_FAILURE';
    }
  }
  const message = messageOf(err);
  if (PG_CONNECTION_MESSAGES.some((m) => message.includes(m))) return 'CONSUMER_POSTGRES_UNAVAILABLE';
  if (err instanceof AggregateError) {
    for (const inner of err.errors) {
      const code = transientFaultCode(inner);
      if (code !== undefined) return code;
    }
  }
  return undefined;
}

/**
 * Turns whatever a stage threw into a ConsumerError with a stable code and a retryable flag.
 * Order matters: an explicit `retryable` flag on the error wins (the thrower knows best), then
 * known transient faults, then the stage's permanent code (the fault follows the data).
 */
export function classifyError(err: unknown, stage: 'decode' | 'handler' | 'storage'): ConsumerError {
  if (isConsumerError(err)) return err;
  const flagged = booleanProp(err, 'retryable');
  const details = {
    stage,
    errorName: err instanceof Error ? err.name : typeof err,
    sourceCode: stringProp(err, 'code') ?? null,
  };
  if (flagged === true)
    return new ConsumerError('CONSUMER_TRANSIENT_FAILURE', messageOf(err), { cause: err, details });
  const transient = flagged === false ? undefined : transientFaultCode(err);
  if (transient !== undefined) return new ConsumerError(transient, messageOf(err), { cause: err, details });
  switch (stage) {
    case 'decode':
      return new ConsumerError('CONSUMER_DECODE_FAILED', messageOf(err), { cause: err, details });
    case 'handler':
      return new ConsumerError(
        flagged === false ? 'CONSUMER_EVENT_REJECTED' : 'CONSUMER_HANDLER_FAILED',
        messageOf(err),
        { cause: err, details },
      );
    case 'storage':
      // The runtime's own SQL is fixed; an unknown failure there is most likely the database's state.
      return new ConsumerError('CONSUMER_TRANSIENT_FAILURE', messageOf(err), { cause: err, details });
  }
}
