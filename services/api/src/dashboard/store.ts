import type pg from 'pg';
import type { DashboardSession } from './session.js';

/**
 * What ends a session before its expiry, in the api's schema so that every api process agrees: used link nonces,
 * signed-out session ids (both purged once past their expiry) and per-tenant revocations. Errors (Postgres down,
 * statement timeout) propagate: "cannot tell now" is not "signed out".
 */
export class DashboardSessionStore {
  constructor(
    private readonly pool: pg.Pool,
    /** Quoted schema name. */
    private readonly schema: string,
  ) {}

  /** True the first time a link's nonce is presented (across processes), false after. */
  async useLink(nonce: string, expiresAtSeconds: number): Promise<boolean> {
    const s = this.schema;
    await this.pool.query(`delete from ${s}.dashboard_used_links where expires_at < now()`);
    const { rowCount } = await this.pool.query(
      `insert into ${s}.dashboard_used_links (nonce, expires_at) values ($1, to_timestamp($2))
         on conflict do nothing`,
      [nonce, expiresAtSeconds],
    );
    return rowCount === 1;
  }

  async signOut(session: DashboardSession): Promise<void> {
    const s = this.schema;
    await this.pool.query(`delete from ${s}.dashboard_signed_out where expires_at < now()`);
    await this.pool.query(
      `insert into ${s}.dashboard_signed_out (session_id, expires_at) values ($1, to_timestamp($2))
         on conflict do nothing`,
      [session.id, session.expiresAt],
    );
  }

  /** Whether the session still stands: not signed out, not issued before its tenant's last revocation. */
  async stands(session: DashboardSession): Promise<boolean> {
    const s = this.schema;
    const { rows } = await this.pool.query<{ ended: boolean }>(
      `select exists (select 1 from ${s}.dashboard_signed_out where session_id = $1)
           or exists (select 1 from ${s}.dashboard_tenant_revocations
                       where tenant = $2 and revoked_at >= to_timestamp($3::double precision / 1000)) as ended`,
      [session.id, session.tenant, session.issuedAtMs],
    );
    return rows[0]?.ended === false;
  }

  /** Ends every session of the tenant opened until now (keys and links alike); new sign-ins work at once. */
  async revokeTenant(tenant: string): Promise<void> {
    await this.pool.query(
      `insert into ${this.schema}.dashboard_tenant_revocations (tenant, revoked_at) values ($1, clock_timestamp())
         on conflict (tenant) do update set revoked_at = excluded.revoked_at`,
      [tenant],
    );
  }
}
