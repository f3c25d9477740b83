import { once } from 'node:events';
import { Startup, runMain, stopOnSignals } from '@livechat-pipeline/service-host';
import { IngestConfigError } from './errors.js';
import { buildApp } from './app.js';
import { loadIngestConfig } from './config.js';
import { createIngestDeps } from './deps.js';
import { createLogger } from './logger.js';
import { createIngestMetrics } from './metrics.js';
import { createIngestOperationsServer } from './operations.js';

runMain(
  'ingest',
  async () => {
    const config = loadIngestConfig(process.env);
    const logger = createLogger(config);
    const metrics = createIngestMetrics();
    const startup = new Startup({ timeoutMs: config.startupTimeoutMs, logger });
    const runtime = await createIngestDeps(config, logger, metrics, startup);
    const app = await buildApp(config, runtime.deps);
    const operations = createIngestOperationsServer({ readiness: runtime.deps.readiness, metrics, logger });

    stopOnSignals(
      logger,
      async () => {
        await app.close(); // stops accepting, waits for in-flight requests
        await new Promise<void>((resolve) => {
          operations.close(() => resolve()); // also when it never listened
          operations.closeAllConnections();
        });
        await runtime.close(); // flushes the batcher, disconnects the producers and the tenant registry
      },
      config.http.shutdownTimeoutMs,
    );

    operations.listen(config.operations.port, config.operations.host);
    await once(operations, 'listening');
    const address = await app.listen({ host: config.http.host, port: config.http.port });
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
