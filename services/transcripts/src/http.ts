import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';
import type { ReadyReport } from '@livechat-pipeline/postgres-consumer';

/** /healthz (process alive), /readyz (Postgres reachable and joined the group), /metrics (Prometheus). */
export function createOperationsServer(registry: Registry, ready: () => Promise<ReadyReport>): Server {
  return createServer((req, res) => {
    if (req.url === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
    } else if (req.url === '/readyz') {
      ready().then(
        (report) => res.writeHead(report.ok ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify(report)),
        () => res.writeHead(503, { 'content-type': 'application/json' }).end('{"ok":false}'),
      );
    } else if (req.url === '/metrics') {
      registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
        () => res.writeHead(500).end(),
      );
    } else {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"code":"NOT_FOUND"}');
    }
  });
}
