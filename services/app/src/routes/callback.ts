import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import type { AppDeps } from '../deps.js';
import { AppError, errorForLog } from '../errors.js';
import type { AppErrorCode } from '../errors.js';
import { parseCookies, serializeCookie } from '../http/cookies.js';
import { errorPage, htmlSecurityHeaders } from '../http/html.js';
import { STATE_COOKIE, openState, sameState } from '../oauth/state-cookie.js';
import { callbackUrl } from './install.js';
import { handoffPage } from './settings.js';

const query = z.object({
  code: z.string().min(1).max(2048).optional(),
  state: z.string().min(1).max(512).optional(),
  error: z.string().max(200).optional(),
});

const TITLES: Partial<Record<AppErrorCode, string>> = {
  APP_OAUTH_STATE_INVALID: 'This sign-in link is not valid here',
  APP_OAUTH_DENIED: 'Access was not granted',
  APP_OAUTH_CODE_REJECTED: 'LiveChat did not accept this sign-in',
  APP_OAUTH_CLIENT_REJECTED: 'The app is misconfigured',
  APP_OAUTH_TOKEN_RESPONSE_INVALID: 'LiveChat answered unexpectedly',
  APP_LIVECHAT_UNAVAILABLE: 'LiveChat is not reachable right now',
};

function fail(reply: FastifyReply, err: AppError): FastifyReply {
  return reply
    .code(err.status)
    .type('text/html; charset=utf-8')
    .send(errorPage(TITLES[err.code] ?? 'Connection failed', err.message, err.code));
}

/**
 * GET /app/oauth/callback: checks `state` against the sealed cookie of this browser, exchanges the code
 * (client id + secret + code_verifier), then records the tenant, stores its tokens encrypted, starts a browser
 * session and registers the configured webhooks. Any failure before the exchange succeeds stores nothing.
 */
export function registerCallbackRoute(app: FastifyInstance, deps: AppDeps): void {
  app.get('/app/oauth/callback', async (request, reply) => {
    reply.header('cache-control', 'no-store');
    // The state cookie is single-use whatever happens.
    reply.header(
      'set-cookie',
      serializeCookie(STATE_COOKIE, '', {
        path: '/app/oauth',
        maxAgeSeconds: 0,
        secure: deps.config.cookieSecure,
      }),
    );
    const oauth = deps.oauth;
    if (oauth === null)
      return fail(
        reply,
        new AppError('APP_NOT_CONFIGURED', 'LIVECHAT_CLIENT_ID / LIVECHAT_CLIENT_SECRET are not set'),
      );
    const q = query.safeParse(request.query);
    const browser = openState(oauth.stateCipher, parseCookies(request.headers.cookie).get(STATE_COOKIE));
    if (
      !q.success ||
      q.data.state === undefined ||
      browser === null ||
      !sameState(q.data.state, browser.state)
    ) {
      request.log.info(
        { code: 'APP_OAUTH_STATE_INVALID', hasCookie: browser !== null },
        'oauth callback refused',
      );
      return fail(
        reply,
        new AppError(
          'APP_OAUTH_STATE_INVALID',
          'The sign-in could not be matched to this browser (missing, expired or different state). Start again from the app.',
        ),
      );
    }
    if (q.data.error !== undefined || q.data.code === undefined) {
      request.log.info(
        { code: 'APP_OAUTH_DENIED', oauth_error: q.data.error ?? 'no_code' },
        'oauth callback refused',
      );
      return fail(
        reply,
        new AppError(
          'APP_OAUTH_DENIED',
          `LiveChat returned without an authorization (${q.data.error ?? 'no code'}).`,
        ),
      );
    }
    let tokens;
    try {
      tokens = await oauth.accounts.exchangeCode({
        code: q.data.code,
        redirectUri: callbackUrl(deps),
        codeVerifier: browser.verifier,
      });
    } catch (err) {
      const e =
        err instanceof AppError
          ? err
          : new AppError('APP_INTERNAL', 'the code exchange failed', { cause: err });
      request.log.warn({ err: errorForLog(e) }, 'oauth code exchange failed');
      return fail(reply, e);
    }
    const tenant = await deps.registry.recordInstall({
      clientId: deps.config.livechat.clientId,
      organizationId: tokens.organizationId,
    });
    await oauth.tokens.store(tenant.id, tokens);
    await deps.sessions.start(reply, tenant.id);
    request.log.info({ tenant_id: tenant.id, organization_id: tenant.organizationId }, 'tenant connected');
    // The webhooks are registered in the background (pg_try_advisory_lock): the browser does not wait for
    // LiveChat's API, and a burst of connects neither queues on the lock nor drains the pool.
    deps.backgroundSync?.trigger(tenant.id);
    // The history (APP_BACKFILL_DAYS) is read in the background too, resumable, under a lease in Postgres.
    void deps.archives.jobs.triggerInstallBackfill(tenant.id);
    if (browser.mode === 'popup') {
      // Started from the settings page inside LiveChat's iframe: hand it a session of its own partition.
      const code = await deps.sessions.createHandoff(tenant.id);
      const nonce = randomBytes(16).toString('base64');
      return reply
        .headers(htmlSecurityHeaders(deps.config.frameAncestors, nonce))
        .send(handoffPage(code, nonce));
    }
    return reply.redirect('/app/settings', 303);
  });
}
