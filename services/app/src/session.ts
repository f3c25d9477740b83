import { createHash, randomBytes } from 'node:crypto';
import type { Tenant, TenantRegistry } from '@livechat-pipeline/tenant-registry';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { parseCookies, serializeCookie } from './http/cookies.js';

export const SESSION_COOKIE = 'lcp_session';
/** How long a hand-off code from a sign-in window to the settings iframe stays usable. */
export const HANDOFF_TTL_SECONDS = 120;

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

  /**
   * A one-time code for `tenantId`, for the settings page inside LiveChat's iframe: the sign-in runs at the top
   * level (a pop-up; LiveChat's accounts page cannot be framed), where cookies land in the app's own partition,
   * not in the iframe's (CHIPS). The pop-up hands this code to the iframe, which trades it for a session cookie
   * of its own partition (`claim`). Only its SHA-256 is stored; it expires after HANDOFF_TTL_SECONDS.
   */
  async createHandoff(tenantId: string): Promise<string> {
    const code = randomBytes(32).toString('base64url');
    await this.registry.createHandoff(
      hashId(code),
      tenantId,
      new Date(Date.now() + HANDOFF_TTL_SECONDS * 1000),
    );
    return code;
  }

  /** Uses up a hand-off code and starts a session in this (the caller's) cookie partition. */
  async claim(reply: FastifyReply, code: string): Promise<Tenant | null> {
    if (!/^[A-Za-z0-9_-]{43}$/.test(code)) return null;
    const tenant = await this.registry.consumeHandoff(hashId(code));
    if (tenant === null || tenant.status !== 'active') return null;
    await this.start(reply, tenant.id);
    return tenant;
  }

  async tenantOf(request: FastifyRequest): Promise<Tenant | null> {
    const id = parseCookies(request.headers.cookie).get(SESSION_COOKIE);
    if (id === undefined || !/^[A-Za-z0-9_-]{43}$/.test(id)) return null;
    return this.registry.tenantOfSession(hashId(id));
  }
}
