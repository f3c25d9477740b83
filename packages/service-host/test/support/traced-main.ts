import { trace } from '@opentelemetry/api';
import { createServiceLogger, runMain, stopOnSignals } from '../../src/index.js';

// A service shell as main.ts uses it: runMain starts tracing from the environment, stopOnSignals flushes it.
// It starts one span, says "ready" and waits for a signal; the span ends only in `stop`, i.e. after the signal, so
// the batch processor's own timer cannot have exported it: it reaches the receiver only through the shutdown flush.
runMain(
  'traced-fixture',
  async () => {
    const logger = createServiceLogger({ service: 'traced-fixture', level: 'silent' });
    const keepAlive = setInterval(() => {}, 60_000);
    const span = trace.getTracer('fixture').startSpan('fixture work');
    stopOnSignals(
      logger,
      () => {
        span.end();
        clearInterval(keepAlive);
        return Promise.resolve();
      },
      10_000,
    );
    process.stdout.write('ready\n');
    await Promise.resolve();
  },
  () => false,
);
