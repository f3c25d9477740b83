import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * The sign-in link the LiveChat app hands to a person on its settings page: it names the app's tenant and is
 * signed with a secret the app and the api share (`DASHBOARD_LINK_SECRET`). The api accepts it once (the nonce)
 * before it expires and starts a dashboard session for that tenant. Both sides import this one format.
 */
export const LINK_PATH = '/dashboard/link';
export const LINK_TTL_SECONDS = 300;
export const MIN_LINK_SECRET_LENGTH = 32;

const signature = (secret: string, tenant: string, exp: number, nonce: string) =>
  createHmac('sha256', secret).update(`lcp-dashboard-link.v1\n${tenant}\n${exp}\n${nonce}`, 'utf8').digest();

export interface MintedLinkParams {
  readonly tenant: string;
  readonly exp: number;
  readonly nonce: string;
  readonly sig: string;
}

export function mintDashboardLink(
  baseUrl: string,
  secret: string,
  tenant: string,
  nowMs: number = Date.now(),
): string {
  const exp = Math.floor(nowMs / 1000) + LINK_TTL_SECONDS;
  const nonce = randomBytes(16).toString('base64url');
  const sig = signature(secret, tenant, exp, nonce).toString('base64url');
  const url = new URL(LINK_PATH, baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`);
  url.search = new URLSearchParams({ tenant, exp: String(exp), nonce, sig }).toString();
  return url.toString();
}

export type LinkCheck =
  | { readonly ok: true; readonly tenant: string; readonly nonce: string; readonly exp: number }
  | { readonly ok: false; readonly code: 'DASHBOARD_LINK_INVALID' | 'DASHBOARD_LINK_EXPIRED' };

/** Checks a link's query (signature in constant time, then expiry); says nothing about which part was wrong. */
export function verifyDashboardLink(
  secret: string,
  query: Readonly<Record<string, unknown>>,
  nowMs: number = Date.now(),
): LinkCheck {
  const { tenant, exp, nonce, sig } = query;
  if (
    typeof tenant !== 'string' ||
    tenant.length === 0 ||
    tenant.length > 200 ||
    typeof exp !== 'string' ||
    !/^\d{1,12}$/.test(exp) ||
    typeof nonce !== 'string' ||
    !/^[A-Za-z0-9_-]{22}$/.test(nonce) ||
    typeof sig !== 'string' ||
    !/^[A-Za-z0-9_-]{43}$/.test(sig)
  ) {
    return { ok: false, code: 'DASHBOARD_LINK_INVALID' };
  }
  const expected = signature(secret, tenant, Number(exp), nonce);
  const given = Buffer.from(sig, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    return { ok: false, code: 'DASHBOARD_LINK_INVALID' };
  }
  if (Number(exp) * 1000 <= nowMs) return { ok: false, code: 'DASHBOARD_LINK_EXPIRED' };
  return { ok: true, tenant, nonce, exp: Number(exp) };
}
