import { createServer, type Server, type Socket } from 'node:net';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { createServiceKafka } from '@livechat-pipeline/service-host';
import { waitFor } from '@livechat-pipeline/testkit';
import { PartitionCountWatch } from '../src/partition-watch.js';

// A "broker" that accepts connections and never answers: a metadata read against it hangs for kafkajs's request
// timeout and retries. The ingest's shutdown (which closes the spool after the watch) must not wait for it.
const sockets = new Set<Socket>();
let server: Server | undefined;
afterAll(async () => {
  for (const socket of sockets) socket.destroy();
  await new Promise<void>((resolve) => (server === undefined ? resolve() : server.close(() => resolve())));
});

describe('the partition-count watch against a broker that never answers', () => {
  it('stops at once, without waiting for the metadata read in flight', async () => {
    server = createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    const kafka = createServiceKafka({
      clientId: 'silent',
      brokers: [`127.0.0.1:${port}`],
      logger: pino({ level: 'silent' }),
      requestTimeoutMs: 30_000,
      security: {},
    });
    let grown = 0;
    const watch = new PartitionCountWatch({
      kafka,
      topic: 'any',
      intervalMs: 10,
      target: { partitionCount: 1, growPartitions: () => (grown++, true) },
      producers: [],
      logger: pino({ level: 'silent' }),
    });
    watch.start();
    await waitFor(() => sockets.size > 0, { timeoutMs: 10_000, message: 'a metadata read in flight' });
    const started = performance.now();
    await watch.stop();
    expect(performance.now() - started).toBeLessThan(500);
    expect(grown).toBe(0);
  });
});
