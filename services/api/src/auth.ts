import type { FastifyRequest } from 'fastify';
import type { ApiKeyStore, Principal } from './keys.js';

/**
 * Resolves a request to a principal by something other than a Bearer key (the dashboard's HttpOnly session
 * cookie). Returns null when the request carries no session of its own; never throws for a bad cookie.
 */
export type SessionResolver = (request: FastifyRequest) => Promise<Principal | null>;

/**
 * Who is calling: a Bearer API key when the request has an Authorization header (a bad header is not rescued by
 * a cookie), else the first registered session resolver that recognises the request. Null means 401.
 */
export class Authenticator {
  private readonly sessionResolvers: SessionResolver[] = [];

  constructor(private readonly keys: ApiKeyStore) {}

  /** Registers a way to authenticate a request without a Bearer key (see README "For the dashboard"). */
  useSessionResolver(resolver: SessionResolver): void {
    this.sessionResolvers.push(resolver);
  }

  async authenticate(request: FastifyRequest): Promise<Principal | null> {
    const header = request.headers.authorization;
    if (header !== undefined) {
      const match = /^Bearer[ ]+(\S{1,512})[ ]*$/i.exec(header);
      return match === null ? null : this.keys.verify(match[1]!);
    }
    for (const resolve of this.sessionResolvers) {
      const principal = await resolve(request);
      if (principal !== null) return principal;
    }
    return null;
  }

  /** Checks a presented key alone (the dashboard's sign-in form). */
  verifyKey(key: string): Promise<Principal | null> {
    return this.keys.verify(key);
  }
}
