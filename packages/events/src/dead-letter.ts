import type { IHeaders, KafkaMessage, Message } from 'kafkajs';

/**
 * The dead-letter envelope, the one contract every dead-letter topic follows (`livechat.webhooks.raw.dlq` of the
 * normalizer, `<consumer>.dlq` of every Postgres consumer): the origin record's key, value, timestamp and non-`dlq.*`
 * headers, byte for byte, plus these provenance headers.
 */
export const DEAD_LETTER_HEADERS = {
  originTopic: 'dlq.origin.topic',
  originPartition: 'dlq.origin.partition',
  originOffset: 'dlq.origin.offset',
  /** The origin record's timestamp (ms since the epoch, as Kafka gives it). */
  originTimestamp: 'dlq.origin.timestamp',
  errorCode: 'dlq.error.code',
  /** The error's message, at most DEAD_LETTER_MESSAGE_MAX_BYTES of UTF-8. */
  errorMessage: 'dlq.error.message',
  attempts: 'dlq.attempts',
  /** Who dead-lettered it: the consumer name or group. */
  consumer: 'dlq.consumer',
  /** ISO 8601. Older normalizer dead letters spell it `dlq.failed_at`; both are read. */
  failedAt: 'dlq.failed-at',
  /** Present when the dead letter goes without its value (too large even for the dead-letter topic): why. */
  valueOmitted: 'dlq.value.omitted',
} as const;

/** Marks a record re-produced from a dead letter (`<dlq topic>/<partition>/<offset>`). */
export const REPLAY_HEADER = 'dlq.replay-of';

/** Every header of the envelope starts with this; none of them is copied onto a dead letter or a replay. */
export const DEAD_LETTER_HEADER_PREFIX = 'dlq.';

/** Earlier spellings still read from dead letters already on topics. */
const LEGACY_FAILED_AT = 'dlq.failed_at';

/** The truncation rule: an error message in a dead letter takes at most this many bytes of UTF-8. */
export const DEAD_LETTER_MESSAGE_MAX_BYTES = 1024;

const ELLIPSIS = '…';

/**
 * `message` cut to at most DEAD_LETTER_MESSAGE_MAX_BYTES of UTF-8, on a code point boundary, ending in `…` when
 * cut. Pure.
 */
export function truncateDeadLetterMessage(message: string): string {
  if (Buffer.byteLength(message, 'utf8') <= DEAD_LETTER_MESSAGE_MAX_BYTES) return message;
  const budget = DEAD_LETTER_MESSAGE_MAX_BYTES - Buffer.byteLength(ELLIPSIS, 'utf8');
  let bytes = 0;
  let end = 0;
  for (const char of message) {
    const size = Buffer.byteLength(char, 'utf8');
    if (bytes + size > budget) break;
    bytes += size;
    end += char.length;
  }
  return `${message.slice(0, end)}${ELLIPSIS}`;
}

/** Where a dead letter's record came from. */
export interface DeadLetterOrigin {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
}

export interface DeadLetterInput {
  readonly origin: DeadLetterOrigin;
  /** The origin record as consumed. */
  readonly message: Pick<KafkaMessage, 'key' | 'value' | 'headers' | 'timestamp'>;
  readonly error: { readonly code: string; readonly message: string };
  readonly attempts: number;
  readonly consumer: string;
  readonly failedAt: Date;
}

/** The headers of `headers` that are not the envelope's (`dlq.*`). */
export function withoutDeadLetterHeaders(headers: IHeaders | undefined): IHeaders {
  const kept: IHeaders = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (!name.startsWith(DEAD_LETTER_HEADER_PREFIX) && value !== undefined) kept[name] = value;
  }
  return kept;
}

/**
 * The dead letter of a record: its key, value and timestamp untouched, its own headers except `dlq.*` ones (a
 * replayed record's `dlq.replay-of`), and the provenance headers. Pure.
 */
