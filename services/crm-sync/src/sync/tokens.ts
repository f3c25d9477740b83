import { createHash } from 'node:crypto';

/** A tenant's HubSpot credentials: the token, and the account it stands for (a hash, safe to store and log). */
export interface HubSpotCredentials {
  readonly token: string;
  readonly account: string;
}

/** Where a tenant's HubSpot token comes from; null = none configured (the tenant's work waits). */
export interface TokenSource {
  tokenFor(tenant: string): Promise<HubSpotCredentials | null>;
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
