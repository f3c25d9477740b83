import type { FastifyInstance } from 'fastify';

/**
 * `GET /healthz` (process alive) on the webhook port, for load balancers. `/readyz` and `/metrics` live on the
 * operations port only (src/operations.ts).
 */
export function registerHealthRoutes(app: FastifyInstance): void {
  app.get('/healthz', async () => ({ status: 'ok' }));
}
