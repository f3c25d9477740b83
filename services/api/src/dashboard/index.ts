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
import type { Principal } from '../keys.js';
import type { DashboardConfig } from './config.js';
import { DASHBOARD_ERROR_CODES } from './errors.js';
import type { DashboardErrorCode } from './errors.js';
import { SessionSealer, UsedLinks, serializeSessionCookie, sessionCookieOf } from './session.js';
import type { DashboardSession } from './session.js';

export { DASHBOARD_ERROR_CODES } from './errors.js';
export { readDashboardEnv } from './config.js';
export type { DashboardConfig } from './config.js';

const HTML = 'text/html; charset=utf-8';
const MAX_KEY_LENGTH = 512;

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
    deps.logger.info(
      'dashboard sessions are sealed with a key of this process (DASHBOARD_SESSION_SECRET unset): they end when it stops',
    );
  }
  const usedLinks = new UsedLinks();
  let assets: DashboardAssets | null = await loadDashboardAssets();

  const keyStillActive = async (s: DashboardSession): Promise<boolean> => {
    if (s.keyId === '') return true;
    const keys = await deps.keys.list(s.tenant);
    return keys.some((k) => k.id === s.keyId && k.revokedAt === null);
  };

  const sessionOf = async (request: FastifyRequest): Promise<DashboardSession | null> => {
    const session = sealer.open(sessionCookieOf(request.headers.cookie));
    if (session === null) return null;
    return (await keyStillActive(session)) ? session : null;
  };

  deps.auth.useSessionResolver(async (request): Promise<Principal | null> => {
    try {
      const s = await sessionOf(request);
      return s === null ? null : { tenant: s.tenant, keyId: s.keyId, admin: false, via: 'session' };
    } catch {
      return null;
    }
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

  /** The built bundle, loaded at start; looked for again while missing (a build after the api started). */
  const built = async (reply: FastifyReply, request: FastifyRequest): Promise<DashboardAssets | null> => {
    assets ??= await loadDashboardAssets();
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

  /** A form post must come from a page of this site: login CSRF and forced sign-out stop here. */
  const sameSite = (request: FastifyRequest): boolean => {
    const site = request.headers['sec-fetch-site'];
    if (typeof site === 'string' && site !== 'same-origin' && site !== 'none') return false;
    const origin = request.headers.origin;
    if (origin === undefined) return true;
    return origin === `${request.protocol}://${request.host}`;
  };

  const startSession = (reply: FastifyReply, request: FastifyRequest, tenant: string, keyId: string) => {
    const session = sealer.create(tenant, keyId, config.sessionTtlSeconds);
    reply.header(
      'set-cookie',
      serializeSessionCookie(sealer.seal(session), config.sessionTtlSeconds, secureCookie(request)),
    );
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
      const a = await built(reply, request);
      if (a === null) return reply;
      const session = await sessionOf(request);
      securityHeaders(reply).type(HTML);
      if (session === null) {
        const expired = (request.query as Record<string, unknown>)['expired'] !== undefined;
        return reply.send(signInPage(a.names, expired ? 'Your session has ended: sign in again.' : null));
      }
      return reply.send(dashboardPage(a.names, session.tenant));
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
      const principal = key === '' || key.length > MAX_KEY_LENGTH ? null : await deps.auth.verifyKey(key);
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
      if (session !== null) sealer.signOut(session);
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
      if (!usedLinks.use(check.nonce, check.exp))
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
      const day = (v: unknown) => (typeof v === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(v) ? v : null);
      const { rows } = await deps.pool.query<{ group_id: number; chats: number }>(
        `select g as group_id, count(*)::int as chats
           from ${deps.sql.analytics}.local_thread_facts f cross join lateral unnest(f.group_ids) g
          where f.tenant = $1 and ($2::date is null or f.day >= $2::date) and ($3::date is null or f.day <= $3::date)
          group by g order by g
          limit 1000`,
        [session.tenant, day(query['from']), day(query['to'])],
      );
      return reply.send({ groups: rows });
    });

    scope.get<{ Params: { file: string } }>('/dashboard/assets/:file', async (request, reply) => {
      const a = await built(reply, request);
      if (a === null) return reply;
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