export function deadLetterMessage(input: DeadLetterInput): Message {
  const provenance: IHeaders = {
    [DEAD_LETTER_HEADERS.originTopic]: input.origin.topic,
    [DEAD_LETTER_HEADERS.originPartition]: String(input.origin.partition),
    [DEAD_LETTER_HEADERS.originOffset]: input.origin.offset,
    [DEAD_LETTER_HEADERS.originTimestamp]: input.message.timestamp,
    [DEAD_LETTER_HEADERS.errorCode]: input.error.code,
    [DEAD_LETTER_HEADERS.errorMessage]: truncateDeadLetterMessage(input.error.message),
    [DEAD_LETTER_HEADERS.attempts]: String(input.attempts),
    [DEAD_LETTER_HEADERS.consumer]: input.consumer,
    [DEAD_LETTER_HEADERS.failedAt]: input.failedAt.toISOString(),
  };
  return {
    key: input.message.key,
    value: input.message.value,
    headers: { ...withoutDeadLetterHeaders(input.message.headers), ...provenance },
    timestamp: input.message.timestamp,
  };
}

/** The same dead letter without its value, saying why (`reason`) in `dlq.value.omitted`. Pure. */
export function withValueOmitted(deadLetter: Message, reason: string): Message {
  return {
    ...deadLetter,
    value: null,
    headers: { ...deadLetter.headers, [DEAD_LETTER_HEADERS.valueOmitted]: reason },
  };
}

/** A dead letter read back. */
export interface DeadLetterRecord {
  /** Position in the dead-letter topic. */
  readonly partition: number;
  readonly offset: string;
  readonly origin: DeadLetterOrigin;
  readonly errorCode: string;
  readonly errorMessage: string;
  readonly attempts: number;
  readonly consumer: string;
  /** ISO 8601, from `dlq.failed-at` or the older `dlq.failed_at`; '' when neither is there. */
  readonly failedAt: string;
  /** Why the value is missing (`dlq.value.omitted`), else undefined. */
  readonly valueOmitted: string | undefined;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  /** The original headers, without any `dlq.*` one. */
  readonly headers: IHeaders;
}

function headerText(headers: IHeaders, name: string): string | undefined {
  const value = headers[name];
  const first = Array.isArray(value) ? value[0] : value;
  if (first === undefined) return undefined;
  return typeof first === 'string' ? first : first.toString('utf8');
}

/** Reads a dead letter back (either writer, either spelling); a record without origin headers is not one. Pure. */
export function parseDeadLetter(partition: number, message: KafkaMessage): DeadLetterRecord | undefined {
  const headers = message.headers ?? {};
  const topic = headerText(headers, DEAD_LETTER_HEADERS.originTopic);
  const originPartition = headerText(headers, DEAD_LETTER_HEADERS.originPartition);
  const originOffset = headerText(headers, DEAD_LETTER_HEADERS.originOffset);
  if (topic === undefined || originPartition === undefined || originOffset === undefined) return undefined;
  return {
    partition,
    offset: message.offset,
    origin: { topic, partition: Number(originPartition), offset: originOffset },
    errorCode: headerText(headers, DEAD_LETTER_HEADERS.errorCode) ?? 'UNKNOWN',
    errorMessage: headerText(headers, DEAD_LETTER_HEADERS.errorMessage) ?? '',
    attempts: Number(headerText(headers, DEAD_LETTER_HEADERS.attempts) ?? '0'),
    consumer: headerText(headers, DEAD_LETTER_HEADERS.consumer) ?? '',
    failedAt:
      headerText(headers, DEAD_LETTER_HEADERS.failedAt) ?? headerText(headers, LEGACY_FAILED_AT) ?? '',
    valueOmitted: headerText(headers, DEAD_LETTER_HEADERS.valueOmitted),
    key: message.key,
    value: message.value,
    headers: withoutDeadLetterHeaders(headers),
  };
}

/**
 * The record a replay produces to the origin topic and partition: the original key, value and non-`dlq.*` headers,
 * plus `dlq.replay-of`. No other `dlq.*` header is ever copied back. Pure.
 */
export function replayMessage(
  deadLetterTopic: string,
  record: DeadLetterRecord,
): Message & { partition: number } {
  return {
    partition: record.origin.partition,
    key: record.key,
    value: record.value,
    headers: {
      ...withoutDeadLetterHeaders(record.headers),
      [REPLAY_HEADER]: `${deadLetterTopic}/${record.partition}/${record.offset}`,
    },
  };
}
