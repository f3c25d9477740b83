// The baseline of the benchmark: a bare fastify route that parses the same JSON body and answers 200.
import Fastify from 'fastify';

const app = Fastify({ logger: false, bodyLimit: 5 * 1024 * 1024 });
app.post('/webhooks/livechat', async (request) => {
  const body = request.body as { action?: unknown };
  return { status: 'ok', action: typeof body.action === 'string' ? body.action : null };
});
const address = await app.listen({ host: '127.0.0.1', port: Number(process.env['BARE_PORT'] ?? 0) });
process.stdout.write(`${JSON.stringify({ listening: address })}\n`);
const stop = () => void app.close().then(() => process.exit(0));
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
