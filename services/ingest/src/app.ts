import { randomUUID } from 'node:crypto';
import { context } from '@opentelemetry/api';
import Fastify, { LogController } from 'fastify';
import type { FastifyBaseLogger, FastifyError, FastifyInstance, FastifyReply } from 'fastify';
import type { IngestConfig } from './config.js';
import type { IngestDeps } from './deps.js';
import { IngestError } from './errors.js';
import { toErrorResponse } from './http-errors.js';
import { parseJsonBody } from './json-body.js';
import { createLogger } from './logger.js';
import { createIngestMetrics } from './metrics.js';
import { registerHealthRoutes } from './routes/health.js';
import { registerWebhookRoutes, requestTraceContext } from './routes/webhooks.js';

/**
 * The ingest's public HTTP app. Routes: POST /webhooks/livechat[/:tenant] and GET /healthz (for load balancers);
 * /readyz and /metrics are on the operations server (src/operations.ts), not here. Every error
 * answer is `{ code, message }` from one error handler. Nothing is listened on here; main.ts does that.
 */
export async function buildApp(config: IngestConfig, deps: IngestDeps): Promise<FastifyInstance> {
  const logger: FastifyBaseLogger = deps.logger ?? createLogger(config);
  const metrics = deps.metrics ?? createIngestMetrics({ defaultMetrics: false });

  const app = Fastify({
    loggerInstance: logger,
    // One line per webhook from the route instead of fastify's two per request.
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'request_id' }),
    bodyLimit: config.http.bodyLimitBytes,
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    requestIdHeader: 'x-request-id',
    genReqId: () => randomUUID(),
    return503OnClosing: true,
    // A sender that trickles its body (or never sends a request) must not hold a socket and a buffer for ever:
    // LiveChat sends a webhook at once and waits about 10 s for the answer.
    connectionTimeout: 30_000,
    requestTimeout: 30_000,
    // Tenant labels up to 128 characters reach the route (which answers a clear 400 for a bad one); longer path
    // parameters and malformed URLs are fastify's own errors, answered through the catalogue below.
    maxParamLength: 256,
    frameworkErrors: (err, _request, reply) => {
      const error =
        err.code === 'FST_ERR_MAX_PARAM_LENGTH'
          ? new IngestError(
              'INGEST_INVALID_TENANT_LABEL',
              'the tenant label in the path must be 1-128 characters of A-Z a-z 0-9 . _ -',
            )
          : new IngestError('INGEST_BAD_REQUEST', 'the request URL is malformed (e.g. bad percent-encoding)');
      void (reply as FastifyReply).code(error.status).send({ code: error.code, message: error.message });
    },
  });

  // Only JSON is accepted: everything else is 415 from fastify, mapped below.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    try {
      done(null, parseJsonBody(body as string, config.http.json));
    } catch (err) {
      done(err as Error, undefined);
    }
  });

  app.setErrorHandler((err: FastifyError | IngestError, request, reply) => {
    const response = toErrorResponse(err, {
      bodyLimitBytes: config.http.bodyLimitBytes,
      contentType: request.headers['content-type'],
    });
    // Fastify calls this outside the handler's context: the lines are written in the request's span (trace ids).
    context.with(requestTraceContext(request), () => {
      if (response.status >= 500) {
        request.log.error({ code: response.body.code, err: errorForLog(response.error) }, 'request failed');
      } else if (
        response.body.code !== 'INGEST_UNAUTHENTICATED' &&
        response.body.code !== 'INGEST_TENANT_MISMATCH'
      ) {
        request.log.info({ code: response.body.code, status: response.status }, 'request refused');
      }
    });
    if (response.retryAfterSeconds !== undefined)
      reply.header('retry-after', String(response.retryAfterSeconds));
    return reply.code(response.status).send(response.body);
  });

  app.setNotFoundHandler((request, reply) => {
    return reply.code(404).send({
      code: 'INGEST_NOT_FOUND',
      message: `no route for ${request.method} ${request.url.split('?')[0] ?? ''}`,
    });
  });

  app.addHook('onResponse', (request, reply, done) => {
    metrics.httpRequests.inc({
      route: request.routeOptions.url ?? 'unmatched',
      method: request.method,
      status: String(reply.statusCode),
    });
    done();
  });

  registerWebhookRoutes(app, { config, deps, metrics });
  registerHealthRoutes(app);
  await app.ready();
  return app;
}

/** An error for a log line: code and messages of the chain, never request data. */
function errorForLog(err: IngestError): Record<string, string> {
  const out: Record<string, string> = { code: err.code, message: err.message };
  const cause = err.cause;
  if (cause instanceof Error) {
    out.cause = `${cause.name}: ${cause.message}`.slice(0, 500);
  }
  return out;
}
