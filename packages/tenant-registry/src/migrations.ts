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
  {
    version: 3,
    name: 'tenants by organization id (the ingest looks a tenant up on a miss)',
    sql: (s) => `create index tenants_organization_idx on ${s}.tenants (organization_id);`,
  },
  {
    version: 4,
    name: 'session hand-offs (the settings page inside the iframe gets its own session)',
    // A one-time, short-lived code (SHA-256 only) that a top-level sign-in hands to the app's iframe, which
    // trades it for a session cookie of its own partition.
    sql: (s) => `
      create table ${s}.session_handoffs (
        code_hash   text primary key check (code_hash ~ '^[0-9a-f]{64}$'),
        tenant_id   uuid not null references ${s}.tenants (id) on delete cascade,
        expires_at  timestamptz not null
      );
    `,
  },
  {
    version: 5,
    name: "CRM connections (a tenant's HubSpot token, sealed, and the connection's state as crm-sync last saw it)",
    sql: (s) => `
      create table ${s}.crm_connections (
        tenant_id     uuid primary key references ${s}.tenants (id) on delete cascade,
        key_id        text not null,
        token_enc     bytea not null,
        status        text not null default 'unknown' check (status in ('unknown', 'ok', 'broken', 'paused')),
        status_code   text,
        status_since  timestamptz not null default now(),
        updated_at    timestamptz not null default now()
      );
    `,
  },
];

/**
 * What the ingest's role may do, and nothing more: read the columns its verifier reads and write
 * `tenants.last_webhook_at`. No INSERT or DELETE anywhere, no access to tokens or sessions, no CREATE in the
 * schema. Applied (revoke everything, then grant exactly this) after every migration run, limited to the
 * columns that exist at that version, so a migration that adds or recreates a table never widens or loses it.
 */
export const INGEST_GRANTS = {
  select: {
    tenants: ['client_id', 'organization_id', 'license_id', 'status', 'last_webhook_at'],
    webhook_registrations: ['owner_client_id', 'secret_hash', 'status', 'retiring_until'],
  },
  update: { tenants: ['last_webhook_at'] },
} as const;

const ROLE = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * Brings the schema up to date, under an advisory lock so concurrent starters (app, ingest, tests) apply each
 * migration once. Returns the versions applied now.
 */
export async function migrateRegistry(
  pool: pg.Pool,
  options: {
    schema?: string;
    /**
     * The ingest's Postgres role: given, it gets exactly INGEST_GRANTS after the migrations (a role that does
     * not exist is skipped; see `ingestRoleMissing` in `migrateRegistryWithGrants`).
     */
    ingestRole?: string;
    /** Stop after this version (tests of upgrades); default: all. */
    toVersion?: number;
  } = {},
): Promise<number[]> {
  return (await migrateRegistryWithGrants(pool, options)).applied;
}

export interface MigrationOutcome {
  /** Versions applied now. */
  readonly applied: number[];
  /** The ingest role was named but does not exist: no grants were made (create it, then migrate again). */
  readonly ingestRoleMissing: boolean;
}

/** `migrateRegistry`, telling also whether the ingest's grants could be applied. */
export async function migrateRegistryWithGrants(
  pool: pg.Pool,
  options: { schema?: string; ingestRole?: string; toVersion?: number } = {},
): Promise<MigrationOutcome> {
  const schemaName = options.schema ?? DEFAULT_REGISTRY_SCHEMA;
  const s = quoteSchema(schemaName);
  const role = options.ingestRole === undefined || options.ingestRole === '' ? undefined : options.ingestRole;
  if (role !== undefined && !ROLE.test(role))
    throw new RegistryError(
      'REGISTRY_INVALID_ROLE_NAME',
      `ingest role "${role.slice(0, 70)}" must match ${ROLE.source}`,
    );
  let ingestRoleMissing = false;
  const client = await pool.connect();
  const applied: number[] = [];
  // pg-pool drops its 'error' listener while a client is checked out: a connection dropped between these
  // queries would emit 'error' unheard and crash the process. The next query fails instead.
  let lost: Error | undefined;
  const onError = (error: Error): void => {
    lost ??= error;
  };
  client.on('error', onError);
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
        if (have.has(m.version) || m.version > (options.toVersion ?? Infinity)) continue;
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
      if (role !== undefined) ingestRoleMissing = !(await grantIngest(client, schemaName, s, role));
    } finally {
      await client.query('select pg_advisory_unlock(hashtext($1))', [`tenant-registry:${schemaName}`]);
    }
  } finally {
    client.off('error', onError);
    client.release(lost);
  }
  return { applied, ingestRoleMissing };
}

/** Revokes everything from `role` in the schema, then grants INGEST_GRANTS (existing columns). False: no role. */
async function grantIngest(
  client: pg.PoolClient,
  schemaName: string,
  s: string,
  role: string,
): Promise<boolean> {
  const exists = await client.query('select 1 from pg_roles where rolname = $1', [role]);
  if (exists.rowCount === 0) return false;
  const r = `"${role}"`;
  const cols = await client.query<{ table_name: string; column_name: string }>(
    'select table_name, column_name from information_schema.columns where table_schema = $1',
    [schemaName],
  );
  const existing = (table: string, wanted: readonly string[]) =>
    wanted.filter((c) => cols.rows.some((x) => x.table_name === table && x.column_name === c));
  const statements = [
    `revoke all on all tables in schema ${s} from ${r}`,
    `revoke all on all sequences in schema ${s} from ${r}`,
    `revoke all on all functions in schema ${s} from ${r}`,
    `revoke all on schema ${s} from ${r}`,
    `grant usage on schema ${s} to ${r}`,
  ];
  for (const [kind, tables] of Object.entries(INGEST_GRANTS) as Array<
    [string, Record<string, readonly string[]>]
  >) {
    for (const [table, wanted] of Object.entries(tables)) {
      const have = existing(table, wanted);
      if (have.length > 0)
        statements.push(`grant ${kind} (${have.map((c) => `"${c}"`).join(', ')}) on ${s}."${table}" to ${r}`);
    }
  }
  try {
    await client.query('begin');
    for (const sql of statements) await client.query(sql);
    await client.query('commit');
  } catch (err) {
    await client.query('rollback').catch(() => undefined);
    throw new RegistryError(
      'REGISTRY_MIGRATION_FAILED',
      `granting the ingest role ${role} failed: ${(err as Error).message}`,
      { cause: err },
    );
  }
  return true;
}
