import { randomUUID } from 'node:crypto';
import Fastify, { LogController } from 'fastify';
import type { FastifyBaseLogger, FastifyError, FastifyInstance } from 'fastify';
import { ZodError } from 'zod';
import type { ApiDeps } from './deps.js';
import { ApiError, errorForLog } from './errors.js';
import { registerOpenApiRoutes } from './http/openapi.js';
import { documentedRoutes } from './http/route.js';
import type { Principal } from './keys.js';
import { routeModules } from './routes/index.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by an authenticated route's onRequest hook (see defineRoute); null elsewhere. */
    principal: Principal | null;
  }
}

/**
 * The api's HTTP surface: every module of routes/index.ts (`registerRoutes(app, deps)`), /openapi.json and /docs.
 * Errors are `{ code, message }` from one handler.
 */
export async function buildApi(deps: ApiDeps): Promise<FastifyInstance> {
  const logger: FastifyBaseLogger = deps.logger;
  const app = Fastify({
    loggerInstance: logger,
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'request_id' }),
    bodyLimit: 64 * 1024,
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    genReqId: () => randomUUID(),
    routerOptions: { maxParamLength: 200 },
    // behind a TLS-terminating proxy (API_TRUST_PROXY): protocol and host from X-Forwarded-* (the dashboard's
    // cookie and origin checks)
    trustProxy: deps.config.dashboard.trustProxy,
  });
  app.decorateRequest('principal', null);

  app.addHook('onSend', async (_request, reply, payload) => {
    if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store');
    reply.header('x-content-type-options', 'nosniff');
    return payload;
  });
  app.addHook('onResponse', async (request, reply) => {
    // the route pattern (bounded), not the URL a client chose
    const route = request.routeOptions.url ?? 'unmatched';
    deps.metrics.httpRequests.inc({ route, status: String(reply.statusCode) });
    deps.metrics.httpDuration.observe({ route }, reply.elapsedTime / 1000);
  });

  app.setErrorHandler((err: FastifyError | ApiError | ZodError, request, reply) => {
    const apiErr = toApiError(err);
    if (apiErr.status >= 500) request.log.error({ err: errorForLog(apiErr) }, 'request failed');
    else
      request.log.info(
        { code: apiErr.code, status: apiErr.status, path: request.url.split('?')[0] },
        'request refused',
      );
    if (apiErr.code === 'API_UNAUTHORIZED') reply.header('www-authenticate', 'Bearer');
    if (apiErr.retryable && apiErr.status === 503) reply.header('retry-after', '5');
    // a CSV answer already streaming cannot change its status; fastify then ends the stream
    return reply
      .status(apiErr.status)
      .type('application/json; charset=utf-8')
      .send({ code: apiErr.code, message: apiErr.message });
  });
  app.setNotFoundHandler((request, reply) =>
    reply
      .status(404)
      .send({ code: 'API_NOT_FOUND', message: `no route ${request.method} ${request.url.split('?')[0]}` }),
  );

  for (const registerRoutes of routeModules) await registerRoutes(app, deps);
  registerOpenApiRoutes(app, () => documentedRoutes(app));
  await app.ready();
  return app;
}

/** Postgres errors that mean "not now" rather than "never": connection lost or refused, statement timeout. */
function isUnavailable(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  if (
    typeof code === 'string' &&
    (code === '57014' || code.startsWith('08') || code === '57P01' || code === '53300')
  )
    return true;
  const message = err instanceof Error ? err.message : '';
  return /ECONNREFUSED|ECONNRESET|Connection terminated|timeout exceeded when trying to connect/i.test(
    message,
  );
}

function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof ZodError) {
    const issue = err.issues[0];
    const where = issue?.path.join('.') ?? '';
    return new ApiError(
      'API_BAD_PARAMETER',
      `${where === '' ? '' : `${where}: `}${issue?.message ?? 'invalid'}`,
    );
  }
  const fastifyErr = err as FastifyError;
  // a body fastify could not parse (not JSON, empty with a JSON content type, an unsupported type)
  if (typeof fastifyErr.code === 'string' && fastifyErr.code.startsWith('FST_ERR_CTP_'))
    return new ApiError('API_BAD_BODY', fastifyErr.message);
  if (fastifyErr.validation !== undefined) {
    return new ApiError(
      'API_BAD_PARAMETER',
      fastifyErr.message.replace(/^querystring\//, '').replace(/^params\//, ''),
    );
  }
  const pgCode = (err as { code?: unknown }).code;
  if (pgCode === '42P01' || pgCode === '3F000')
    return new ApiError(
      'API_UNAVAILABLE',
      'the projections are not there yet (have the transcripts and analytics services started?)',
      { cause: err },
    );
  if (isUnavailable(err))
    return new ApiError('API_UNAVAILABLE', 'the database is unavailable, retry later', { cause: err });
  if (typeof fastifyErr.statusCode === 'number' && fastifyErr.statusCode < 500)
    return new ApiError(
      fastifyErr.statusCode === 404 ? 'API_NOT_FOUND' : 'API_BAD_PARAMETER',
      fastifyErr.message,
    );
  return new ApiError('API_INTERNAL', 'unexpected error', { cause: err });
}
