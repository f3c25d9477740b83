import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { createTopic, testKafka, uniqueName, waitFor } from '@livechat-pipeline/testkit';
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

describe("the normalizer's lag and dead-letter gauges without any batch", () => {
  let refresh: MetricsRefresh | undefined;
  afterAll(async () => {
    await refresh?.stop();
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
