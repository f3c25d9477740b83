import {
  ServiceConfigError,
  createServiceLogger,
  createOperationsServer,
  runMain,
  stopOnSignals,
} from '@livechat-pipeline/service-host';
import { loadNormalizerConfig } from './config.js';
import { startNormalizer } from './start.js';

runMain(
  'normalizer',
  async () => {
    const config = loadNormalizerConfig(process.env);
    const logger = createServiceLogger({ service: 'normalizer', level: config.logLevel });
    const running = await startNormalizer(config, logger);
    const server = createOperationsServer(running.metrics.registry, async () => ({
      ok: running.normalizer.ready,
    }));
    server.listen(config.http.port, config.http.host);
    logger.info(
      { raw: config.rawTopic, out: config.chatEventsTopic.name, group: config.groupId },
      'normalizer running',
    );
    stopOnSignals(
      logger,
      async () => {
        server.close();
        await running.stop();
      },
      15_000,
    );
  },
  (error) => error instanceof ServiceConfigError,
);
