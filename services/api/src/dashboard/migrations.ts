/**
 * The dashboard's tables in the api's schema, applied by the api's migrations (services/api/src/migrations.ts
 * appends them). Versions 101+ so the api's own numbering (1, 2, …) never meets them. Never edit a released one.
 */
export const DASHBOARD_MIGRATIONS: readonly {
  readonly version: number;
  readonly name: string;
  readonly sql: (s: string) => string;
}[] = [
  {
    version: 101,
    name: 'dashboard: used links, signed-out sessions, revoked tenants',
    sql: (s) => `
      -- a link from the LiveChat app opens one session, whichever api process it reaches
      create table ${s}.dashboard_used_links (
        nonce      text primary key,
        expires_at timestamptz not null
      );
      create index dashboard_used_links_expiry_idx on ${s}.dashboard_used_links (expires_at);
      -- a signed-out cookie's copy is refused by every process until it would have expired
      create table ${s}.dashboard_signed_out (
        session_id text primary key,
        expires_at timestamptz not null
      );
      create index dashboard_signed_out_expiry_idx on ${s}.dashboard_signed_out (expires_at);
      -- pnpm api-keys revoke-sessions --tenant: the tenant's sessions issued before this instant end
      create table ${s}.dashboard_tenant_revocations (
        tenant       text primary key,
        revoked_at   timestamptz not null
      );
    `,
  },
];
