import { randomUUID } from 'node:crypto';
import Fastify, { LogController } from 'fastify';
import type { FastifyBaseLogger, FastifyError, FastifyInstance } from 'fastify';
import type { AppDeps } from './deps.js';
import { AppError, errorForLog } from './errors.js';
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
    return reply.code(appErr.status).send({ code: appErr.code, message: appErr.message });
  });
  app.setNotFoundHandler((request, reply) =>
    reply
      .code(404)
      .send({
        code: 'APP_NOT_FOUND',
        message: `no route for ${request.method} ${request.url.split('?')[0] ?? ''}`,
      }),
  );

  app.get('/healthz', async () => ({ ok: true }));
  registerInstallRoute(app, deps);
  registerCallbackRoute(app, deps);
  registerSettingsRoute(app, deps);
  registerLifecycleRoute(app, deps);
  await app.ready();
  return app;
}
