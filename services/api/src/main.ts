import {
  createOperationsServer,
  createServiceLogger,
  runMain,
  stopOnSignals,
} from '@livechat-pipeline/service-host';
import { buildApi } from './app.js';
import { loadApiConfig } from './config.js';
import { createApiDeps } from './deps.js';
import { ApiConfigError } from './errors.js';

/** How long a graceful shutdown (in-flight requests, the operations server, Postgres) may take before exit 1. */
const SHUTDOWN_TIMEOUT_MS = 15_000;

runMain(
  'api',
  async () => {
    const config = loadApiConfig(process.env);
    const logger = createServiceLogger({ service: 'api', level: config.logLevel });
    const deps = await createApiDeps(config, logger);
    const app = await buildApi(deps);
    const operations = createOperationsServer(deps.metrics.registry, async () => {
      try {
        await deps.pool.query('select 1');
        return { ok: true };
      } catch {
        return { ok: false, postgres: 'unreachable' } as { ok: boolean };
      }
    });
    await new Promise<void>((resolve, reject) => {
      operations.once('error', reject);
      operations.listen(config.operations.port, config.operations.host, () => resolve());
    });
    stopOnSignals(
      logger,
      async () => {
        await app.close();
        operations.close();
        await deps.close();
      },
      SHUTDOWN_TIMEOUT_MS,
    );
    const address = await app.listen({ host: config.http.host, port: config.http.port });
    logger.info(
      {
        address,
        operations: `http://${config.operations.host}:${config.operations.port}`,
        docs: `${address}/docs`,
      },
      'api listening',
    );
  },
  (error) => error instanceof ApiConfigError,
  'API_LOG_LEVEL',
);
