/** Error codes of the normalizer; `retryable` says whether processing the same record again can help. */
export const NORMALIZER_ERROR_CODES = {
  NORMALIZER_UNDECODABLE: {
    retryable: false,
    description: 'The raw record is not a RawWebhook in the Confluent wire format',
  },
  NORMALIZER_BODY_NOT_JSON: { retryable: false, description: "The raw record's body is not JSON" },
  NORMALIZER_TENANT_MISMATCH: {
    retryable: false,
    description:
      'The body names another tenant than the one the ingest authenticated and stored the record under',
  },
  NORMALIZER_UNPARSABLE: { retryable: false, description: 'The LiveChat parser refused the webhook body' },
  NORMALIZER_ARCHIVE_INVALID: {
    retryable: false,
    description:
      'An archive record (a thread read from the Agent Chat API) is not a chat with an id and a thread with an id, or names no tenant',
  },
  NORMALIZER_UNENCODABLE: {
    retryable: false,
    description: 'A parsed event does not fit the chat-event schema',
  },
  NORMALIZER_PARSER_FAILED: {
    retryable: false,
    description:
      'The LiveChat parser threw an error it does not declare (a parser bug): the same bytes would fail again',
  },
  NORMALIZER_UNEXPECTED: {
    retryable: false,
    description:
      'Turning the raw record into events failed with an error that is not an infrastructure fault',
  },
  NORMALIZER_OUTPUT_TOO_LARGE: {
    retryable: false,
    description:
      "The broker refused an event of the record as larger than the chat-events topic's max.message.bytes",
  },
  NORMALIZER_SEALED_BODY_INVALID: {
    retryable: false,
    description:
      "A sealed raw record's envelope does not open with its key (tampered or malformed), or it names no tenant or a key scope the key store refuses",
  },
  NORMALIZER_KEY_SCOPE_INVALID: {
    retryable: false,
    description:
      'A chat event of the record has a key scope (chat, customer, visitor or ticket id) or tenant the key store cannot take: a NUL character (Postgres text cannot hold it), or a tenant over 256 characters',
  },
  NORMALIZER_OVER_LIMIT: {
    retryable: false,
    description:
      'The webhook is over a limit: events, threads or users per webhook, nesting depth, or output bytes per raw record',
  },
} as const;

export type NormalizerErrorCode = keyof typeof NORMALIZER_ERROR_CODES;

export class NormalizerError extends Error {
  override readonly name = 'NormalizerError';
  readonly retryable: boolean;
  constructor(
    readonly code: NormalizerErrorCode,
    message: string,
    options: { cause?: unknown } = {},
  ) {
    super(message, options);
    this.retryable = NORMALIZER_ERROR_CODES[code].retryable;
  }
}
