export interface BasicAuthPair {
  readonly user: string;
  readonly password: string;
}

/**
 * Parses an `Authorization: Basic <base64(user:password)>` header. Returns undefined for a missing header and
 * null for one that is not well-formed Basic auth.
 */
export function parseBasicAuth(header: string | undefined): BasicAuthPair | null | undefined {
  if (header === undefined || header === '') return undefined;
  const match = /^Basic[ ]+([A-Za-z0-9+/=_-]+)\s*$/i.exec(header);
  if (match === null || match[1] === undefined) return null;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) return null;
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/** The string compared for a Basic pair: user and password joined so that neither can be confused. */
export function basicAuthToken(user: string, password: string): string {
  return `${user.length}:${user}:${password}`;
}
