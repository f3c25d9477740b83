import {
  ServiceConfigError,
  createServiceLogger,
  createOperationsServer,
  runMain,
  stopOnSignals,
} from '@livechat-pipeline/service-host';
import { loadTranscriptsConfig } from './config.js';
import { startTranscripts } from './start.js';

runMain(
  'transcripts',
  async () => {
    const config = loadTranscriptsConfig(process.env);
    const logger = createServiceLogger({ service: 'transcripts', level: config.logLevel });
    const consumer = await startTranscripts(config, logger);
    const server = createOperationsServer(consumer.metricsRegistry, () => consumer.ready());
    server.listen(config.http.port, config.http.host);
    logger.info({ topic: config.chatEventsTopic.name, schema: config.schema }, 'transcripts running');
    stopOnSignals(
      logger,
      async () => {
        server.close();
        await consumer.stop();
      },
      20_000,
    );
  },
  (error) => error instanceof ServiceConfigError,
);
