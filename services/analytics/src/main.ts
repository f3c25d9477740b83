import {
  ServiceConfigError,
  createServiceLogger,
  createOperationsServer,
  runMain,
  stopOnSignals,
} from '@livechat-pipeline/service-host';
import { loadAnalyticsConfig } from './config.js';
import { startAnalytics } from './start.js';

runMain(
  'analytics',
  async () => {
    const config = loadAnalyticsConfig(process.env);
    const logger = createServiceLogger({ service: 'analytics', level: config.logLevel });
    const consumer = await startAnalytics(config, logger);
    const server = createOperationsServer(consumer.metricsRegistry, () => consumer.ready());
    server.listen(config.http.port, config.http.host);
    logger.info({ topic: config.chatEventsTopic.name, schema: config.schema }, 'analytics running');
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
