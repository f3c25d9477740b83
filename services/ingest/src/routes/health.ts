import type { FastifyInstance } from 'fastify';
import type { ReadinessProbe } from '../readiness.js';
import type { IngestMetrics } from '../metrics.js';

/** `GET /healthz` (process alive), `GET /readyz` (Kafka and registry reachable, schema registered), `GET /metrics`. */
export function registerHealthRoutes(app: FastifyInstance, ctx: { readiness: ReadinessProbe; metrics: IngestMetrics }): void {
  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/readyz', async (_request, reply) => {
    const report = await ctx.readiness.check();
    if (!report.ready) {
      reply.code(503).header('retry-after', '5');
      return { status: 'not_ready', code: 'INGEST_NOT_READY', checks: report.checks };
    }
    return { status: 'ready', checks: report.checks };
  });

  app.get('/metrics', async (_request, reply) => {
    reply.header('content-type', ctx.metrics.registry.contentType);
    return ctx.metrics.registry.metrics();
  });
}
