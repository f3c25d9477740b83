import {
  ServiceConfigError,
  createServiceLogger,
  createOperationsServer,
  runMain,
  stopOnSignals,
} from '@livechat-pipeline/service-host';
import { loadCrmSyncConfig } from './config.js';
import { startCrmSync } from './start.js';

runMain(
  'crm-sync',
  async () => {
    const config = loadCrmSyncConfig(process.env);
    const logger = createServiceLogger({ service: 'crm-sync', level: config.logLevel });
    if (config.hubspot.accessToken === null)
      logger.warn('HUBSPOT_ACCESS_TOKEN is not set: threads are recorded in the outbox and wait for a token');
    const crm = await startCrmSync(config, logger);
    const server = createOperationsServer(crm.metricsRegistry, () => crm.ready());
    server.listen(config.http.port, config.http.host);
    logger.info(
      { topic: config.chatEventsTopic.name, schema: config.schema, hubspot: config.hubspot.apiUrl },
      'crm-sync running',
    );
    stopOnSignals(
      logger,
      async () => {
        server.close();
        await crm.stop();
      },
      20_000,
    );
  },
  (error) => error instanceof ServiceConfigError,
);
