import { trace } from '@opentelemetry/api';
import { createServiceLogger, runMain, stopOnSignals } from '../../src/index.js';

// A service shell as main.ts uses it: runMain starts tracing from the environment, stopOnSignals flushes it.
// It ends one span, says "ready" and waits for a signal: the span is exported only if the shutdown flushes it
// (the batch processor's own timer is far away).
runMain(
  'traced-fixture',
  async () => {
    const logger = createServiceLogger({ service: 'traced-fixture', level: 'silent' });
    const keepAlive = setInterval(() => {}, 60_000);
    stopOnSignals(
      logger,
      () => {
        clearInterval(keepAlive);
        return Promise.resolve();
      },
      10_000,
    );
    trace.getTracer('fixture').startSpan('fixture work').end();
    process.stdout.write('ready\n');
    await Promise.resolve();
  },
  () => false,
);
