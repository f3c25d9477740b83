import { runMain, stopOnSignals } from '@livechat-pipeline/service-host';
import { buildApp } from './app.js';
import { loadAppConfig } from './config.js';
import { createAppDeps } from './deps.js';
import { AppConfigError } from './errors.js';
import { createAppLogger } from './logger.js';
import { startAppOperations } from './operations.js';

/** How long a graceful shutdown (in-flight requests, the operations server, Postgres) may take before exit 1. */
const SHUTDOWN_TIMEOUT_MS = 15_000;

runMain(
  'app',
  async () => {
    const config = loadAppConfig(process.env);
    const logger = createAppLogger(config);
    const deps = await createAppDeps(config, logger);
    const app = await buildApp(deps);
    const operations = await startAppOperations(deps, config.operations);
    if (deps.oauth === null)
      logger.warn(
        'LIVECHAT_CLIENT_ID / LIVECHAT_CLIENT_SECRET not set: /app/install answers "not configured"',
      );
    else {
      deps.oauth.tokens.startRefresher(config.tokenRefresh.intervalSeconds);
      deps.archives.jobs.startScheduler();
    }

    stopOnSignals(
      logger,
      async () => {
        await app.close();
        await operations.close();
        await deps.close();
      },
      SHUTDOWN_TIMEOUT_MS,
    );
    const address = await app.listen({ host: config.http.host, port: config.http.port });
    logger.info(
      {
        address,
        operations: operations.url,
        publicUrl: config.publicUrl,
        webhookUrl: config.webhookUrl,
        oauth: deps.oauth !== null,
      },
      'app listening',
    );
  },
  (error) => error instanceof AppConfigError,
  'APP_LOG_LEVEL',
);
