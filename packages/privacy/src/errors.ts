/**
 * The privacy package's error catalogue: one closed list of codes, each saying whether a retry can help. A
 * consumer acts on the flag: retryable errors back off and retry (the partition waits), the others are final
 * for that record or field.
 */
export const PRIVACY_ERROR_CODES = {
  PRIVACY_CONFIG_INVALID: {
    retryable: false,
    description:
      'PRIVACY_KEYS, PRIVACY_ACTIVE_KEY_ID, PRIVACY_EMAIL_HASH_KEY or a cache setting is missing or malformed',
  },
  PRIVACY_INVALID_ARGUMENT: {
    retryable: false,
    description: 'A tenant id, chat id, field name, customer id or e-mail is empty or too long',
  },
  PRIVACY_INVALID_SCHEMA_NAME: {
    retryable: false,
    description: 'The schema name is not a plain SQL identifier ([a-z_][a-z0-9_]*)',
  },
  PRIVACY_MIGRATION_FAILED: {
    retryable: false,
    description: 'A schema migration failed; the schema is left at the last good version',
  },
  PRIVACY_KEY_ERASED: {
    retryable: false,
    description:
      "The chat's data key was erased (crypto-shredded): its personal data can never be read again, and no new key is created for it",
  },
  PRIVACY_KEY_UNAVAILABLE: {
    retryable: true,
    description:
      'The data key cannot be had right now: Postgres unreachable or refusing the query, or no key row for an encrypted value (a store behind the log)',
  },
  PRIVACY_KEK_UNKNOWN: {
    retryable: true,
    description:
      'A data key is wrapped by a key id that PRIVACY_KEYS does not hold (a key removed before `rewrap` finished): configure it again',
  },
  PRIVACY_CIPHERTEXT_INVALID: {
    retryable: false,
    description:
      'An envelope or wrapped key is malformed, of an unknown version, for another key version, or fails authentication (tampered or wrong tenant, chat or field)',
  },
  PRIVACY_PROJECTION_ERASE_FAILED: {
    retryable: true,
    description:
      "A projection's erase function (`<schema>.erase_chats`) is missing (its service has not migrated yet) or failed: run the erasure again with the same request id",
  },
} as const;

export type PrivacyErrorCode = keyof typeof PRIVACY_ERROR_CODES;

export class PrivacyError extends Error {
  override readonly name = 'PrivacyError';
  readonly code: PrivacyErrorCode;
  readonly retryable: boolean;

  constructor(code: PrivacyErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retryable = PRIVACY_ERROR_CODES[code].retryable;
  }
}

export function isPrivacyError(err: unknown): err is PrivacyError {
  return err instanceof PrivacyError;
}
