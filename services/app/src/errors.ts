/**
 * The app's error catalogue: one closed list of codes, each with its HTTP status, whether a retry can help,
 * and what it means. HTTP answers and CLI exit messages are derived from here only.
 */
export const APP_ERROR_CODES = {
  APP_CONFIG_INVALID: {
    status: 500,
    retryable: false,
    description: 'Start-up configuration is missing or invalid (not an HTTP answer)',
  },
  APP_NOT_CONFIGURED: {
    status: 503,
    retryable: false,
    description:
      'LIVECHAT_CLIENT_ID / LIVECHAT_CLIENT_SECRET (or APP_LIFECYCLE_BASIC_AUTH) are not set, so this route cannot work',
  },
  APP_OAUTH_STATE_INVALID: {
    status: 400,
    retryable: false,
    description:
      'The OAuth callback has no state, or it does not match the one bound to this browser (or it expired)',
  },
  APP_SESSION_HANDOFF_INVALID: {
    status: 400,
    retryable: false,
    description:
      'The sign-in hand-off code for the settings iframe is unknown, already used or expired (connect again)',
  },
  APP_OAUTH_DENIED: {
    status: 403,
    retryable: false,
    description: 'The user refused the authorization on LiveChat',
  },
  APP_OAUTH_CODE_REJECTED: {
    status: 400,
    retryable: false,
    description: 'The token endpoint refused the code (used, expired, wrong verifier: invalid_grant)',
  },
  APP_OAUTH_CLIENT_REJECTED: {
    status: 502,
    retryable: false,
    description: 'The token endpoint refused our client id/secret (invalid_client)',
  },
  APP_OAUTH_TOKEN_RESPONSE_INVALID: {
    status: 502,
    retryable: false,
    description: 'The token endpoint answered without the fields we need',
  },
  APP_TOKEN_REFRESH_FAILED: {
    status: 502,
    retryable: true,
    description: 'The access token could not be refreshed',
  },
  APP_TOKEN_DECRYPT_FAILED: {
    status: 500,
    retryable: false,
    description: 'A stored token could not be decrypted (unknown key id, or tampered ciphertext)',
  },
  APP_NO_TOKENS: {
    status: 409,
    retryable: false,
    description: 'The tenant has no stored tokens: connect (install) again',
  },
  APP_LIVECHAT_UNAVAILABLE: {
    status: 502,
    retryable: true,
    description: 'LiveChat answered 429/5xx or timed out after every retry',
  },
  APP_LIVECHAT_REJECTED: {
    status: 502,
    retryable: false,
    description: 'LiveChat refused a Configuration API call (4xx other than 429)',
  },
  APP_WEBHOOK_LIMIT: {
    status: 409,
    retryable: false,
    description: "Registering would exceed LiveChat's 3 webhooks per action per client id",
  },
  APP_WEBHOOKS_FILE_INVALID: {
    status: 500,
    retryable: false,
    description: 'config/livechat-webhooks.json is missing or does not match its schema',
  },
  APP_UNAUTHENTICATED: {
    status: 401,
    retryable: false,
    description: 'Missing or wrong Basic credentials on the lifecycle webhook',
  },
  APP_BAD_REQUEST: {
    status: 400,
    retryable: false,
    description: 'The request body is not what the route expects',
  },
  APP_NOT_FOUND: { status: 404, retryable: false, description: 'No such route' },
  APP_INTERNAL: { status: 500, retryable: true, description: 'Unexpected error' },
} as const;

export type AppErrorCode = keyof typeof APP_ERROR_CODES;

export type ErrorDetails = Readonly<Record<string, string | number | boolean | null>>;

export class AppError extends Error {
  override readonly name: string = 'AppError';
  readonly code: AppErrorCode;
  readonly status: number;
  readonly retryable: boolean;
  readonly details: ErrorDetails;

  constructor(
    code: AppErrorCode,
    message: string,
    options: { cause?: unknown; details?: ErrorDetails } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.status = APP_ERROR_CODES[code].status;
    this.retryable = APP_ERROR_CODES[code].retryable;
    this.details = options.details ?? {};
  }
}

export class AppConfigError extends AppError {
  override readonly name = 'AppConfigError';
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    super('APP_CONFIG_INVALID', `invalid app configuration:\n  - ${problems.join('\n  - ')}`);
    this.problems = Object.freeze([...problems]);
  }
}

export function isAppError(err: unknown): err is AppError {
  return err instanceof AppError;
}

/** A log-safe view of an error: code and messages, never request data or secrets. */
export function errorForLog(err: unknown): Record<string, string> {
  if (err instanceof AppError) {
    const out: Record<string, string> = { code: err.code, message: err.message };
    if (err.cause instanceof Error) out['cause'] = `${err.cause.name}: ${err.cause.message}`.slice(0, 300);
    return out;
  }
  return { message: err instanceof Error ? `${err.name}: ${err.message}`.slice(0, 300) : 'non-error thrown' };
}
