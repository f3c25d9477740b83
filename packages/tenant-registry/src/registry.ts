import type pg from 'pg';
import { RegistryError } from './errors.js';
import { DEFAULT_REGISTRY_SCHEMA, DEFAULT_RETIRING_SECONDS, quoteSchema } from './schema.js';
import type {
  RegistrationStatus,
  StoredTokens,
  Tenant,
  TenantStatus,
  WebhookDefinition,
  WebhookRegistration,
} from './types.js';

interface TenantRow {
  id: string;
  client_id: string;
  organization_id: string;
  license_id: string | null;
  status: TenantStatus;
  installed_at: Date;
  uninstalled_at: Date | null;
  last_webhook_at: Date | null;
}

interface TokensRow {
  tenant_id: string;
  account_id: string | null;
  key_id: string;
  access_token_enc: Buffer;
  refresh_token_enc: Buffer | null;
  scope: string;
  access_expires_at: Date;
  refreshed_at: Date;
}

interface RegistrationRow {
  id: string;
  owner_client_id: string;
  action: string;
  url: string;
  secret_hash: string;
  definition: WebhookDefinition;
  status: RegistrationStatus;
  created_at: Date;
  retired_at: Date | null;
  retiring_until: Date | null;
  deleted_at: Date | null;
}

const tenantOf = (r: TenantRow): Tenant => ({
  id: r.id,
  clientId: r.client_id,
  organizationId: r.organization_id,
  licenseId: r.license_id,
  status: r.status,
  installedAt: r.installed_at,
  uninstalledAt: r.uninstalled_at,
  lastWebhookAt: r.last_webhook_at,
});

const tokensOf = (r: TokensRow): StoredTokens => ({
  tenantId: r.tenant_id,
  accountId: r.account_id,
  keyId: r.key_id,
  accessTokenEnc: r.access_token_enc,
  refreshTokenEnc: r.refresh_token_enc,
  scope: r.scope,
  accessExpiresAt: r.access_expires_at,
  refreshedAt: r.refreshed_at,
});

const registrationOf = (r: RegistrationRow): WebhookRegistration => ({
  id: r.id,
  ownerClientId: r.owner_client_id,
  action: r.action,
  url: r.url,
  secretHash: r.secret_hash,
  definition: r.definition,
  status: r.status,
  createdAt: r.created_at,
  retiredAt: r.retired_at,
  retiringUntil: r.retiring_until,
  deletedAt: r.deleted_at,
});

export interface NewTokens {
  readonly accountId: string | null;
  readonly keyId: string;
  readonly accessTokenEnc: Buffer;
  readonly refreshTokenEnc: Buffer | null;
  readonly scope: string;
  readonly accessExpiresAt: Date;
}

export interface NewRegistration {
  readonly id: string;
  readonly ownerClientId: string;
  readonly action: string;
  readonly url: string;
  readonly secretHash: string;
  readonly definition: WebhookDefinition;
}

/**
 * Data access to the registry's tables. Holds no secret in clear: callers pass ciphertext and digests. Every
 * method is one statement (or one transaction), so it can be used from the app, the CLI and tests alike.
 */
export type CrmConnectionStatus = 'unknown' | 'ok' | 'broken' | 'paused';

/** A tenant's CRM connection as crm-sync last saw it (the token itself is never read here). */
export interface CrmConnection {
  readonly status: CrmConnectionStatus;
  readonly code: string | null;
  readonly since: Date;
}

export class TenantRegistry {
  private readonly s: string;

  constructor(
    private readonly pool: pg.Pool,
    options: { schema?: string } = {},
  ) {
    this.s = quoteSchema(options.schema ?? DEFAULT_REGISTRY_SCHEMA);
  }

