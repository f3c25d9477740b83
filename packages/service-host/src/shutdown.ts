import type { Logger } from 'pino';
import { shutdownTracing, startTracing, tracingConfigFromEnv } from './tracing.js';
import { createServiceLogger } from './logger.js';

/**
 * On SIGINT/SIGTERM: log, run `stop` (finish the work in hand, disconnect), flush the spans still buffered (when
 * tracing is on), exit 0; exit 1 when it fails or takes longer than `timeoutMs`.
 */
export function stopOnSignals(logger: Logger, stop: () => Promise<void>, timeoutMs: number): void {
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down (finishing the work in hand)');
    const force = setTimeout(() => {
      logger.error({ timeoutMs }, 'shutdown timed out');
      process.exit(1);
    }, timeoutMs);
    force.unref();
    stop()
      .finally(() =>
        flushTracing().catch((error: unknown) =>
          logger.warn(
            { err: { message: error instanceof Error ? error.message : String(error) } },
            'tracing: flush failed',
          ),
        ),
      )
      .then(
        () => {
          logger.info('shut down cleanly');
          process.exit(0);
        },
        (error: unknown) => {
          logger.error(
            { err: { message: error instanceof Error ? error.message : String(error) } },
            'shutdown failed',
          );
          process.exit(1);
        },
      );
  };
  process.once('SIGINT', () => shutdown('SIGINT'));
  process.once('SIGTERM', () => shutdown('SIGTERM'));
}

/** At most this long for the last spans: a collector that is down must not turn a clean stop into a timeout. */
const TRACING_FLUSH_MS = 5_000;

function flushTracing(): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, TRACING_FLUSH_MS);
    timer.unref();
  });
  return Promise.race([shutdownTracing(), bound]).finally(() => clearTimeout(timer));
}

/**
 * Runs a service's main(): a configuration error is one message and exit 2, anything else exit 1. Tracing
 * (OTEL_EXPORTER_OTLP_ENDPOINT, see tracing.ts) is started first, so start-up work is traced too.
 */
export function runMain(
  service: string,
  main: () => Promise<void>,
  isConfigError: (error: unknown) => boolean,
  /** The variable the service reads its log level from (the level of tracing's own lines). */
  logLevelVariable = 'LOG_LEVEL',
): void {
  let tracingConfig;
  try {
    tracingConfig = tracingConfigFromEnv(process.env, service, logLevelVariable);
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(2);
  }
  startTracing(tracingConfig, createServiceLogger({ service, level: tracingConfig.logLevel ?? 'info' }));
  main().catch((error: unknown) => {
    if (isConfigError(error)) {
      process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(2);
    }
    process.stderr.write(
      `${service} failed to start: ${error instanceof Error ? error.message : String(error)}\n`,
    );
    process.exit(1);
  });
}
