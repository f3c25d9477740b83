import type pg from 'pg';
import { DASHBOARD_MIGRATIONS } from './dashboard/migrations.js';
import { ApiError } from './errors.js';

interface Migration {
  readonly version: number;
  readonly name: string;
  /** `s` is the quoted schema name. */
  readonly sql: (s: string) => string;
}

/**
 * The api's own schema, in order. Never edit a released migration: add the next one. A key is stored only as the
 * SHA-256 digest of its secret part; the id part is public (it names the key in `list` and `revoke`).
 */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'api keys',
    sql: (s) => `
      create table ${s}.api_keys (
        id            text primary key check (id ~ '^[0-9a-f]{16}$'),
        tenant        text not null check (tenant <> ''),
        name          text not null default '',
        secret_sha256 bytea not null check (octet_length(secret_sha256) = 32),
        admin         boolean not null default false,
        created_at    timestamptz not null default now(),
        revoked_at    timestamptz
      );
      create index api_keys_tenant_idx on ${s}.api_keys (tenant, created_at);
    `,
  },
  // the dashboard's own tables (versions 101+, see dashboard/migrations.ts)
  ...DASHBOARD_MIGRATIONS,
];

export const quoteIdent = (name: string): string => `"${name.replaceAll('"', '""')}"`;

/**
 * Creates the schema and applies the missing migrations, each in a transaction, under an advisory lock so that
 * instances starting together queue instead of racing.
 */
export async function migrateApiSchema(pool: pg.Pool, schema: string): Promise<void> {
  const s = quoteIdent(schema);
  const client = await pool.connect();
  try {
    await client.query('select pg_advisory_lock(hashtext($1))', [`livechat-api-migrations:${schema}`]);
    try {
      await client.query(`create schema if not exists ${s}`);
      await client.query(
        `create table if not exists ${s}._migrations (version int primary key, name text not null,
           applied_at timestamptz not null default now())`,
      );
      const { rows } = await client.query<{ version: number }>(`select version from ${s}._migrations`);
      const applied = new Set(rows.map((r) => r.version));
      for (const m of MIGRATIONS) {
        if (applied.has(m.version)) continue;
        await client.query('begin');
        try {
          await client.query(m.sql(s));
          await client.query(`insert into ${s}._migrations (version, name) values ($1, $2)`, [
            m.version,
            m.name,
          ]);
          await client.query('commit');
        } catch (error) {
          await client.query('rollback').catch(() => undefined);
          throw error;
        }
      }
    } finally {
      await client.query('select pg_advisory_unlock(hashtext($1))', [`livechat-api-migrations:${schema}`]);
    }
  } catch (error) {
    throw new ApiError(
      'API_MIGRATION_FAILED',
      `migrating schema ${schema} failed: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
  } finally {
    client.release();
  }
}
