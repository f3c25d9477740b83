/** The tenant registry's error catalogue: one closed list of codes, each saying whether a retry can help. */
export const REGISTRY_ERROR_CODES = {
  REGISTRY_MIGRATION_FAILED: {
    retryable: false,
    description: 'A schema migration failed; the schema is left at the last good version',
  },
  REGISTRY_INVALID_SCHEMA_NAME: {
    retryable: false,
    description: 'The schema name is not a plain SQL identifier ([a-z_][a-z0-9_]*)',
  },
  REGISTRY_INVALID_ROLE_NAME: {
    retryable: false,
    description: 'The ingest role name is not a plain SQL identifier ([a-z_][a-z0-9_]*)',
  },
  REGISTRY_TENANT_NOT_FOUND: { retryable: false, description: 'No tenant with that id' },
  REGISTRY_TOKEN_UNREADABLE: {
    retryable: false,
    description:
      'A sealed token cannot be opened: unknown key id, unknown format, or it failed authentication',
  },
  REGISTRY_UNAVAILABLE: {
    retryable: true,
    description: 'Postgres could not be reached or refused the query',
  },
} as const;

export type RegistryErrorCode = keyof typeof REGISTRY_ERROR_CODES;

export class RegistryError extends Error {
  override readonly name = 'RegistryError';
  readonly code: RegistryErrorCode;
  readonly retryable: boolean;

  constructor(code: RegistryErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retryable = REGISTRY_ERROR_CODES[code].retryable;
  }
}

export function isRegistryError(err: unknown): err is RegistryError {
  return err instanceof RegistryError;
}
