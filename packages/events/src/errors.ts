/** Error codes of @livechat-pipeline/events: one closed list, each with whether a retry can help. */
export const EVENTS_ERROR_CODES = {
  EVENTS_SCHEMA_LOAD_FAILED: {
    retryable: false,
    description: 'An .avsc file under schemas/ is missing or is not a valid Avro schema',
  },
  EVENTS_REGISTRY_UNAVAILABLE: {
    retryable: true,
    description: 'The schema registry could not be reached, timed out or answered 5xx',
  },
  EVENTS_REGISTRY_REJECTED: {
    retryable: false,
    description: 'The schema registry refused the request (4xx), e.g. an incompatible schema',
  },
  EVENTS_SCHEMA_NOT_FOUND: { retryable: false, description: 'No schema with this id exists in the registry' },
  EVENTS_WIRE_FORMAT_INVALID: {
    retryable: false,
    description: 'Bytes are not in the Confluent wire format (magic byte 0 + 4-byte schema id + Avro body)',
  },
  EVENTS_ENCODE_FAILED: {
    retryable: false,
    description: 'A value does not match the Avro schema it is encoded with',
  },
  EVENTS_DECODE_FAILED: {
    retryable: false,
    description: 'An Avro body could not be decoded with its writer schema',
  },
  EVENTS_TOPIC_CREATE_FAILED: { retryable: true, description: 'A topic could not be created or inspected' },
  EVENTS_TOPIC_MISCONFIGURED: {
    retryable: false,
    description:
      'An existing topic lacks a setting its writer needs (e.g. max.message.bytes, retention.ms); the message says how to change it',
  },
  EVENTS_ARCHIVE_INVALID: {
    retryable: false,
    description:
      'An archive thread to write is not a chat with one thread (an object with an id and a thread with an id), or nests too deep',
  },
  EVENTS_ARCHIVE_TOO_LARGE: {
    retryable: false,
    description:
      'An archive thread cannot be split into raw records within the body limit: one event, or the chat without its events, is larger than the limit',
  },
} as const;

export type EventsErrorCode = keyof typeof EVENTS_ERROR_CODES;

export interface EventsErrorOptions {
  cause?: unknown;
  details?: Readonly<Record<string, string | number | boolean | null>>;
}

export class EventsError extends Error {
  override readonly name = 'EventsError';
  readonly code: EventsErrorCode;
  readonly retryable: boolean;
  readonly details: Readonly<Record<string, string | number | boolean | null>>;

  constructor(code: EventsErrorCode, message: string, options: EventsErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retryable = EVENTS_ERROR_CODES[code].retryable;
    this.details = options.details ?? {};
  }
}

export function isEventsError(err: unknown): err is EventsError {
  return err instanceof EventsError;
}
