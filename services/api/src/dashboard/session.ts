import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

/** The dashboard's session cookie: a sealed (AES-256-GCM) record, so the server keeps no session table. */
export const SESSION_COOKIE = 'lcp_dashboard';

export interface DashboardSession {
  /** Random id: names the session for sign-out. */
  readonly id: string;
  readonly tenant: string;
  /** The API key the session was opened with ('' for a link from the LiveChat app): revoking it ends the session. */
  readonly keyId: string;
  /** Epoch seconds. */
  readonly expiresAt: number;
}

/**
 * Seals and opens session cookies, and remembers signed-out sessions until they would have expired (the cookie
 * is gone from the browser that signed out, but a copy must not outlive the sign-out). The memory is bounded:
 * entries leave at their expiry, and past MAX_SIGNED_OUT the oldest leave early (their cookies still expire).
 */
export class SessionSealer {
  static readonly MAX_SIGNED_OUT = 100_000;
  private readonly key: Buffer;
  private readonly signedOut = new Map<string, number>();

  constructor(secret: string | null) {
    this.key =
      secret === null
        ? randomBytes(32)
        : createHash('sha256').update(`lcp-dashboard-session.v1\n${secret}`, 'utf8').digest();
  }

  create(tenant: string, keyId: string, ttlSeconds: number, nowMs = Date.now()): DashboardSession {
    return {
      id: randomBytes(16).toString('base64url'),
      tenant,
      keyId,
      expiresAt: Math.floor(nowMs / 1000) + ttlSeconds,
    };
  }

  seal(session: DashboardSession): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const body = Buffer.concat([
      cipher.update(
        JSON.stringify({ v: 1, i: session.id, t: session.tenant, k: session.keyId, e: session.expiresAt }),
        'utf8',
      ),
      cipher.final(),
    ]);
    return Buffer.concat([iv, body, cipher.getAuthTag()]).toString('base64url');
  }

  /** The session of a cookie value, or null: forged, damaged, expired or signed out (never throws). */
  open(value: string | undefined, nowMs = Date.now()): DashboardSession | null {
    if (value === undefined || value.length > 2048 || !/^[A-Za-z0-9_-]+$/.test(value)) return null;
    const raw = Buffer.from(value, 'base64url');
    if (raw.length < 12 + 16 + 2) return null;
    let record: unknown;
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, 12));
      decipher.setAuthTag(raw.subarray(raw.length - 16));
      const plain = Buffer.concat([decipher.update(raw.subarray(12, raw.length - 16)), decipher.final()]);
      record = JSON.parse(plain.toString('utf8'));
    } catch {
      return null;
    }
    const r = record as { v?: unknown; i?: unknown; t?: unknown; k?: unknown; e?: unknown };
    if (r.v !== 1 || typeof r.i !== 'string' || typeof r.t !== 'string' || typeof r.k !== 'string')
      return null;
    if (typeof r.e !== 'number' || r.e * 1000 <= nowMs || this.signedOut.has(r.i)) return null;
    return { id: r.i, tenant: r.t, keyId: r.k, expiresAt: r.e };
  }

  signOut(session: DashboardSession, nowMs = Date.now()): void {
    for (const [id, expiresAt] of this.signedOut) {
      if (expiresAt * 1000 > nowMs && this.signedOut.size < SessionSealer.MAX_SIGNED_OUT) break;
      this.signedOut.delete(id);
    }
    this.signedOut.set(session.id, session.expiresAt);
  }
}

/**
 * Nonces of links from the LiveChat app already used, until their expiry: a link opens one session. Bounded like
 * the signed-out sessions; a full memory refuses new links rather than forgetting a used one.
 */
export class UsedLinks {
  static readonly MAX = 100_000;
  private readonly used = new Map<string, number>();

  /** True the first time a nonce is presented before `expiresAt`; false after, or when the memory is full. */
  use(nonce: string, expiresAt: number, nowMs = Date.now()): boolean {
    for (const [n, exp] of this.used) {
      if (exp * 1000 > nowMs) break;
      this.used.delete(n);
    }
    if (this.used.has(nonce) || this.used.size >= UsedLinks.MAX) return false;
    this.used.set(nonce, expiresAt);
    return true;
  }
}

export function serializeSessionCookie(value: string, maxAgeSeconds: number, secure: boolean): string {
  const parts = [
    `${SESSION_COOKIE}=${value}`,
    'Path=/',
    `Max-Age=${maxAgeSeconds}`,
    'HttpOnly',
    'SameSite=Strict',
  ];
  if (secure) parts.push('Secure');
  return parts.join('; ');
}

/** The session cookie's value from a Cookie header (first one wins). */
export function sessionCookieOf(header: string | undefined): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === SESSION_COOKIE) return part.slice(eq + 1).trim();
  }
  return undefined;
}
