import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { Kafka, logLevel } from 'kafkajs';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { createTopic, stackEndpoints, testKafka, uniqueName, waitFor } from '@livechat-pipeline/testkit';
import { createNormalizerMetrics, type NormalizerMetrics } from '../src/metrics.js';
import { startMetricsRefresh, type MetricsRefresh } from '../src/metrics-refresh.js';

async function produce(topic: string, partition: number, count: number): Promise<void> {
  const producer = testKafka('metrics-refresh-producer').producer({ idempotent: true });
  await producer.connect();
  try {
    await producer.send({
      topic,
      acks: -1,
      messages: Array.from({ length: count }, (_, i) => ({ partition, key: `k${i}`, value: `v${i}` })),
    });
  } finally {
    await producer.disconnect();
  }
}

async function valueOf(metrics: NormalizerMetrics, name: string, labels: Record<string, string>) {
  const metric = metrics.registry.getSingleMetric(name);
  const found = (await metric?.get())?.values.find((v) =>
    Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want),
  );
  return found?.value;
}

/** A free local port with nothing listening on it (yet). */
async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A TCP proxy on `port` to the stack's first broker (the seed; the broker's metadata names its own address). */
async function proxyToBroker(port: number): Promise<net.Server> {
  const [host, brokerPort] = stackEndpoints().kafkaBrokers[0]!.split(':');
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(brokerPort), host);
    client.pipe(upstream).pipe(client);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return server;
}

describe("the normalizer's lag and dead-letter gauges without any batch", () => {
  let refresh: MetricsRefresh | undefined;
  let proxy: net.Server | undefined;
  afterAll(async () => {
    await refresh?.stop();
    await new Promise((resolve) => (proxy ? proxy.close(resolve) : resolve(undefined)));
  });

  it('connects again after a failed connect (Kafka unreachable when the normalizer started)', async () => {
    // given: a raw topic with 2 records nobody consumed, and a broker address where nothing listens yet
    const rawTopic = uniqueName('lagretry');
    const deadLetterTopic = uniqueName('lagretry-dlq');
    await createTopic(rawTopic, 1);
    await createTopic(deadLetterTopic, 1);
    await produce(rawTopic, 0, 2);
    const port = await freePort();
    const kafka = new Kafka({
      clientId: 'lag-refresh-retry',
      brokers: [`127.0.0.1:${port}`],
      logLevel: logLevel.NOTHING,
      connectionTimeout: 500,
      retry: { retries: 0 },
    });
    const metrics = createNormalizerMetrics();
    let failures = 0;
    const logger = pino({ level: 'warn' }, { write: () => void failures++ });
    refresh = startMetricsRefresh(
      kafka,
      { groupId: uniqueName('lagretry-group'), rawTopic, deadLetterTopic, metricsRefreshMs: 200 },
      metrics,
      logger,
    );
    await waitFor(() => failures > 0, { message: 'the first refresh fails', timeoutMs: 10_000 });

    // when: the broker becomes reachable at that address
    proxy = await proxyToBroker(port);

    // then: a later refresh connects and sets the gauges
    await waitFor(
      async () =>
        (await valueOf(metrics, 'normalizer_partition_lag', { topic: rawTopic, partition: '0' })) === 2,
      { message: 'lag 2 after the broker became reachable', timeoutMs: 15_000 },
    );
    await refresh.stop();
    refresh = undefined;
  });

  it('reads every partition of the group (committed or not) and the dead-letter topic from Kafka', async () => {
    // given: a raw topic whose group committed 2 of 5 records on partition 0 and nothing of 3 on partition 1
    // (no normalizer runs: a dead or stuck one processes nothing), and 4 dead letters
    const rawTopic = uniqueName('lagraw');
    const deadLetterTopic = uniqueName('lagraw-dlq');
    const groupId = uniqueName('lag-group');
    await createTopic(rawTopic, 2);
    await createTopic(deadLetterTopic, 1);
    await produce(rawTopic, 0, 5);
    await produce(rawTopic, 1, 3);
    await produce(deadLetterTopic, 0, 4);
    const admin = testKafka('lag-admin').admin();
    await admin.connect();
    await admin.setOffsets({ groupId, topic: rawTopic, partitions: [{ partition: 0, offset: '2' }] });
    await admin.disconnect();

    // when: the refresh runs
    const metrics = createNormalizerMetrics();
    refresh = startMetricsRefresh(
      testKafka('lag-refresh'),
      { groupId, rawTopic, deadLetterTopic, metricsRefreshMs: 200 },
      metrics,
      pino({ level: 'silent' }),
    );

    // then: lag 3 and 3, 4 dead letters
    const lag = (partition: string) =>
      valueOf(metrics, 'normalizer_partition_lag', { group: groupId, topic: rawTopic, partition });
    await waitFor(async () => (await lag('0')) === 3 && (await lag('1')) === 3, {
      message: 'lag 3 on both partitions',
      timeoutMs: 10_000,
    });
    expect(await valueOf(metrics, 'normalizer_dead_letter_topic_records', { topic: deadLetterTopic })).toBe(
      4,
    );

    // and: a record arriving later shows at the next refresh, with no batch
    await produce(rawTopic, 1, 2);
    await waitFor(async () => (await lag('1')) === 5, { message: 'lag 5 on partition 1', timeoutMs: 10_000 });
  });
});
