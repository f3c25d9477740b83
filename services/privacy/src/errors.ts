/**
 * The privacy service's own codes (the CLI's). Errors of the key store and of the erasure itself are the
 * package's PrivacyError codes (packages/privacy/README.md), printed as `CODE: message`.
 */
export const PRIVACY_SERVICE_ERROR_CODES = {
  PRIVACY_CLI_BAD_ARGUMENTS: {
    retryable: false,
    description: 'The command line is wrong (the message names the problem and shows the usage); exit 2',
  },
} as const;

export type PrivacyServiceErrorCode = keyof typeof PRIVACY_SERVICE_ERROR_CODES;

export class PrivacyCliError extends Error {
  override readonly name = 'PrivacyCliError';
  readonly code: PrivacyServiceErrorCode;
  readonly retryable: boolean;

  constructor(code: PrivacyServiceErrorCode, message: string) {
    super(message);
    this.code = code;
    this.retryable = PRIVACY_SERVICE_ERROR_CODES[code].retryable;
  }
}
