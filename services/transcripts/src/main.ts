import { pino } from 'pino';
import { TranscriptsConfigError, loadTranscriptsConfig } from './config.js';
import { createOperationsServer } from './http.js';
import { startTranscripts } from './start.js';

async function main(): Promise<void> {
  let config;
  try {
    config = loadTranscriptsConfig(process.env);
  } catch (error) {
    if (error instanceof TranscriptsConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  const logger = pino({ level: config.logLevel, base: { service: 'transcripts' } });
  const consumer = await startTranscripts(config, logger);
  const server = createOperationsServer(consumer.metricsRegistry, () => consumer.ready());
  server.listen(config.http.port, config.http.host);
  logger.info({ topic: config.chatEventsTopic.name, schema: config.schema }, 'transcripts running');

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down (finishing the batch in hand)');
    const force = setTimeout(() => process.exit(1), 20_000);
    force.unref();
    server.close();
    consumer.stop().then(
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
  process.stderr.write(`transcripts failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
