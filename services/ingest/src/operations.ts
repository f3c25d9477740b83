import type { Server } from 'node:http';
import { createOperationsServer } from '@livechat-pipeline/service-host';
import type { Logger } from 'pino';
import type { IngestMetrics } from './metrics.js';
import { publicReport } from './readiness.js';
import type { ReadinessProbe } from './readiness.js';

/**
 * The operations server (INGEST_OPERATIONS_HOST:INGEST_OPERATIONS_PORT, loopback by default), apart from the
 * public webhook port: `GET /healthz`, `GET /readyz` (200/503 with which checks passed, no error text),
 * `GET /metrics`. A failed check's detail is logged once per change of readiness, never answered.
 */
export function createIngestOperationsServer(options: {
  readiness: ReadinessProbe;
  metrics: IngestMetrics;
  logger?: Logger;
}): Server {
  let wasReady: boolean | undefined;
  return createOperationsServer(options.metrics.registry, async () => {
    const report = await options.readiness.check();
    if (report.ready !== wasReady) {
      wasReady = report.ready;
      if (!report.ready) {
        const failed = report.checks
          .filter((c) => !c.ok)
          .map((c) => ({ name: c.name, detail: c.detail?.slice(0, 200) }));
        options.logger?.warn({ checks: failed }, 'not ready');
      } else {
        options.logger?.info('ready');
      }
    }
    return publicReport(report);
  });
}
