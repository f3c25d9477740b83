import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

/**
 * The dashboard's session cookie: a sealed (AES-256-GCM) record. The server keeps no table of sessions, only of
 * the ended ones (signed out, or a tenant's sessions revoked): see store.ts.
 */
export const SESSION_COOKIE = 'lcp_dashboard';

export interface DashboardSession {
  /** Random id: names the session for sign-out. */
  readonly id: string;
  readonly tenant: string;
  /** The API key the session was opened with ('' for a link from the LiveChat app): revoking it ends the session. */
  readonly keyId: string;
  /** Epoch milliseconds: a tenant's sessions issued before its revocation are refused. */
  readonly issuedAtMs: number;
  /** Epoch seconds. */
  readonly expiresAt: number;
}

/**
 * Seals and opens session cookies. Whether an opened session was since signed out or revoked is the store's
 * (Postgres, shared by every api process), not the sealer's.
 */
export class SessionSealer {
  private readonly key: Buffer;

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
      issuedAtMs: nowMs,
      expiresAt: Math.floor(nowMs / 1000) + ttlSeconds,
    };
  }

  seal(session: DashboardSession): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const body = Buffer.concat([
      cipher.update(
        JSON.stringify({
          v: 2,
          i: session.id,
          t: session.tenant,
          k: session.keyId,
          a: session.issuedAtMs,
          e: session.expiresAt,
        }),
        'utf8',
      ),
      cipher.final(),
    ]);
    return Buffer.concat([iv, body, cipher.getAuthTag()]).toString('base64url');
  }

  /** The session of a cookie value, or null: forged, damaged or expired (never throws). */
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
    const r = record as { v?: unknown; i?: unknown; t?: unknown; k?: unknown; a?: unknown; e?: unknown };
    if (r.v !== 2 || typeof r.i !== 'string' || typeof r.t !== 'string' || typeof r.k !== 'string')
      return null;
    if (typeof r.a !== 'number' || typeof r.e !== 'number' || r.e * 1000 <= nowMs) return null;
    return { id: r.i, tenant: r.t, keyId: r.k, issuedAtMs: r.a, expiresAt: r.e };
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
