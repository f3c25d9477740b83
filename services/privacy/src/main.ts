import {
  ServiceConfigError,
  createOperationsServer,
  createServiceLogger,
  runMain,
  stopOnSignals,
} from '@livechat-pipeline/service-host';
import { loadPrivacyServiceConfig } from './config.js';
import { startPrivacyService } from './start.js';

runMain(
  'privacy',
  async () => {
    const config = loadPrivacyServiceConfig(process.env);
    const logger = createServiceLogger({ service: 'privacy', level: config.logLevel });
    const running = await startPrivacyService(config, logger);
    const server = createOperationsServer(running.metrics.registry, async () => {
      try {
        await running.runtime.vaultPool.query('select 1');
        return { ok: true };
      } catch {
        return { ok: false, postgres: 'unreachable' } as { ok: boolean };
      }
    });
    server.listen(config.operations.port, config.operations.host);
    logger.info(
      {
        projections: config.projections.map((p) => `${p.name}:${p.schema}`),
        retention_days: config.retentionDays,
        retention_interval_ms: config.retentionIntervalMs,
        sweep_interval_ms: config.sweepIntervalMs,
      },
      'privacy service running',
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
  'PRIVACY_LOG_LEVEL',
);
