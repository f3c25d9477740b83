/** Error codes of @livechat-pipeline/livechat-agent-api: one closed list, each with whether a retry can help. */
export const AGENT_API_ERROR_CODES = {
  AGENT_API_VALIDATION: {
    retryable: false,
    description:
      'LiveChat refused the request as malformed (`validation`), e.g. an expired or foreign page_id, or a bad filter',
  },
  AGENT_API_AUTHENTICATION: {
    retryable: false,
    description: 'LiveChat refused the credentials (`authentication`), also after one token refresh',
  },
  AGENT_API_AUTHORIZATION: {
    retryable: false,
    description:
      'The token lacks the scope (`authorization` / `missing_access`): chats--all:ro or chats--access:ro, customers:ro',
  },
  AGENT_API_NOT_FOUND: {
    retryable: false,
    description: 'The chat, thread or customer does not exist (`not_found`)',
  },
  AGENT_API_RATE_LIMITED: {
    retryable: true,
    description: '`too_many_requests` on every attempt (backed off with full jitter each time)',
  },
  AGENT_API_UNAVAILABLE: {
    retryable: true,
    description:
      'LiveChat answered 5xx (`internal`, `service_unavailable`, ...), timed out or was unreachable on every attempt',
  },
  AGENT_API_REJECTED: {
    retryable: false,
    description:
      'LiveChat refused the request with another error type (`license_expired`, `limit_reached`, ...)',
  },
  AGENT_API_RESPONSE_INVALID: {
    retryable: true,
    description: 'LiveChat answered 200 with a body that is not the JSON object the method returns',
  },
  AGENT_API_ABORTED: { retryable: true, description: 'The caller aborted the call (shutdown, Ctrl-C)' },
} as const;

export type AgentApiErrorCode = keyof typeof AGENT_API_ERROR_CODES;

export class AgentApiError extends Error {
  override readonly name = 'AgentApiError';
  readonly retryable: boolean;

  constructor(
    readonly code: AgentApiErrorCode,
    message: string,
    readonly details: {
      readonly method: string;
      /** LiveChat's error type, when it sent one. */
      readonly type?: string;
      readonly status?: number;
      readonly attempts?: number;
    },
    options: { cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.retryable = AGENT_API_ERROR_CODES[code].retryable;
  }
}

export function isAgentApiError(err: unknown): err is AgentApiError {
  return err instanceof AgentApiError;
}

/** The code for one of LiveChat's error types (reference A.2). */
export function codeForType(type: string): AgentApiErrorCode {
  switch (type) {
    case 'validation':
      return 'AGENT_API_VALIDATION';
    case 'authentication':
      return 'AGENT_API_AUTHENTICATION';
    case 'authorization':
    case 'missing_access':
      return 'AGENT_API_AUTHORIZATION';
    case 'not_found':
      return 'AGENT_API_NOT_FOUND';
    case 'response_invalid':
      return 'AGENT_API_RESPONSE_INVALID';
    case 'too_many_requests':
      return 'AGENT_API_RATE_LIMITED';
    case 'internal':
    case 'service_unavailable':
    case 'request_timeout':
    case 'misdirected_request':
      return 'AGENT_API_UNAVAILABLE';
    default:
      return 'AGENT_API_REJECTED';
  }
}
