/** Error codes of crm-sync; `retryable` says whether the same work may succeed later. */
export const CRM_ERROR_CODES = {
  CRM_CONFIG_INVALID: { retryable: false, description: 'A configuration value is invalid' },
  CRM_NO_TOKEN: {
    retryable: true,
    description: "No HubSpot token for the thread's tenant: its work waits until one is set",
  },
  CRM_TOKEN_UNREADABLE: {
    retryable: true,
    description:
      "The tenant's sealed HubSpot token cannot be opened (key id not in CRM_TOKEN_KEYS, corrupt): its work waits, the connection is shown broken",
  },
  CRM_HUBSPOT_RATE_LIMITED: {
    retryable: true,
    description:
      'HubSpot answered 429 for its ten-second (or secondly) limit: the account waits out the window',
  },
  CRM_HUBSPOT_DAILY_LIMIT: {
    retryable: true,
    description: "HubSpot answered 429 DAILY: the account's work pauses until the daily window resets",
  },
  CRM_HUBSPOT_UNAVAILABLE: {
    retryable: true,
    description:
      'HubSpot answered 5xx or 423 (or a second 409 on an upsert), or could not be reached: backoff with jitter',
  },
  CRM_ERASURE_ACCOUNT_CHANGED: {
    retryable: true,
    description:
      "An erasure's notes were made with another HubSpot account (token) than the tenant's current one: they are not deleted with the current token (its 404 would say nothing, its id could name another portal's note); the row waits for that account's token",
  },
  CRM_HUBSPOT_AMBIGUOUS: {
    retryable: true,
    description:
      'No answer after the request was sent (timeout, dropped connection): the write may have happened; the note is looked up before it is created again',
  },
  CRM_HUBSPOT_UNAUTHORIZED: {
    retryable: true,
    description:
      "HubSpot answered 401 or 403: the tenant's CRM connection is marked broken, its work is kept",
  },
  CRM_HUBSPOT_REJECTED: {
    retryable: false,
    description:
      "HubSpot refused the thread's input (400, or one input of a 207): the thread goes to crm.dead_letters",
  },
  CRM_HUBSPOT_UNEXPECTED: {
    retryable: true,
    description: 'HubSpot answered something this client does not understand (status or body)',
  },
  CRM_DEAD_LETTER_NOT_FOUND: { retryable: false, description: 'No dead letter with that id (CLI)' },
} as const;

export type CrmErrorCode = keyof typeof CRM_ERROR_CODES;

export class CrmSyncError extends Error {
  override readonly name = 'CrmSyncError';
  readonly retryable: boolean;
  constructor(
    readonly code: CrmErrorCode,
    message: string,
    readonly details: {
      readonly status?: number;
      readonly policy?: string;
      readonly retryAfterMs?: number;
      readonly hubspotError?: unknown;
    } = {},
    options: { cause?: unknown } = {},
  ) {
    super(message, options);
    this.retryable = CRM_ERROR_CODES[code].retryable;
  }
}
