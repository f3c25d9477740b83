/**
 * The normalizer in a worker thread (bench flag --normalizer-thread): its own event loop, as in production
 * where it is its own process, while the projection keeps the main thread. Started with the env the main
 * thread gives it; answers 'started', stops on 'stop' and answers 'stopped'.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { pino, destination } from 'pino';
import { loadNormalizerConfig, startNormalizer } from '@livechat-pipeline/normalizer';

const env = workerData as NodeJS.ProcessEnv;
const logger = pino(
  { level: env['LOG_LEVEL'] ?? 'warn', base: { bench: 'chain', thread: 'normalizer' } },
  destination(2),
);
const running = await startNormalizer(loadNormalizerConfig(env), logger);
parentPort?.postMessage('started');
parentPort?.on('message', (message: unknown) => {
  if (message !== 'stop') return;
  void running.stop().then(() => {
    parentPort?.postMessage('stopped');
    parentPort?.close();
  });
});
