import type pg from 'pg';
import { PrivacyError } from './errors.js';

const IDENT = /^[a-z_][a-z0-9_]{0,62}$/;

/** Validates a schema name and returns it double-quoted, ready to splice into SQL. */
export function quoteSchema(schema: string): string {
  if (!IDENT.test(schema))
    throw new PrivacyError(
      'PRIVACY_INVALID_SCHEMA_NAME',
      `schema name "${schema.slice(0, 70)}" must match ${IDENT.source}`,
    );
  return `"${schema}"`;
}

interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: (s: string) => string;
}

/**
 * The key store's schema, in order. Never edit a released migration: add the next one. `s` is the quoted schema
 * name. No column ever holds personal data in clear: data keys are wrapped (AES-256-GCM), e-mails are HMACs,
 * the audit keeps counts and who asked.
 */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'chat keys (with tombstones), chat-customer index, erasure audit',
    sql: (s) => `
      create table ${s}.chat_keys (
        tenant_id           text not null,
        chat_id             text not null,
        key_version         int not null default 1 check (key_version >= 1),
        kek_id              text,
        wrapped_key         bytea,
        created_at          timestamptz not null default now(),
        rewrapped_at        timestamptz,
        erased_at           timestamptz,
        erasure_request_id  text,
        primary key (tenant_id, chat_id),
        -- live: a wrapped key and its KEK id; erased (a tombstone): neither, ever again
        constraint chat_keys_live_or_erased check (
          (erased_at is null and kek_id is not null and wrapped_key is not null)
          or (erased_at is not null and kek_id is null and wrapped_key is null))
      );
      create index chat_keys_kek_idx on ${s}.chat_keys (kek_id) where erased_at is null;

      create table ${s}.chat_customers (
        tenant_id      text not null,
        subject_kind   text not null check (subject_kind in ('customer_id', 'email_hmac')),
        subject        text not null,
        chat_id        text not null,
        first_seen_at  timestamptz not null default now(),
        primary key (tenant_id, subject_kind, subject, chat_id)
      );
      create index chat_customers_chat_idx on ${s}.chat_customers (tenant_id, chat_id);

      create table ${s}.erasure_audit (
        request_id              text primary key,
        tenant_id               text not null,
        actor                   text not null,
        subject_kind            text not null check (subject_kind in ('customer_id', 'email', 'chats', 'retention')),
        requested_at            timestamptz not null default now(),
        chats                   int not null,
        keys_erased             int not null,
        tombstones_created      int not null,
        customer_links_deleted  int not null
      );
      create index erasure_audit_tenant_idx on ${s}.erasure_audit (tenant_id, requested_at);
    `,
  },
  {
    version: 2,
    name: 'retention (last activity per key, per-tenant days) and the post-erasure sweep of projections',
    // last_seen_at: retention counts from a chat's last activity, not its first sight; rows that exist get their
    // creation time. swept_at / projection_counts: projections are erased twice, right away and once every
    // process's cached key has expired (PRIVACY_KEY_CACHE_TTL_MS), and the audit keeps their counts.
    sql: (s) => `
      alter table ${s}.chat_keys add column last_seen_at timestamptz;
      update ${s}.chat_keys set last_seen_at = created_at;
      alter table ${s}.chat_keys alter column last_seen_at set not null, alter column last_seen_at set default now();
      create index chat_keys_retention_idx on ${s}.chat_keys (tenant_id, last_seen_at) where erased_at is null;

      create table ${s}.tenant_retention (
        tenant_id   text primary key,
        days        int not null check (days between 1 and 36500),
        updated_at  timestamptz not null default now()
      );

      alter table ${s}.erasure_audit add column swept_at timestamptz;
      alter table ${s}.erasure_audit add column projection_counts jsonb not null default '{}'::jsonb;
      create index erasure_audit_unswept_idx on ${s}.erasure_audit (requested_at) where swept_at is null;
    `,
  },
];

/**
 * Brings the schema up to date under an advisory lock, so concurrent starters (ingest, normalizer, consumers,
 * tests) apply each migration once. Returns the versions applied now.
 */
export async function migratePrivacy(
  pool: pg.Pool,
  options: { schema?: string; toVersion?: number } = {},
): Promise<number[]> {
  const schemaName = options.schema ?? 'privacy';
  const s = quoteSchema(schemaName);
  const lock = `privacy:${schemaName}`;
  const applied: number[] = [];
  const client = await pool.connect();
  // pg-pool drops its 'error' listener while a client is checked out: a connection lost between these queries
  // would emit 'error' unheard and crash the process. The next query fails instead.
  let lost: Error | undefined;
  const onError = (error: Error): void => {
    lost ??= error;
  };
  client.on('error', onError);
  try {
    await client.query('select pg_advisory_lock(hashtext($1))', [lock]);
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
          throw new PrivacyError(
            'PRIVACY_MIGRATION_FAILED',
            `migration ${m.version} (${m.name}) failed: ${(err as Error).message}`,
            { cause: err },
          );
        }
      }
    } finally {
      await client.query('select pg_advisory_unlock(hashtext($1))', [lock]);
    }
  } finally {
    client.off('error', onError);
    client.release(lost);
  }
  return applied;
}
