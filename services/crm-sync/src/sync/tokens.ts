import { createHash } from 'node:crypto';
import { CrmSyncError } from '../errors.js';

/** A tenant's HubSpot credentials: the token, and the account it stands for (a hash, safe to store and log). */
export interface HubSpotCredentials {
  readonly token: string;
  readonly account: string;
}

/** Where a tenant's HubSpot token comes from; null = none configured (the tenant's work waits). */
export interface TokenSource {
  tokenFor(tenant: string): Promise<HubSpotCredentials | null>;
  /** Where the connection's state is shown besides crm.connections (the app's settings page). */
  reportState?(
    tenants: readonly string[],
    status: 'ok' | 'broken' | 'paused',
    code: string | null,
  ): Promise<void>;
}

/**
 * The account a token stands for: tokens are HubSpot's only account identity the worker has before a call, and
 * two tenants with the same token share one portal's limits. A hash prefix, never the token.
 */
export function accountOf(token: string): string {
  return `hs-${createHash('sha256').update(token).digest('hex').slice(0, 16)}`;
}

/** HUBSPOT_ACCESS_TOKEN: one token for every tenant (a single-tenant deployment). */
export function staticTokenSource(token: string | null): TokenSource {
  const credentials = token === null ? null : { token, account: accountOf(token) };
  return { tokenFor: () => Promise.resolve(credentials) };
}

/** What crm-sync needs of the tenant registry (packages/tenant-registry's `TenantRegistry`). */
export interface CrmTokenRegistry {
  crmTokenFor(tenantKey: string): Promise<{ tenantId: string; keyId: string; tokenEnc: Buffer } | null>;
  setCrmStatus(
    tenantIds: readonly string[],
    status: 'ok' | 'broken' | 'paused',
    code: string | null,
  ): Promise<void>;
}

/**
 * Per-tenant tokens from the tenant registry (set with `pnpm livechat hubspot set-token`, sealed with the app's
 * APP_TOKEN_KEYS), looked up by the tenant a chat event names and kept `cacheMs`; a tenant without one uses
 * `fallback` (HUBSPOT_ACCESS_TOKEN) when given. The connection's state goes back to the registry for the app.
 */
export function registryTokenSource(
  registry: CrmTokenRegistry,
  open: (sealed: { keyId: string; ciphertext: Buffer }, aad: string) => string,
  fallback: TokenSource,
  cacheMs = 10_000,
): TokenSource {
  type Entry = (HubSpotCredentials & { tenantId: string }) | { unreadable: true; tenantId: string } | null;
  const cache = new Map<string, { at: number; value: Entry }>();
  const lookup = async (tenant: string): Promise<Entry> => {
    const hit = cache.get(tenant);
    if (hit !== undefined && Date.now() - hit.at < cacheMs) return hit.value;
    const row = await registry.crmTokenFor(tenant);
    const value: Entry =
      row === null
        ? null
        : (() => {
            try {
              const token = open({ keyId: row.keyId, ciphertext: row.tokenEnc }, `${row.tenantId}/hubspot`);
              return { token, account: accountOf(token), tenantId: row.tenantId };
            } catch {
              // A key id not in CRM_TOKEN_KEYS, a corrupt blob: this tenant's problem, not the pass's.
              return { unreadable: true as const, tenantId: row.tenantId };
            }
          })();
    if (cache.size > 10_000) cache.clear();
    cache.set(tenant, { at: Date.now(), value });
    return value;
  };
  return {
    tokenFor: async (tenant) => {
      const own = await lookup(tenant);
      if (own === null) return fallback.tokenFor(tenant);
      if ('unreadable' in own)
        throw new CrmSyncError('CRM_TOKEN_UNREADABLE', "the tenant's sealed HubSpot token cannot be opened");
      return { token: own.token, account: own.account };
    },
    reportState: async (tenants, status, code) => {
      const ids = (await Promise.all(tenants.map((t) => lookup(t)))).flatMap((c) =>
        c === null ? [] : [c.tenantId],
      );
      await registry.setCrmStatus([...new Set(ids)], status, code);
    },
  };
}
