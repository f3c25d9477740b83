import { Startup } from '@livechat-pipeline/service-host';
import { IngestConfigError } from './errors.js';
import { buildApp } from './app.js';
import { loadIngestConfig } from './config.js';
import { createIngestDeps } from './deps.js';
import { createIngestVerifier } from './auth/tenant-registry-verifier.js';
import { createLogger } from './logger.js';
import { createIngestMetrics } from './metrics.js';
import { createIngestOperationsServer } from './operations.js';

/** Loads config once, connects to the stack, listens, and shuts down gracefully on SIGINT/SIGTERM. */
async function main(): Promise<void> {
  let config;
  try {
    config = loadIngestConfig(process.env);
  } catch (err) {
    if (err instanceof IngestConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const logger = createLogger(config);
  const metrics = createIngestMetrics();
  const startup = new Startup({ timeoutMs: config.startupTimeoutMs, logger });
  const runtime = await createIngestDeps(config, logger, metrics, startup);
  const verifier = await startup.step('connect to the tenant registry', () => createIngestVerifier(config, runtime.deps.verifier, logger));
  const app = await buildApp(config, { ...runtime.deps, verifier: verifier.verifier });

  const operations = createIngestOperationsServer({ readiness: runtime.deps.readiness, metrics, logger });
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    const timer = setTimeout(() => {
      logger.error({ timeoutMs: config.http.shutdownTimeoutMs }, 'shutdown timed out; exiting');
      process.exit(1);
    }, config.http.shutdownTimeoutMs);
    timer.unref();
    try {
      await app.close(); // stops accepting, waits for in-flight requests
      await new Promise<void>((resolve) => {
        operations.close(() => resolve()); // also when it never listened
        operations.closeAllConnections();
      });
      await runtime.close(); // flushes the batcher, disconnects the producer
      await verifier.close();
      logger.info('shut down cleanly');
      process.exit(0);
    } catch (err) {
      logger.error({ err: { message: err instanceof Error ? err.message : String(err) } }, 'shutdown failed');
      process.exit(1);
    }
  };
  process.once('SIGINT', () => void shutdown('SIGINT'));
  process.once('SIGTERM', () => void shutdown('SIGTERM'));

  await new Promise<void>((resolve, reject) => {
    operations.once('error', reject);
    operations.listen(config.operations.port, config.operations.host, () => {
      operations.off('error', reject);
      resolve();
    });
  });
  const address = await app.listen({ host: config.http.host, port: config.http.port });
  logger.info(
    { address, operations: `http://${config.operations.host}:${config.operations.port}`, topic: config.rawTopic.name, schemaId: runtime.schema.id },
    'ingest listening',
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`ingest failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
