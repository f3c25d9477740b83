import cluster from 'node:cluster';
import { once } from 'node:events';
import { Startup, runMain, stopOnSignals } from '@livechat-pipeline/service-host';
import { IngestConfigError } from './errors.js';
import { loadIngestConfig } from './config.js';
import { createLogger } from './logger.js';
import {
  announceListening,
  refuseStrandedSpools,
  runPrimary,
  sendHeartbeats,
  serveWorkerOperations,
  workerIndex,
} from './workers.js';

runMain(
  'ingest',
  async () => {
    const config = loadIngestConfig(process.env);
    // Spool directories another INGEST_WORKERS wrote and this one would never drain (src/workers.ts).
    if (cluster.isPrimary) await refuseStrandedSpools(config);
    // INGEST_WORKERS > 1: this process supervises N workers that share the public port (src/workers.ts).
    if (config.workers > 1 && cluster.isPrimary) return runPrimary(config, createLogger(config));
    // Loaded here, not at the top: the primary of INGEST_WORKERS > 1 never serves webhooks and stays small.
    const [{ buildApp }, { createIngestDeps }, { createIngestMetrics }, { createIngestOperationsServer }] =
      await Promise.all([
        import('./app.js'),
        import('./deps.js'),
        import('./metrics.js'),
        import('./operations.js'),
      ]);
    const worker = workerIndex();
    if (worker !== undefined) sendHeartbeats(); // the primary's /healthz fails when a worker falls silent
    const logger = worker === undefined ? createLogger(config) : createLogger(config).child({ worker });
    const metrics = createIngestMetrics();
    const startup = new Startup({ timeoutMs: config.startupTimeoutMs, logger });
    const runtime = await createIngestDeps(config, logger, metrics, startup);
    const app = await buildApp(config, runtime.deps);
    // A worker has no operations server of its own: the primary's asks it over the IPC channel.
    const operations =
      worker === undefined
        ? createIngestOperationsServer({ readiness: runtime.deps.readiness, metrics, logger })
        : undefined;
    if (worker !== undefined) serveWorkerOperations(runtime.deps.readiness, metrics.registry);

    stopOnSignals(
      logger,
      async () => {
        await app.close(); // stops accepting, waits for in-flight requests
        if (operations !== undefined)
          await new Promise<void>((resolve) => {
            operations.close(() => resolve()); // also when it never listened
            operations.closeAllConnections();
          });
        await runtime.close(); // flushes the batcher, disconnects the producers and the tenant registry
      },
      config.http.shutdownTimeoutMs,
    );

    if (operations !== undefined) {
      operations.listen(config.operations.port, config.operations.host);
      await once(operations, 'listening');
    }
    const address = await app.listen({ host: config.http.host, port: config.http.port });
    if (worker !== undefined) announceListening();
    logger.info(
      {
        address,
        operations: `http://${config.operations.host}:${config.operations.port}`,
        topic: config.rawTopic.name,
        schemaId: runtime.schema.id,
      },
      'ingest listening',
    );
  },
  (error) => error instanceof IngestConfigError,
  'INGEST_LOG_LEVEL',
);
