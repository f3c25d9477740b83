// The baseline of the benchmark: a bare fastify route that parses the same JSON body and answers 200.
// BARE_WORKERS=N (N > 1): N such processes behind one port with node:cluster, the model of INGEST_WORKERS.
import cluster from 'node:cluster';
import Fastify from 'fastify';

const workers = Number(process.env['BARE_WORKERS'] ?? 1);
if (workers > 1 && cluster.isPrimary) {
  for (let i = 0; i < workers; i++) cluster.fork();
  let listening = 0;
  cluster.on('listening', (_worker, address) => {
    if (++listening === workers) process.stdout.write(`${JSON.stringify({ listening: address, workers })}\n`);
  });
  const stop = () => {
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGTERM');
    cluster.on('exit', () => {
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0);
    });
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
} else {
  const app = Fastify({ logger: false, bodyLimit: 5 * 1024 * 1024 });
  app.post('/webhooks/livechat', async (request) => {
    const body = request.body as { action?: unknown };
    return { status: 'ok', action: typeof body.action === 'string' ? body.action : null };
  });
  const address = await app.listen({ host: '127.0.0.1', port: Number(process.env['BARE_PORT'] ?? 0) });
  if (cluster.isPrimary) process.stdout.write(`${JSON.stringify({ listening: address })}\n`);
  const stop = () => void app.close().then(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}
