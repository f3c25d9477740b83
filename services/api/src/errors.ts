/**
 * The api's error catalogue: one closed list of codes, each with its HTTP status, whether a retry can help, and
 * what it means. HTTP answers (`{ code, message }`) and CLI exit messages are derived from here only.
 */
export const API_ERROR_CODES = {
  API_CONFIG_INVALID: {
    status: 500,
    retryable: false,
    description: 'Start-up configuration is missing or invalid (not an HTTP answer)',
  },
  API_UNAUTHORIZED: {
    status: 401,
    retryable: false,
    description:
      'No valid credentials: a missing, malformed, unknown or revoked API key (or session). The answer never says which',
  },
  API_FORBIDDEN: {
    status: 403,
    retryable: false,
    description: 'The key is valid but this call needs an admin key',
  },
  API_BAD_PARAMETER: {
    status: 400,
    retryable: false,
    description: 'A query or path parameter is invalid (the message names it and says what is expected)',
  },
  API_BAD_BODY: {
    status: 400,
    retryable: false,
    description:
      'The request body is not what the call takes: not JSON, or a field missing, unknown or invalid (the message names it)',
  },
  API_BAD_CURSOR: {
    status: 400,
    retryable: false,
    description: 'The `cursor` is not one this endpoint returned (or it was made for other filters)',
  },
  API_NOT_FOUND: {
    status: 404,
    retryable: false,
    description: "No such route, or no such chat or customer in the key's tenant",
  },
  API_NOT_ACCEPTABLE: {
    status: 406,
    retryable: false,
    description: 'The `Accept` header asks for neither JSON nor (on list endpoints) CSV',
  },
  API_UNAVAILABLE: {
    status: 503,
    retryable: true,
    description:
      'Postgres did not answer (down, or the query ran past API_STATEMENT_TIMEOUT_MS), or the projections it reads are not migrated yet',
  },
  API_PRIVACY_OFF: {
    status: 503,
    retryable: false,
    description:
      'An erasure was asked of an api started without PRIVACY_KEYS (privacy off): there is no key store to erase',
  },
  API_ERASURE_INCOMPLETE: {
    status: 503,
    retryable: true,
    description:
      "The erasure's keys are erased but a projection's erase step failed (its service not migrated yet, or Postgres refused): send the same request_id again",
  },
  API_INTERNAL: { status: 500, retryable: true, description: 'Unexpected error' },
  API_KEY_NOT_FOUND: {
    status: 404,
    retryable: false,
    description: '`pnpm api-keys revoke`: no key with that id',
  },
  API_MIGRATION_FAILED: {
    status: 500,
    retryable: true,
    description: 'The `api` schema (API keys) could not be created or migrated',
  },
} as const;

export type ApiErrorCode = keyof typeof API_ERROR_CODES;

export class ApiError extends Error {
  override readonly name: string = 'ApiError';
  readonly code: ApiErrorCode;
  readonly status: number;
  readonly retryable: boolean;

  constructor(code: ApiErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.status = API_ERROR_CODES[code].status;
    this.retryable = API_ERROR_CODES[code].retryable;
  }
}

export class ApiConfigError extends ApiError {
  override readonly name = 'ApiConfigError';
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    super('API_CONFIG_INVALID', `invalid api configuration:\n  - ${problems.join('\n  - ')}`);
    this.problems = Object.freeze([...problems]);
  }
}

export function isApiError(err: unknown): err is ApiError {
  return err instanceof ApiError;
}

/** A log-safe view of an error: code and messages, never request data or secrets. */
export function errorForLog(err: unknown): Record<string, string> {
  if (err instanceof ApiError) {
    const out: Record<string, string> = { code: err.code, message: err.message };
    if (err.cause instanceof Error) out['cause'] = `${err.cause.name}: ${err.cause.message}`.slice(0, 300);
    return out;
  }
  if (err instanceof Error) return { name: err.name, message: err.message.slice(0, 300) };
  return { message: String(err).slice(0, 300) };
}
