import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';

/** What /readyz answers: `ok` decides 200 or 503; anything else is shown as details. */
export interface Readiness {
  readonly ok: boolean;
}

/** /healthz (process alive), /readyz (the service's own check), /metrics (Prometheus). */
export function createOperationsServer(registry: Registry, ready: () => Promise<Readiness>): Server {
  return createServer((req, res) => {
    const json = (status: number, body: unknown) =>
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (req.url === '/healthz') {
      json(200, { status: 'ok' });
    } else if (req.url === '/readyz') {
      ready().then(
        (report) => json(report.ok ? 200 : 503, report),
        () => json(503, { ok: false }),
      );
    } else if (req.url === '/metrics') {
      registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
        () => res.writeHead(500).end(),
      );
    } else {
      json(404, { code: 'NOT_FOUND' });
    }
  });
}
