import { buildApp } from './app.js';
import { loadAppConfig } from './config.js';
import { createAppDeps } from './deps.js';
import { AppConfigError, errorForLog } from './errors.js';
import { createAppLogger } from './logger.js';
import { startAppOperations } from './operations.js';

/** Loads config once, migrates and connects, starts the token refresher, listens; stops on SIGINT/SIGTERM. */
async function main(): Promise<void> {
  let config;
  try {
    config = loadAppConfig(process.env);
  } catch (err) {
    if (err instanceof AppConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const logger = createAppLogger(config);
  const deps = await createAppDeps(config, logger);
  const app = await buildApp(deps);
  const operations = await startAppOperations(deps, config.operations);
  if (deps.oauth === null)
    logger.warn('LIVECHAT_CLIENT_ID / LIVECHAT_CLIENT_SECRET not set: /app/install answers "not configured"');
  else deps.oauth.tokens.startRefresher(config.tokenRefresh.intervalSeconds);

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    try {
      await app.close();
      await operations.close();
      await deps.close();
      process.exit(0);
    } catch (err) {
      logger.error({ err: errorForLog(err) }, 'shutdown failed');
      process.exit(1);
    }
  };
  process.once('SIGINT', () => void shutdown('SIGINT'));
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
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
}

main().catch((err: unknown) => {
  process.stderr.write(`app failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
