/** Every way parsing a webhook body can fail. The codes are stable: callers branch on them and dead letters keep them. */
export const LIVECHAT_PARSE_ERROR_CODES = [
  /** The body is not a JSON object (null, an array, a string, …). */
  'LIVECHAT_NOT_AN_OBJECT',
  /** The object has neither `action` (v3) nor `event_type` (v2), or the one it has is not a non-empty string. */
  'LIVECHAT_DISCRIMINATOR_MISSING',
  /** The object has both `action` and `event_type`: LiveChat never sends both, so the format is not guessed. */
  'LIVECHAT_DISCRIMINATOR_AMBIGUOUS',
  /** Neither the body (`organization_id`, `license_id`) nor the context's tenant hint names the tenant. */
  'LIVECHAT_TENANT_UNKNOWN',
  /** The webhook would yield more events than `ParseLimits.maxEvents`. */
  'LIVECHAT_TOO_MANY_EVENTS',
  /** The webhook lists more threads than `ParseLimits.maxThreads`. */
  'LIVECHAT_TOO_MANY_THREADS',
  /** The webhook lists more users (v3 `chat.users`, v2 `chat.agents`) than `ParseLimits.maxUsers`. */
  'LIVECHAT_TOO_MANY_USERS',
  /** The body nests objects/arrays deeper than `ParseLimits.maxDepth`. */
  'LIVECHAT_TOO_DEEP',
  /** An archive body (`parseArchiveThread`) is not a chat with an `id` and a `thread` object with an `id`. */
  'LIVECHAT_ARCHIVE_NOT_A_THREAD',
] as const;

export type LiveChatParseErrorCode = (typeof LIVECHAT_PARSE_ERROR_CODES)[number];

/**
 * A body that cannot become domain events. Never retryable: the same bytes fail the same way, so the caller should
 * dead-letter the delivery rather than retry it.
 */
export class LiveChatParseError extends Error {
  override readonly name = 'LiveChatParseError';
  readonly code: LiveChatParseErrorCode;
  readonly retryable = false;
  readonly details: Readonly<Record<string, string | number | boolean | null>>;

  constructor(
    code: LiveChatParseErrorCode,
    message: string,
    options: { cause?: unknown; details?: Readonly<Record<string, string | number | boolean | null>> } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options.details ?? {};
  }
}
