import type pg from 'pg';
import { RegistryError } from './errors.js';
import { DEFAULT_REGISTRY_SCHEMA, DEFAULT_RETIRING_SECONDS, quoteSchema } from './schema.js';

interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: (s: string) => string;
}

/**
 * The registry's schema, in order. Never edit a released migration: add the next one. `s` is the quoted
 * schema name. Secrets never get a column: tokens are AES-256-GCM ciphertext (bytea) with the key id next to
 * them, webhook secrets and session ids are SHA-256 digests.
 */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'tenants, tokens, webhook registrations, sessions',
    sql: (s) => `
      create table ${s}.tenants (
        id               uuid primary key default gen_random_uuid(),
        client_id        text not null,
        organization_id  text not null,
        license_id       text,
        status           text not null check (status in ('active', 'inactive')),
        installed_at     timestamptz not null default now(),
        uninstalled_at   timestamptz,
        updated_at       timestamptz not null default now(),
        last_webhook_at  timestamptz,
        unique (client_id, organization_id)
      );
      create index tenants_license_idx on ${s}.tenants (license_id) where license_id is not null;

      create table ${s}.tokens (
        tenant_id          uuid primary key references ${s}.tenants (id) on delete cascade,
        account_id         text,
        key_id             text not null,
        access_token_enc   bytea not null,
        refresh_token_enc  bytea,
        scope              text not null default '',
        access_expires_at  timestamptz not null,
        created_at         timestamptz not null default now(),
        refreshed_at       timestamptz not null default now()
      );

      create table ${s}.webhook_registrations (
        id               text primary key,
        owner_client_id  text not null,
        action           text not null,
        url              text not null,
        secret_hash      text not null check (secret_hash ~ '^[0-9a-f]{64}$'),
        definition       jsonb not null default '{}'::jsonb,
        status           text not null check (status in ('active', 'retiring', 'deleted')),
        created_at       timestamptz not null default now(),
        retired_at       timestamptz,
        deleted_at       timestamptz
      );
      create index webhook_registrations_live_idx on ${s}.webhook_registrations (owner_client_id) where status <> 'deleted';

      create table ${s}.sessions (
        id_hash     text primary key check (id_hash ~ '^[0-9a-f]{64}$'),
        tenant_id   uuid not null references ${s}.tenants (id) on delete cascade,
        created_at  timestamptz not null default now(),
        expires_at  timestamptz not null
      );
      create index sessions_tenant_idx on ${s}.sessions (tenant_id);
    `,
  },
  {
    version: 2,
    name: 'retiring registrations expire (retiring_until)',
    // A crash between "retiring" and "deleted" (a sync or rotation interrupted during its overlap) used to
    // leave the old secret accepted forever: every retiring registration now carries its expiry, which the
    // verifier checks. Rows already retiring get the default overlap from when they started retiring.
    sql: (s) => `
      alter table ${s}.webhook_registrations add column retiring_until timestamptz;
      update ${s}.webhook_registrations
         set retiring_until = coalesce(retired_at, now()) + interval '${DEFAULT_RETIRING_SECONDS} seconds'
       where status = 'retiring';
      alter table ${s}.webhook_registrations
        add constraint webhook_registrations_retiring_expires check (status <> 'retiring' or retiring_until is not null);
    `,
  },
];

/**
 * Brings the schema up to date, under an advisory lock so concurrent starters (app, ingest, tests) apply each
 * migration once. Returns the versions applied now.
 */
export async function migrateRegistry(pool: pg.Pool, options: { schema?: string } = {}): Promise<number[]> {
  const schemaName = options.schema ?? DEFAULT_REGISTRY_SCHEMA;
  const s = quoteSchema(schemaName);
  const client = await pool.connect();
  const applied: number[] = [];
  try {
    await client.query('select pg_advisory_lock(hashtext($1))', [`tenant-registry:${schemaName}`]);
    try {
      await client.query(`create schema if not exists ${s}`);
      await client.query(
        `create table if not exists ${s}.schema_migrations (version int primary key, name text not null, applied_at timestamptz not null default now())`,
      );
      const done = await client.query<{ version: number }>(`select version from ${s}.schema_migrations`);
      const have = new Set(done.rows.map((r) => r.version));
      for (const m of MIGRATIONS) {
        if (have.has(m.version)) continue;
        try {
          await client.query('begin');
          await client.query(m.sql(s));
          await client.query(`insert into ${s}.schema_migrations (version, name) values ($1, $2)`, [
            m.version,
            m.name,
          ]);
          await client.query('commit');
          applied.push(m.version);
        } catch (err) {
          await client.query('rollback').catch(() => undefined);
          throw new RegistryError(
            'REGISTRY_MIGRATION_FAILED',
            `migration ${m.version} (${m.name}) failed: ${(err as Error).message}`,
            { cause: err },
          );
        }
      }
    } finally {
      await client.query('select pg_advisory_unlock(hashtext($1))', [`tenant-registry:${schemaName}`]);
    }
  } finally {
    client.release();
  }
  return applied;
}
