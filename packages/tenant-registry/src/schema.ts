import { RegistryError } from './errors.js';

/** The default Postgres schema of the app's tables. */
export const DEFAULT_REGISTRY_SCHEMA = 'app';

/**
 * How long a registration stays accepted once it is "retiring" when the caller names no other period: 10
 * minutes, well beyond LiveChat's ~2-minute propagation and the app's default overlap (150 s, twice during a
 * rotation). Past it the verifier refuses the secret even when nobody finished the sync or rotation (a crash).
 */
export const DEFAULT_RETIRING_SECONDS = 600;

const IDENT = /^[a-z_][a-z0-9_]{0,62}$/;

/** Validates a schema name and returns it double-quoted, ready to splice into SQL. */
export function quoteSchema(schema: string): string {
  if (!IDENT.test(schema)) {
    throw new RegistryError(
      'REGISTRY_INVALID_SCHEMA_NAME',
      `schema name "${schema.slice(0, 70)}" must match ${IDENT.source}`,
    );
  }
  return `"${schema}"`;
}
