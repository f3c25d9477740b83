import { createHash, randomBytes } from 'node:crypto';
import type { Tenant, TenantRegistry } from '@livechat-pipeline/tenant-registry';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { parseCookies, serializeCookie } from './http/cookies.js';

export const SESSION_COOKIE = 'lcp_session';

const hashId = (id: string) => createHash('sha256').update(id, 'utf8').digest('hex');

/**
 * Browser sessions established by the OAuth flow: a random id in an HttpOnly cookie, only its SHA-256 in
 * Postgres. The settings page shows the tenant of the session and nothing else.
 */
export class Sessions {
  constructor(
    private readonly registry: TenantRegistry,
    private readonly options: { ttlSeconds: number; secure: boolean },
  ) {}

  async start(reply: FastifyReply, tenantId: string): Promise<void> {
    const id = randomBytes(32).toString('base64url');
    await this.registry.createSession(
      hashId(id),
      tenantId,
      new Date(Date.now() + this.options.ttlSeconds * 1000),
    );
    reply.header(
      'set-cookie',
      serializeCookie(SESSION_COOKIE, id, {
        path: '/app',
        maxAgeSeconds: this.options.ttlSeconds,
        secure: this.options.secure,
      }),
    );
  }

  async tenantOf(request: FastifyRequest): Promise<Tenant | null> {
    const id = parseCookies(request.headers.cookie).get(SESSION_COOKIE);
    if (id === undefined || !/^[A-Za-z0-9_-]{43}$/.test(id)) return null;
    return this.registry.tenantOfSession(hashId(id));
  }
}
