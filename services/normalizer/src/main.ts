import { pino } from 'pino';
import { loadNormalizerConfig } from './config.js';
import { NormalizerError } from './errors.js';
import { createOperationsServer } from './http.js';
import { startNormalizer } from './start.js';

async function main(): Promise<void> {
  let config;
  try {
    config = loadNormalizerConfig(process.env);
  } catch (error) {
    if (error instanceof NormalizerError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  const logger = pino({ level: config.logLevel, base: { service: 'normalizer' } });
  const running = await startNormalizer(config, logger);
  const server = createOperationsServer(running.metrics.registry, () => running.normalizer.ready);
  server.listen(config.http.port, config.http.host);
  logger.info({ raw: config.rawTopic, out: config.chatEventsTopic.name, group: config.groupId }, 'normalizer running');

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    const force = setTimeout(() => process.exit(1), 15_000);
    force.unref();
    server.close();
    running.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: { message: error instanceof Error ? error.message : String(error) } }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', () => shutdown('SIGINT'));
  process.once('SIGTERM', () => shutdown('SIGTERM'));
}

main().catch((error: unknown) => {
  process.stderr.write(`normalizer failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
