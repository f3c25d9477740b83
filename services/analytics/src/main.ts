import { pino } from 'pino';
import {
  ServiceConfigError,
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
    const logger = pino({ level: config.logLevel, base: { service: 'analytics' } });
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
