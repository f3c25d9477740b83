import type { FastifyInstance } from 'fastify';
import type { AppDeps } from '../deps.js';
import { serializeCookie } from '../http/cookies.js';
import { errorPage } from '../http/html.js';
import { createPkcePair, createState } from '../oauth/pkce.js';
import { STATE_COOKIE, STATE_TTL_SECONDS, sealState } from '../oauth/state-cookie.js';

export function callbackUrl(deps: AppDeps): string {
  return `${deps.config.publicUrl}/app/oauth/callback`;
}

/** GET /app/install: starts the authorization code grant with PKCE S256 and a state bound to this browser. */
export function registerInstallRoute(app: FastifyInstance, deps: AppDeps): void {
  app.get('/app/install', async (request, reply) => {
    if (deps.oauth === null) {
      return reply
        .code(503)
        .type('text/html; charset=utf-8')
        .send(
          errorPage(
            'Not configured',
            'This app has no LiveChat client id and secret yet: set LIVECHAT_CLIENT_ID, LIVECHAT_CLIENT_SECRET and APP_TOKEN_KEYS, then restart it.',
            'APP_NOT_CONFIGURED',
            false,
          ),
        );
    }
    const pkce = createPkcePair();
    const state = createState();
    const cookie = sealState(deps.oauth.stateCipher, {
      state,
      verifier: pkce.verifier,
      expiresAt: Date.now() + STATE_TTL_SECONDS * 1000,
      mode: (request.query as Record<string, unknown>)['mode'] === 'popup' ? 'popup' : 'top',
    });
    reply.header(
      'set-cookie',
      serializeCookie(STATE_COOKIE, cookie, {
        path: '/app/oauth',
        maxAgeSeconds: STATE_TTL_SECONDS,
        secure: deps.config.cookieSecure,
      }),
    );
    reply.header('cache-control', 'no-store');
    return reply.redirect(
      deps.oauth.accounts.authorizeUrl({
        redirectUri: callbackUrl(deps),
        state,
        codeChallenge: pkce.challenge,
      }),
      302,
    );
  });
}
