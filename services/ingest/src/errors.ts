/**
 * The ingest's error catalogue: one closed list of codes, each with its HTTP status, whether LiveChat (or an
 * operator) should retry, and what it means. The HTTP layer maps codes to statuses here and nowhere else.
 */
export const INGEST_ERROR_CODES = {
  INGEST_UNSUPPORTED_MEDIA_TYPE: {
    status: 415,
    retryable: false,
    description: 'Content-Type is not application/json',
  },
  INGEST_PAYLOAD_TOO_LARGE: {
    status: 413,
    retryable: false,
    description: 'The body is larger than INGEST_BODY_LIMIT_BYTES',
  },
  INGEST_EMPTY_BODY: { status: 400, retryable: false, description: 'The JSON body is empty' },
  INGEST_MALFORMED_JSON: { status: 400, retryable: false, description: 'The body is not valid JSON' },
  INGEST_JSON_TOO_DEEP: {
    status: 400,
    retryable: false,
    description: 'The JSON is nested deeper than INGEST_JSON_MAX_DEPTH',
  },
  INGEST_JSON_TOO_LARGE: {
    status: 400,
    retryable: false,
    description: 'The JSON has more values than INGEST_JSON_MAX_NODES',
  },
  INGEST_PROTOTYPE_POISONING: {
    status: 400,
    retryable: false,
    description: 'The JSON contains a __proto__ or constructor.prototype key',
  },
  INGEST_INVALID_CONTENT_LENGTH: {
    status: 400,
    retryable: false,
    description: 'Content-Length does not match the body received',
  },
  INGEST_BAD_REQUEST: {
    status: 400,
    retryable: false,
    description: 'The request is malformed in another way (e.g. a bad header)',
  },
  INGEST_INVALID_TENANT_LABEL: {
    status: 400,
    retryable: false,
    description: 'The tenant label in the URL path is not 1–128 of [A-Za-z0-9._-]',
  },
  INGEST_UNRECOGNIZED_WEBHOOK: {
    status: 422,
    retryable: false,
    description: 'The JSON is neither a v2 (event_type) nor a v3 (action) webhook',
  },
  INGEST_INVALID_TENANT_ID: {
    status: 422,
    retryable: false,
    description:
      'organization_id / license_id is not a tenant id (license_id: a non-negative safe integer; organization_id: 1–128 of [A-Za-z0-9._-])',
  },
  INGEST_ID_TOO_LONG: {
    status: 422,
    retryable: false,
    description:
      "A chat, thread or webhook id is longer than 256 characters (with privacy on, also the id keying the body's encryption, e.g. customer:<id>)",
  },
  INGEST_INVALID_ID: {
    status: 422,
    retryable: false,
    description:
      "Privacy is on and the id that keys the body's encryption (chat, customer, visitor or ticket id) holds a NUL character or an unpaired UTF-16 surrogate, which the key store (Postgres text) cannot hold",
  },
  INGEST_RECORD_TOO_LARGE: {
    status: 413,
    retryable: false,
    description:
      "The record to store (the redacted body re-serialised, e.g. numbers like 9e20 written out in full) is larger than the raw topic's max.message.bytes",
  },
  INGEST_UNAUTHENTICATED: {
    status: 401,
    retryable: false,
    description: 'Missing or wrong credentials (v2 Basic auth, v3 secret_key)',
  },
  INGEST_TENANT_MISMATCH: {
    status: 401,
    retryable: false,
    description: "The body's organization_id / license_id and the path's tenant label name different tenants",
  },
  INGEST_NOT_FOUND: { status: 404, retryable: false, description: 'No such route' },
  INGEST_DEADLINE_EXCEEDED: {
    status: 503,
    retryable: true,
    description:
      'Kafka did not acknowledge the write within INGEST_REQUEST_DEADLINE_MS; nothing is promised, retry',
  },
  INGEST_KAFKA_UNAVAILABLE: {
    status: 503,
    retryable: true,
    description: 'Kafka refused or failed the write; retry',
  },
  INGEST_SPOOL_FULL: {
    status: 503,
    retryable: true,
    description:
      'Kafka is not acknowledging writes and the on-disk spool holds INGEST_SPOOL_MAX_BYTES already; nothing was written, retry',
  },
  INGEST_SPOOL_UNAVAILABLE: {
    status: 503,
    retryable: true,
    description:
      'Kafka is not acknowledging writes and the on-disk spool could not be written (e.g. disk full); retry',
  },
  INGEST_PRIVACY_KEY_UNAVAILABLE: {
    status: 503,
    retryable: true,
    description:
      "Privacy is on and the chat's data key could not be had (the key store's Postgres is unreachable or refused the query): nothing was written, not even to the spool; retry",
  },
  INGEST_PRIVACY_KEY_INVALID: {
    status: 500,
    retryable: false,
    description:
      "Privacy is on and the key store's row for the webhook's data key is unusable (a corrupt wrapped key: PRIVACY_CIPHERTEXT_INVALID) or refused the id; a retry does not help until an operator repairs the row",
  },
  INGEST_SHUTTING_DOWN: { status: 503, retryable: true, description: 'The ingest is shutting down; retry' },
  INGEST_NOT_READY: {
    status: 503,
    retryable: true,
    description: 'Kafka or the schema registry is not reachable (GET /readyz)',
  },
  INGEST_INTERNAL: { status: 500, retryable: true, description: 'Unexpected error' },
  INGEST_SPOOL_LOCKED: {
    status: 500,
    retryable: false,
    description:
      'Another live ingest process holds the spool directory (its LOCK file); one process per INGEST_SPOOL_DIR (not an HTTP answer: the start fails)',
  },
  INGEST_SPOOL_TOPIC_MISMATCH: {
    status: 500,
    retryable: false,
    description:
      'The spool holds records for another raw topic than RAW_WEBHOOK_TOPIC (not an HTTP answer: the start fails)',
  },
  INGEST_CONFIG_INVALID: {
    status: 500,
    retryable: false,
    description: 'Start-up configuration is missing or invalid (not an HTTP answer)',
  },
} as const;

export type IngestErrorCode = keyof typeof INGEST_ERROR_CODES;

export type ErrorDetails = Readonly<Record<string, string | number | boolean | null>>;

export interface IngestErrorOptions {
  cause?: unknown;
  details?: ErrorDetails;
}

export class IngestError extends Error {
  override readonly name: string = 'IngestError';
  readonly code: IngestErrorCode;
  readonly status: number;
  readonly retryable: boolean;
  readonly details: ErrorDetails;

  constructor(code: IngestErrorCode, message: string, options: IngestErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.status = INGEST_ERROR_CODES[code].status;
    this.retryable = INGEST_ERROR_CODES[code].retryable;
    this.details = options.details ?? {};
  }
}

/** Thrown by loadIngestConfig, listing every missing or bad variable. */
export class IngestConfigError extends IngestError {
  override readonly name = 'IngestConfigError';
  readonly problems: readonly string[];

  constructor(problems: readonly string[], options: { cause?: unknown } = {}) {
    // One problem is one line (what a refused start prints); several are listed one per line.
    super(
      'INGEST_CONFIG_INVALID',
      problems.length === 1
        ? `invalid ingest configuration: ${problems[0]}`
        : `invalid ingest configuration:\n  - ${problems.join('\n  - ')}`,
      options,
    );
    this.problems = Object.freeze([...problems]);
  }
}

export function isIngestError(err: unknown): err is IngestError {
  return err instanceof IngestError;
}

/** The JSON body of every error answer. */
export interface ErrorBody {
  code: IngestErrorCode;
  message: string;
}