  private async q<R extends pg.QueryResultRow>(
    text: string,
    values: unknown[] = [],
  ): Promise<pg.QueryResult<R>> {
    try {
      return await this.pool.query<R>(text, values);
    } catch (err) {
      throw new RegistryError('REGISTRY_UNAVAILABLE', `registry query failed: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }

  // --- tenants -------------------------------------------------------------------------------------------

  /** Records (or re-activates) an installation. A license id given later fills in a missing one. */
  async recordInstall(input: {
    clientId: string;
    organizationId: string;
    licenseId?: string | null;
  }): Promise<Tenant> {
    const r = await this.q<TenantRow>(
      `insert into ${this.s}.tenants (client_id, organization_id, license_id, status)
       values ($1, $2, $3, 'active')
       on conflict (client_id, organization_id) do update set
         status = 'active',
         license_id = coalesce(excluded.license_id, ${this.s}.tenants.license_id),
         installed_at = case when ${this.s}.tenants.status = 'inactive' then now() else ${this.s}.tenants.installed_at end,
         uninstalled_at = null,
         updated_at = now()
       returning *`,
      [input.clientId, input.organizationId, input.licenseId ?? null],
    );
    return tenantOf(r.rows[0]!);
  }

  /** Marks a tenant inactive and drops its browser sessions. Returns it, or null when unknown. */
  async markUninstalled(input: {
    clientId: string;
    organizationId?: string | null;
    licenseId?: string | null;
  }): Promise<Tenant | null> {
    const r = await this.q<TenantRow>(
      `update ${this.s}.tenants set status = 'inactive', uninstalled_at = now(), updated_at = now()
       where client_id = $1 and (organization_id = $2 or ($2::text is null and license_id = $3))
       returning *`,
      [input.clientId, input.organizationId ?? null, input.licenseId ?? null],
    );
    const row = r.rows[0];
    if (row === undefined) return null;
    await this.q(`delete from ${this.s}.sessions where tenant_id = $1`, [row.id]);
    await this.q(`delete from ${this.s}.session_handoffs where tenant_id = $1`, [row.id]);
    return tenantOf(row);
  }

  async getTenant(id: string): Promise<Tenant | null> {
    const r = await this.q<TenantRow>(`select * from ${this.s}.tenants where id = $1`, [id]);
    return r.rows[0] === undefined ? null : tenantOf(r.rows[0]);
  }

  async findTenant(clientId: string, organizationId: string): Promise<Tenant | null> {
    const r = await this.q<TenantRow>(
      `select * from ${this.s}.tenants where client_id = $1 and organization_id = $2`,
      [clientId, organizationId],
    );
    return r.rows[0] === undefined ? null : tenantOf(r.rows[0]);
  }

  async listTenants(clientId: string): Promise<Tenant[]> {
    const r = await this.q<TenantRow>(
      `select * from ${this.s}.tenants where client_id = $1 order by installed_at`,
      [clientId],
    );
    return r.rows.map(tenantOf);
  }

  /** Moves last_webhook_at forward (never back) for the tenants known by these organization or license ids. */
  async touchLastWebhook(tenantKeys: readonly string[], at: Date): Promise<void> {
    if (tenantKeys.length === 0) return;
    await this.q(
      `update ${this.s}.tenants set last_webhook_at = greatest(coalesce(last_webhook_at, $2), $2)
       where status = 'active' and (organization_id = any($1) or license_id = any($1))`,
      [tenantKeys, at],
    );
  }

  // --- CRM connections (HubSpot) ------------------------------------------------------------------------

  /** Stores a tenant's HubSpot token (ciphertext, sealed by the caller); its state starts again as unknown. */
  async saveCrmToken(tenantId: string, token: { keyId: string; tokenEnc: Buffer }): Promise<void> {
    await this.q(
      `insert into ${this.s}.crm_connections (tenant_id, key_id, token_enc) values ($1, $2, $3)
       on conflict (tenant_id) do update set key_id = excluded.key_id, token_enc = excluded.token_enc,
         status = 'unknown', status_code = null, status_since = now(), updated_at = now()`,
      [tenantId, token.keyId, token.tokenEnc],
    );
  }

  /**
   * The sealed HubSpot token of the active tenant a chat event names (organization id, or v2 licence id); the
   * most recently set when several installations name it. Null when none is set.
   */
  async crmTokenFor(
    tenantKey: string,
  ): Promise<{ tenantId: string; keyId: string; tokenEnc: Buffer } | null> {
    const r = await this.q<{ tenant_id: string; key_id: string; token_enc: Buffer }>(
      `select c.tenant_id, c.key_id, c.token_enc from ${this.s}.crm_connections c
       join ${this.s}.tenants t on t.id = c.tenant_id
       where t.status = 'active' and (t.organization_id = $1 or t.license_id = $1)
       order by c.updated_at desc limit 1`,
      [tenantKey],
    );
    const row = r.rows[0];
    return row === undefined ? null : { tenantId: row.tenant_id, keyId: row.key_id, tokenEnc: row.token_enc };
  }

  /** crm-sync's view of the connection (`ok`, `broken` after a 401/403, `paused` by HubSpot's daily limit). */
  async setCrmStatus(
    tenantIds: readonly string[],
    status: CrmConnectionStatus,
    code: string | null,
  ): Promise<void> {
    if (tenantIds.length === 0) return;
    await this.q(
      `update ${this.s}.crm_connections set status = $2, status_code = $3, updated_at = now(),
         status_since = case when status = $2 then status_since else now() end
       where tenant_id = any($1::uuid[])`,
      [tenantIds, status, code],
    );
  }

  async getCrmConnection(tenantId: string): Promise<CrmConnection | null> {
    const r = await this.q<{ status: CrmConnectionStatus; status_code: string | null; status_since: Date }>(
      `select status, status_code, status_since from ${this.s}.crm_connections where tenant_id = $1`,
      [tenantId],
    );
    const row = r.rows[0];
    return row === undefined ? null : { status: row.status, code: row.status_code, since: row.status_since };
  }

  // --- tokens --------------------------------------------------------------------------------------------

  async saveTokens(tenantId: string, t: NewTokens): Promise<void> {
    await this.q(
      `insert into ${this.s}.tokens (tenant_id, account_id, key_id, access_token_enc, refresh_token_enc, scope, access_expires_at)
       values ($1, $2, $3, $4, $5, $6, $7)
       on conflict (tenant_id) do update set account_id = excluded.account_id, key_id = excluded.key_id,
         access_token_enc = excluded.access_token_enc, refresh_token_enc = excluded.refresh_token_enc,
         scope = excluded.scope, access_expires_at = excluded.access_expires_at, refreshed_at = now()`,
      [tenantId, t.accountId, t.keyId, t.accessTokenEnc, t.refreshTokenEnc, t.scope, t.accessExpiresAt],
    );
  }

  async getTokens(tenantId: string): Promise<StoredTokens | null> {
    const r = await this.q<TokensRow>(`select * from ${this.s}.tokens where tenant_id = $1`, [tenantId]);
    return r.rows[0] === undefined ? null : tokensOf(r.rows[0]);
  }

  async deleteTokens(tenantId: string): Promise<void> {
    await this.q(`delete from ${this.s}.tokens where tenant_id = $1`, [tenantId]);
  }

  /** Tokens of active tenants whose access token expires before `before`, soonest first. */
  async tokensExpiringBefore(before: Date, limit = 100): Promise<StoredTokens[]> {
    const r = await this.q<TokensRow>(
      `select k.* from ${this.s}.tokens k join ${this.s}.tenants t on t.id = k.tenant_id
       where t.status = 'active' and k.access_expires_at < $1 order by k.access_expires_at limit $2`,
      [before, limit],
    );
    return r.rows.map(tokensOf);
  }

  /** Any active tenant with tokens, the most recently refreshed first: for client-wide calls (webhook sync). */
  async anyActiveTenantWithTokens(clientId: string): Promise<Tenant | null> {
    const r = await this.q<TenantRow>(
      `select t.* from ${this.s}.tenants t join ${this.s}.tokens k on k.tenant_id = t.id
       where t.client_id = $1 and t.status = 'active' order by k.refreshed_at desc limit 1`,
      [clientId],
    );
    return r.rows[0] === undefined ? null : tenantOf(r.rows[0]);
  }

  // --- webhook registrations -----------------------------------------------------------------------------

  async addRegistration(reg: NewRegistration): Promise<WebhookRegistration> {
    const r = await this.q<RegistrationRow>(
      `insert into ${this.s}.webhook_registrations (id, owner_client_id, action, url, secret_hash, definition, status)
       values ($1, $2, $3, $4, $5, $6, 'active')
       on conflict (id) do update set status = 'active', secret_hash = excluded.secret_hash, deleted_at = null
       returning *`,
      [reg.id, reg.ownerClientId, reg.action, reg.url, reg.secretHash, JSON.stringify(reg.definition)],
    );
    return registrationOf(r.rows[0]!);
  }

  /**
   * Moves a registration to `status`. Becoming "retiring" starts its expiry: it stays accepted for
   * `retiringForMs` (default DEFAULT_RETIRING_SECONDS) from now, then the verifier refuses it even if nobody
   * ever marks it deleted. Calling "retiring" again on a retiring registration keeps the earlier expiry.
   */
  async setRegistrationStatus(
    id: string,
    status: RegistrationStatus,
    options: { retiringForMs?: number } = {},
  ): Promise<void> {
    const forMs = Math.max(0, Math.round(options.retiringForMs ?? DEFAULT_RETIRING_SECONDS * 1000));
    await this.q(
      `update ${this.s}.webhook_registrations set status = $2,
         retired_at = case when $2 = 'retiring' then coalesce(retired_at, now()) else retired_at end,
         retiring_until = case when $2 = 'retiring'
           then case when status = 'retiring' then retiring_until else now() + make_interval(secs => $3::float8 / 1000) end
           else null end,
         deleted_at = case when $2 = 'deleted' then now() else null end
       where id = $1`,
      [id, status, forMs],
    );
  }

  /** Registrations not deleted, oldest first. */
  async liveRegistrations(ownerClientId: string): Promise<WebhookRegistration[]> {
    const r = await this.q<RegistrationRow>(
      `select * from ${this.s}.webhook_registrations where owner_client_id = $1 and status <> 'deleted' order by created_at, id`,
      [ownerClientId],
    );
    return r.rows.map(registrationOf);
  }

  async getRegistration(id: string): Promise<WebhookRegistration | null> {
    const r = await this.q<RegistrationRow>(`select * from ${this.s}.webhook_registrations where id = $1`, [
      id,
    ]);
    return r.rows[0] === undefined ? null : registrationOf(r.rows[0]);
  }

  // --- browser sessions ----------------------------------------------------------------------------------

  async createSession(idHash: string, tenantId: string, expiresAt: Date): Promise<void> {
    await this.q(`insert into ${this.s}.sessions (id_hash, tenant_id, expires_at) values ($1, $2, $3)`, [
      idHash,
      tenantId,
      expiresAt,
    ]);
  }

  /** The tenant of an unexpired session, or null. */
  async tenantOfSession(idHash: string): Promise<Tenant | null> {
    const r = await this.q<TenantRow>(
      `select t.* from ${this.s}.sessions s join ${this.s}.tenants t on t.id = s.tenant_id where s.id_hash = $1 and s.expires_at > now()`,
      [idHash],
    );
    return r.rows[0] === undefined ? null : tenantOf(r.rows[0]);
  }

  /** Records a one-time hand-off code (its digest) for a tenant; expired ones are swept on the way. */
  async createHandoff(codeHash: string, tenantId: string, expiresAt: Date): Promise<void> {
    await this.q(`delete from ${this.s}.session_handoffs where expires_at < now()`);
    await this.q(
      `insert into ${this.s}.session_handoffs (code_hash, tenant_id, expires_at) values ($1, $2, $3)`,
      [codeHash, tenantId, expiresAt],
    );
  }

  /** Uses up a hand-off code: its tenant when it exists and has not expired (once only), else null. */
  async consumeHandoff(codeHash: string): Promise<Tenant | null> {
    const r = await this.q<TenantRow>(
      `with used as (delete from ${this.s}.session_handoffs where code_hash = $1 returning tenant_id, expires_at)
       select t.* from used join ${this.s}.tenants t on t.id = used.tenant_id where used.expires_at > now()`,
      [codeHash],
    );
    return r.rows[0] === undefined ? null : tenantOf(r.rows[0]);
  }

  async deleteSession(idHash: string): Promise<void> {
    await this.q(`delete from ${this.s}.sessions where id_hash = $1`, [idHash]);
  }
}
