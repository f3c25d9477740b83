/** Parses a Cookie header into a map (first value wins). */
export function parseCookies(header: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const name = part.slice(0, eq).trim();
    if (!out.has(name)) out.set(name, part.slice(eq + 1).trim());
  }
  return out;
}

export interface CookieOptions {
  readonly path: string;
  readonly maxAgeSeconds: number;
  /** Secure cookies are SameSite=None; Partitioned (they must work inside LiveChat's iframe); others Lax. */
  readonly secure: boolean;
}

export function serializeCookie(name: string, value: string, o: CookieOptions): string {
  const parts = [`${name}=${value}`, `Path=${o.path}`, `Max-Age=${o.maxAgeSeconds}`, 'HttpOnly'];
  if (o.secure) parts.push('Secure', 'SameSite=None', 'Partitioned');
  else parts.push('SameSite=Lax');
  return parts.join('; ');
}
