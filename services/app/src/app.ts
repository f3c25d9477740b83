import { randomUUID } from 'node:crypto';
import Fastify, { LogController } from 'fastify';
import type { FastifyBaseLogger, FastifyError, FastifyInstance } from 'fastify';
import type { AppDeps } from './deps.js';
import { AppError, errorForLog } from './errors.js';
import { errorPage, htmlSecurityHeaders } from './http/html.js';
import { registerCallbackRoute } from './routes/callback.js';
import { registerInstallRoute } from './routes/install.js';
import { registerLifecycleRoute } from './routes/lifecycle.js';
import { registerSettingsRoute } from './routes/settings.js';

/**
 * The app's HTTP surface: /app/install, /app/oauth/callback, /app/settings, /app/lifecycle, /healthz. Error
 * answers of the JSON routes are `{ code, message }` from one handler; the browser routes render pages.
 */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const logger: FastifyBaseLogger = deps.logger;
  const app = Fastify({
    loggerInstance: logger,
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'request_id' }),
    bodyLimit: 64 * 1024,
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    genReqId: () => randomUUID(),
  });

  // Every answer carries the pages' security headers (CSP with frame-ancestors, no-store, nosniff, no referrer),
  // error pages and JSON errors included; a route that needs a script nonce sets its own CSP first.
  const security = htmlSecurityHeaders(deps.config.frameAncestors);
  app.addHook('onSend', async (_request, reply, payload) => {
    for (const [name, value] of Object.entries(security)) {
      if (name === 'content-type') continue;
      if (!reply.hasHeader(name)) reply.header(name, value);
    }
    return payload;
  });

  app.addHook('onResponse', async (request, reply) => {
    // the route pattern (bounded), not the URL a client chose
    deps.metrics.httpRequests.inc({
      route: request.routeOptions.url ?? 'unmatched',
      status: String(reply.statusCode),
    });
  });

  app.setErrorHandler((err: FastifyError | AppError, request, reply) => {
    const appErr =
      err instanceof AppError
        ? err
        : typeof err.statusCode === 'number' && err.statusCode < 500
          ? new AppError('APP_BAD_REQUEST', err.message)
          : new AppError('APP_INTERNAL', 'unexpected error', { cause: err });
    if (appErr.status >= 500) request.log.error({ err: errorForLog(appErr) }, 'request failed');
    else
      request.log.info(
        { code: appErr.code, status: appErr.status, path: request.url.split('?')[0] },
        'request refused',
      );
    if (isBrowserRoute(request.url)) {
      // a person sees this (in LiveChat's iframe or the sign-in window): a page, never a stack or a cause
      const message =
        appErr.status >= 500 ? 'Something went wrong on our side. Try again in a moment.' : appErr.message;
      return reply
        .code(appErr.status)
        .headers(security)
        .send(errorPage('Something went wrong', message, appErr.code));
    }
    return reply.code(appErr.status).send({ code: appErr.code, message: appErr.message });
  });
  app.setNotFoundHandler((request, reply) => {
    const message = `no route for ${request.method} ${request.url.split('?')[0] ?? ''}`;
    if (isBrowserRoute(request.url))
      return reply
        .code(404)
        .headers(security)
        .send(errorPage('Page not found', message.slice(0, 200), 'APP_NOT_FOUND', false));
    return reply.code(404).send({ code: 'APP_NOT_FOUND', message });
  });

  app.get('/healthz', async () => ({ ok: true }));
  registerInstallRoute(app, deps);
  registerCallbackRoute(app, deps);
  registerSettingsRoute(app, deps);
  registerLifecycleRoute(app, deps);
  await app.ready();
  return app;
}

/** Pages a browser shows (the settings page and the sign-in), as opposed to JSON endpoints (lifecycle, health). */
function isBrowserRoute(url: string): boolean {
  const path = url.split('?')[0] ?? '';
  return path.startsWith('/app/') && !path.startsWith('/app/lifecycle');
}
