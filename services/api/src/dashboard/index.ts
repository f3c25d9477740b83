import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  DASHBOARD_CSP,
  dashboardPage,
  errorPage,
  linkLandingPage,
  loadDashboardAssets,
  signInPage,
  verifyDashboardLink,
} from '@livechat-pipeline/dashboard';
import type { DashboardAssets } from '@livechat-pipeline/dashboard';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { ApiDeps } from '../deps.js';
import { ApiError } from '../errors.js';
import type { Principal } from '../keys.js';
import type { DashboardConfig } from './config.js';
import { DASHBOARD_ERROR_CODES } from './errors.js';
import type { DashboardErrorCode } from './errors.js';
import { SessionSealer, serializeSessionCookie, sessionCookieOf } from './session.js';
import { DashboardSessionStore } from './store.js';
import type { DashboardSession } from './session.js';

export { DASHBOARD_ERROR_CODES } from './errors.js';
export { readDashboardEnv } from './config.js';
export type { DashboardConfig } from './config.js';
export { DashboardSessionStore } from './store.js';

const HTML = 'text/html; charset=utf-8';
const MAX_KEY_LENGTH = 512;
const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/;
const DAY = /^\d{4}-\d{2}-\d{2}$/;
const MAX_GROUP_DAYS = 366;

/** A real calendar day as YYYY-MM-DD (2026-02-31 is not), or null. */
function calendarDay(value: unknown): string | null {
  if (typeof value !== 'string' || !DAY.test(value)) return null;
  const t = Date.parse(`${value}T00:00:00Z`);
  return !Number.isNaN(t) && new Date(t).toISOString().startsWith(value) ? value : null;
}

function securityHeaders(reply: FastifyReply): FastifyReply {
  return reply
    .header('content-security-policy', DASHBOARD_CSP)
    .header('x-frame-options', 'DENY')
    .header('referrer-policy', 'same-origin')
    .header('cache-control', 'no-store');
}

/**
 * `/dashboard` on the api: the sign-in (an API key typed into a form, or a signed link from the LiveChat app),
 * the session cookie (sealed, HttpOnly, SameSite=Strict, Secure over https), the pages and the bundled assets.
 * It registers a session resolver so the page's own `/v1/...` calls authenticate by that cookie; revoking the key
 * a session was opened with ends the session at its next call.
 */
