import { RegistryError } from './errors.js';

/** The default Postgres schema of the app's tables. */
export const DEFAULT_REGISTRY_SCHEMA = 'app';

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
