import { fileURLToPath } from 'node:url';
import { runner } from 'node-pg-migrate';
import { ConsumerError } from './errors.js';

export interface MigrateOptions {
  readonly databaseUrl: string;
  readonly schema: string;
  /** The consumer's own migrations (node-pg-migrate files, e.g. `001_counts.sql`); none if undefined. */
  readonly migrationsDir?: string;
}

const RUNTIME_MIGRATIONS_DIR = fileURLToPath(new URL('./sql', import.meta.url));
const silent = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};

/**
 * Brings a consumer's schema up to date: first the runtime's bookkeeping tables, then the
 * consumer's migrations, each tracked in its own table inside the schema. node-pg-migrate holds
 * an advisory lock, and 'wait' lets members starting together queue instead of failing.
 */
export async function migrateConsumerSchema(options: MigrateOptions): Promise<void> {
  const runs: { dir: string; table: string }[] = [
    { dir: RUNTIME_MIGRATIONS_DIR, table: '_runtime_migrations' },
  ];
  if (options.migrationsDir !== undefined) runs.push({ dir: options.migrationsDir, table: '_migrations' });
  for (const run of runs) {
    try {
      await runner({
        databaseUrl: options.databaseUrl,
        dir: run.dir,
        schema: options.schema,
        createSchema: true,
        migrationsTable: run.table,
        direction: 'up',
        count: Infinity,
        singleTransaction: true,
        advisoryLockMode: 'wait',
        logger: silent,
      });
    } catch (error) {
      throw new ConsumerError(
        'CONSUMER_MIGRATION_FAILED',
        `migrations in ${run.dir} failed for schema ${options.schema}: ${error instanceof Error ? error.message : String(error)}`,
        {
          cause: error,
          details: { schema: options.schema, dir: run.dir },
        },
      );
    }
  }
}