export async function registerDashboardRoutes(app: FastifyInstance, deps: ApiDeps): Promise<void> {
  const config: DashboardConfig = deps.config.dashboard;
  const sealer = new SessionSealer(config.sessionSecret);
  if (config.sessionSecret === null) {
    const exposed = !LOOPBACK.test(deps.config.http.host);
    const message =
      'dashboard sessions are sealed with a key of this process (DASHBOARD_SESSION_SECRET unset): they end when it stops, and another api process refuses them';
    if (exposed) deps.logger.warn({ host: deps.config.http.host }, `${message}; set it when serving others`);
    else deps.logger.info(message);
  }
  const store = new DashboardSessionStore(deps.pool, deps.sql.api);
  const assetsDir = config.assetsDir ?? undefined;
  let assets: DashboardAssets | null = await loadDashboardAssets(assetsDir);

  const keyStillActive = async (s: DashboardSession): Promise<boolean> => {
    if (s.keyId === '') return true;
    const principal = await deps.keys.principalOfKeyId(s.keyId);
    return principal !== null && principal.tenant === s.tenant;
  };

  /**
   * The request's session, or null (none, forged, expired, signed out, revoked). A database error propagates:
   * an outage must not look like a sign-out (the page would send the user to the sign-in form).
   */
  const sessionOf = async (request: FastifyRequest): Promise<DashboardSession | null> => {
    const session = sealer.open(sessionCookieOf(request.headers.cookie));
    if (session === null) return null;
    if (!(await store.stands(session))) return null;
    return (await keyStillActive(session)) ? session : null;
  };

  deps.auth.useSessionResolver(async (request): Promise<Principal | null> => {
    const s = await sessionOf(request);
    return s === null ? null : { tenant: s.tenant, keyId: s.keyId, admin: false, via: 'session' };
  });

  const secureCookie = (request: FastifyRequest) => config.cookieSecure ?? request.protocol === 'https';

  const refuse = (
    reply: FastifyReply,
    request: FastifyRequest,
    code: DashboardErrorCode,
    title: string,
    message: string,
  ) => {
    request.log.info({ code }, 'dashboard request refused');
    const status = DASHBOARD_ERROR_CODES[code].status;
    if (code === 'DASHBOARD_SIGN_IN_REFUSED' && assets !== null) {
      return securityHeaders(reply).code(status).type(HTML).send(signInPage(assets.names, message));
    }
    return securityHeaders(reply)
      .code(status)
      .type(HTML)
      .send(errorPage(assets?.names ?? null, title, message, code));
  };

  /**
   * The built bundle. Its manifest is read again for each page (`fresh`) and when a file it does not list is
   * asked for: after a rebuild under a running api, pages name the new files, and the earlier ones stay servable.
   */
  const built = async (
    reply: FastifyReply,
    request: FastifyRequest,
    fresh = false,
  ): Promise<DashboardAssets | null> => {
    if (fresh || assets === null) assets = (await loadDashboardAssets(assetsDir)) ?? assets;
    if (assets === null) {
      refuse(
        reply,
        request,
        'DASHBOARD_NOT_BUILT',
        'The dashboard is not built',
        'The dashboard’s browser bundle is missing on this server: run pnpm build:dashboard.',
      );
    }
    return assets;
  };

  /**
   * A form post must come from a page of this site: login CSRF and forced sign-out stop here. A browser's own
   * `Sec-Fetch-Site: same-origin` is enough (behind a proxy the scheme this process sees may differ from the
   * browser's); without it, `Origin` must be this site (`request.protocol`/`host`, through API_TRUST_PROXY).
   */
  const sameSite = (request: FastifyRequest): boolean => {
    const site = request.headers['sec-fetch-site'];
    if (site === 'same-origin') return true;
    if (typeof site === 'string' && site !== 'none') return false;
    const origin = request.headers.origin;
    if (origin === undefined) return true;
    return origin === `${request.protocol}://${request.host}`;
  };

  const startSession = (reply: FastifyReply, request: FastifyRequest, tenant: string, keyId: string) => {
    const ttl = keyId === '' ? config.linkSessionTtlSeconds : config.sessionTtlSeconds;
    const session = sealer.create(tenant, keyId, ttl);
    reply.header('set-cookie', serializeSessionCookie(sealer.seal(session), ttl, secureCookie(request)));
  };

  /** The tenant's time zone for the page's days; UTC while the analytics projection has none (not migrated). */
  const timeZoneOf = async (request: FastifyRequest, tenant: string): Promise<string> => {
    try {
      const { rows } = await deps.pool.query<{ time_zone: string }>(
        `select time_zone from ${deps.sql.analytics}.tenant_settings where tenant = $1`,
        [tenant],
      );
      return rows[0]?.time_zone ?? 'UTC';
    } catch (error) {
      request.log.warn(
        { err: { message: error instanceof Error ? error.message : String(error) } },
        "dashboard: the tenant's time zone is unknown, the page uses UTC",
      );
      return 'UTC';
    }
  };

  /** The HTML 503 of a page whose database did not answer (a session check, a key's check at sign-in). */
  const unavailable = (reply: FastifyReply, request: FastifyRequest, error: unknown) => {
    request.log.error(
      { err: { message: error instanceof Error ? error.message : String(error) } },
      'dashboard: the database did not answer',
    );
    reply.header('retry-after', '5');
    return refuse(
      reply,
      request,
      'DASHBOARD_UNAVAILABLE',
      'The dashboard is unavailable for a moment',
      'Its database did not answer: try again in a few seconds.',
    );
  };

  /** The session behind a page, or an HTML 503 page already sent when the database cannot tell now. */
  const pageSession = async (
    request: FastifyRequest,
    reply: FastifyReply,
  ): Promise<{ session: DashboardSession | null } | null> => {
    try {
      return { session: await sessionOf(request) };
    } catch (error) {
      unavailable(reply, request, error);
      return null;
    }
  };

  await app.register(async (scope) => {
    scope.addContentTypeParser(
      'application/x-www-form-urlencoded',
      { parseAs: 'string', bodyLimit: 4096 },
      (_request, body, done) => {
        done(null, Object.fromEntries(new URLSearchParams(body as string)));
      },
    );

    scope.get('/dashboard', async (request, reply) => {
      const a = await built(reply, request, true);
      if (a === null) return reply;
      const checked = await pageSession(request, reply);
      if (checked === null) return reply;
      const { session } = checked;
      securityHeaders(reply).type(HTML);
      if (session === null) {
        const expired = (request.query as Record<string, unknown>)['expired'] !== undefined;
        return reply.send(signInPage(a.names, expired ? 'Your session has ended: sign in again.' : null));
      }
      return reply.send(dashboardPage(a.names, session.tenant, await timeZoneOf(request, session.tenant)));
    });

    scope.post('/dashboard/sign-in', async (request, reply) => {
      if (!sameSite(request))
        return refuse(
          reply,
          request,
          'DASHBOARD_CROSS_SITE',
          'Sign-in refused',
          'This sign-in was not sent from the dashboard’s own page.',
        );
      const a = await built(reply, request);
      if (a === null) return reply;
      const body = request.body as Record<string, unknown> | undefined;
      const key = typeof body?.['api_key'] === 'string' ? body['api_key'].trim() : '';
      let principal: Principal | null = null;
      try {
        principal = key === '' || key.length > MAX_KEY_LENGTH ? null : await deps.auth.verifyKey(key);
      } catch (error) {
        return unavailable(reply, request, error);
      }
      if (principal === null)
        return refuse(
          reply,
          request,
          'DASHBOARD_SIGN_IN_REFUSED',
          'Sign-in refused',
          'That API key was not accepted.',
        );
      startSession(reply, request, principal.tenant, principal.keyId);
      request.log.info({ tenant: principal.tenant, key_id: principal.keyId }, 'dashboard session started');
      return reply.redirect('/dashboard', 303);
    });

    scope.post('/dashboard/sign-out', async (request, reply) => {
      if (!sameSite(request))
        return refuse(
          reply,
          request,
          'DASHBOARD_CROSS_SITE',
          'Sign-out refused',
          'This sign-out was not sent from the dashboard’s own page.',
        );
      const session = sealer.open(sessionCookieOf(request.headers.cookie));
      if (session !== null) await store.signOut(session);
      reply.header('set-cookie', serializeSessionCookie('', 0, secureCookie(request)));
      return reply.redirect('/dashboard', 303);
    });

    scope.get('/dashboard/link', async (request, reply) => {
      if (config.linkSecret === null)
        return refuse(
          reply,
          request,
          'DASHBOARD_LINK_DISABLED',
          'Links are not enabled',
          'This server does not accept links from the LiveChat app (DASHBOARD_LINK_SECRET is not set). Sign in with an API key.',
        );
      const a = await built(reply, request);
      if (a === null) return reply;
      const check = verifyDashboardLink(config.linkSecret, request.query as Record<string, unknown>);
      if (!check.ok) {
        return check.code === 'DASHBOARD_LINK_EXPIRED'
          ? refuse(
              reply,
              request,
              check.code,
              'This link has expired',
              'Links from the LiveChat app work for 5 minutes: open the dashboard again from the app’s settings page.',
            )
          : refuse(
              reply,
              request,
              check.code,
              'This link is not valid',
              'The link was changed or not made by this installation’s LiveChat app.',
            );
      }
      if (!(await store.useLink(check.nonce, check.exp)))
        return refuse(
          reply,
          request,
          'DASHBOARD_LINK_USED',
          'This link was already used',
          'Each link from the LiveChat app opens the dashboard once: open it again from the app’s settings page.',
        );
      startSession(reply, request, check.tenant, '');
      request.log.info({ tenant: check.tenant }, 'dashboard session started from a link');
      return securityHeaders(reply).type(HTML).send(linkLandingPage(a.names));
    });

    // The group filter's choices: the groups of the session's threads in the range (the API has no list of groups)
    scope.get('/dashboard/groups', async (request, reply) => {
      const session = await sessionOf(request);
      if (session === null) {
        return reply.code(401).send({ code: 'API_UNAUTHORIZED', message: 'no valid session' });
      }
      const query = request.query as Record<string, unknown>;
      const from = calendarDay(query['from']);
      const to = calendarDay(query['to']);
      if (from === null || to === null)
        throw new ApiError('API_BAD_PARAMETER', 'from and to: both required, each a real date YYYY-MM-DD');
      const days = (Date.parse(to) - Date.parse(from)) / 86_400_000 + 1;
      if (days < 1 || days > MAX_GROUP_DAYS)
        throw new ApiError(
          'API_BAD_PARAMETER',
          `to must be on or after from, at most ${MAX_GROUP_DAYS} days`,
        );
      const { rows } = await deps.pool.query<{ group_id: number; chats: number }>(
        `select g as group_id, count(*)::int as chats
           from ${deps.sql.analytics}.local_thread_facts f cross join lateral unnest(f.group_ids) g
          where f.tenant = $1 and f.day >= $2::date and f.day <= $3::date
          group by g order by g
          limit 1000`,
        [session.tenant, from, to],
      );
      return reply.send({ groups: rows });
    });

    scope.get<{ Params: { file: string } }>('/dashboard/assets/:file', async (request, reply) => {
      let a = await built(reply, request);
      if (a === null) return reply;
      if (!a.files.has(request.params.file)) a = (await built(reply, request, true)) ?? a;
      const type = a.files.get(request.params.file);
      if (type === undefined) return reply.code(404).type('text/plain; charset=utf-8').send('not found');
      const body = await readFile(path.join(a.dir, request.params.file));
      // content-hashed names never change content; the icon keeps its name
      const immutable = /-[A-Z0-9]{8}\./.test(request.params.file);
      return reply
        .header('cache-control', immutable ? 'public, max-age=31536000, immutable' : 'public, max-age=3600')
        .header('x-content-type-options', 'nosniff')
        .type(type)
        .send(body);
    });
  });
}
