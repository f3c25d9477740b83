import { createHash, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { TokenCipher, deriveKeys } from '../crypto/token-cipher.js';
import type { TokenKey } from '../crypto/token-cipher.js';

export const STATE_COOKIE = 'lcp_oauth';
export const STATE_TTL_SECONDS = 600;
const AAD = 'oauth-state-cookie';
/** The HKDF info of the state cookie's keys. */
export const STATE_KEY_PURPOSE = 'oauth-state-cookie/v1';

/** The cipher of the state cookie: keys derived from APP_TOKEN_KEYS with HKDF, never the token keys. */
export function createStateCipher(tokenKeys: readonly TokenKey[]): TokenCipher {
  return new TokenCipher(deriveKeys(tokenKeys, STATE_KEY_PURPOSE));
}

const content = z.object({
  s: z.string().min(1),
  v: z.string().min(43),
  e: z.number(),
  m: z.enum(['top', 'popup']).optional(),
});

export interface OAuthBrowserState {
  readonly state: string;
  readonly verifier: string;
  readonly expiresAt: number;
  /** 'popup': started from the settings page inside LiveChat's iframe; the callback hands a session back to it. */
  readonly mode?: 'top' | 'popup';
}

/**
 * The state and PKCE verifier of one install attempt, kept in the browser as an AES-GCM sealed, HttpOnly
 * cookie: binding `state` to this browser without server storage, and keeping the verifier confidential.
 */
export function sealState(cipher: TokenCipher, s: OAuthBrowserState): string {
  const sealed = cipher.seal(
    JSON.stringify({ s: s.state, v: s.verifier, e: s.expiresAt, m: s.mode ?? 'top' }),
    AAD,
  );
  return `${sealed.keyId}.${sealed.ciphertext.toString('base64url')}`;
}

/** The sealed state, or null when absent, tampered, sealed by an unknown key, or expired. */
export function openState(
  cipher: TokenCipher,
  cookie: string | undefined,
  now = Date.now(),
): OAuthBrowserState | null {
  if (cookie === undefined) return null;
  const dot = cookie.indexOf('.');
  if (dot <= 0) return null;
  try {
    const json = cipher.open(
      { keyId: cookie.slice(0, dot), ciphertext: Buffer.from(cookie.slice(dot + 1), 'base64url') },
      AAD,
    );
    const parsed = content.safeParse(JSON.parse(json));
    if (!parsed.success || parsed.data.e < now) return null;
    return {
      state: parsed.data.s,
      verifier: parsed.data.v,
      expiresAt: parsed.data.e,
      mode: parsed.data.m ?? 'top',
    };
  } catch {
    return null;
  }
}

/** Constant-time equality of two state strings. */
export function sameState(a: string, b: string): boolean {
  const da = createHash('sha256').update(a).digest();
  const db = createHash('sha256').update(b).digest();
  return timingSafeEqual(da, db) && a.length === b.length;
}
