import { describe, expect, it } from 'vitest';
import { Kafka, logLevel } from 'kafkajs';
import { createTopic, stackEndpoints, testKafka, uniqueName } from '@livechat-pipeline/testkit';
import { EventsError, ensureTopic, topicSpecs, waitForTopic } from '../src/index.js';

/** A client of its own per simulated service, as separate processes would have. */
const serviceKafka = (clientId: string) =>
  new Kafka({
    clientId,
    brokers: stackEndpoints().kafkaBrokers,
    logLevel: logLevel.NOTHING,
    retry: { retries: 3, initialRetryTime: 100 },
  });

async function topicConfig(topic: string, names: string[]): Promise<Record<string, string>> {
  const admin = testKafka('topic-admin-test').admin();
  await admin.connect();
  try {
    const { resources } = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [{ type: 2, name: topic, configNames: names }],
    });
    return Object.fromEntries((resources[0]?.configEntries ?? []).map((e) => [e.configName, e.configValue]));
  } finally {
    await admin.disconnect();
  }
}

describe('ensureTopic on the real broker', () => {
  it('lets several services create the same topics at the same moment: one creates each, all return with leaders known', async () => {
    // 10 new topics × 8 creators at once: with the first version, most creators failed with "This server does not
    // host this topic-partition" (UNKNOWN_TOPIC_OR_PARTITION while the new topics' metadata spread), as seen live.
    const topics = Array.from({ length: 10 }, () => uniqueName('race'));
    const failures: string[] = [];
    const created = await Promise.all(
      topics.map(async (topic) => {
        const spec = topicSpecs.chatEvents({ topic, partitions: 24, replicationFactor: 1 });
        const results = await Promise.all(
          Array.from({ length: 8 }, (_, i) =>
            ensureTopic(serviceKafka(`svc-${i}`), spec).catch((e: unknown) => {
              failures.push(
                `${topic}: ${e instanceof Error ? `${e.message} / ${String((e.cause as Error | undefined)?.message)}` : String(e)}`,
              );
              return false;
            }),
          ),
        );
        return results.filter(Boolean).length;
      }),
    );
    expect(failures).toEqual([]);
    expect(created).toEqual(topics.map(() => 1));
    // Returned means usable: every partition has a leader for a client that never saw the topics.
    const admin = serviceKafka('checker').admin();
    await admin.connect();
    try {
      const metadata = await admin.fetchTopicMetadata({ topics });
      for (const t of metadata.topics) {
        expect(t.partitions).toHaveLength(24);
        expect(t.partitions.every((p) => p.leader >= 0)).toBe(true);
      }
    } finally {
      await admin.disconnect();
    }
    expect(await topicConfig(topics[0]!, ['max.message.bytes', 'retention.ms'])).toEqual({
      'max.message.bytes': '8388608',
      'retention.ms': '-1',
    });
  });

  it('returns false for a topic another client created without waiting for its leaders, once its leaders are known', async () => {
    const topic = uniqueName('just-created');
    const other = serviceKafka('other').admin();
    await other.connect();
    try {
      await other.createTopics({
        waitForLeaders: false,
        topics: [
          {
            topic,
            numPartitions: 3,
            configEntries: [
              { name: 'retention.ms', value: '-1' },
              { name: 'max.message.bytes', value: '8388608' },
            ],
          },
        ],
      });
    } finally {
      await other.disconnect();
    }
    expect(
      await ensureTopic(
        serviceKafka('me'),
        topicSpecs.chatEvents({ topic, partitions: 3, replicationFactor: 1 }),
      ),
    ).toBe(false);
  });

  it('refuses an existing topic whose max.message.bytes is too small, with one line naming the setting and the command', async () => {
    const topic = uniqueName('small');
    await createTopic(topic, 1, [
      { name: 'max.message.bytes', value: '1048588' },
      { name: 'retention.ms', value: '-1' },
    ]);
    const error = await ensureTopic(
      testKafka('svc'),
      topicSpecs.chatEvents({ topic, partitions: 1, replicationFactor: 1 }),
      {
        brokers: stackEndpoints().kafkaBrokers,
      },
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EventsError);
    const e = error as EventsError;
    expect(e.code).toBe('EVENTS_TOPIC_MISCONFIGURED');
    expect(e.retryable).toBe(false);
    expect(e.message).not.toContain('\n');
    expect(e.message).toBe(
      `topic ${topic}: max.message.bytes is 1048588, needs at least 8388608; change it with: kafka-configs.sh --bootstrap-server ${stackEndpoints().kafkaBrokers.join(',')} --alter --entity-type topics --entity-name ${topic} --add-config max.message.bytes=8388608`,
    );
  });

  it('creates a topic with min.insync.replicas, and refuses an existing one with fewer (a cluster default of 1)', async () => {
    const created = uniqueName('min-isr');
    // A replication factor of 1 is all one broker has; min.insync.replicas is a topic config all the same.
    await ensureTopic(
      testKafka('svc'),
      topicSpecs.chatEvents({ topic: created, partitions: 1, replicationFactor: 1, minInsyncReplicas: 1 }),
    );
    expect(await topicConfig(created, ['min.insync.replicas'])).toEqual({ 'min.insync.replicas': '1' });

    const existing = uniqueName('min-isr-short');
    await createTopic(existing, 1, [
      { name: 'max.message.bytes', value: '8388608' },
      { name: 'retention.ms', value: '-1' },
      { name: 'retention.bytes', value: '-1' },
    ]);
    const error = await ensureTopic(
      testKafka('svc'),
      topicSpecs.rawWebhook({
        topic: existing,
        partitions: 1,
        replicationFactor: 1,
        minInsyncReplicas: 2,
        maxMessageBytes: 1024 * 1024,
      }),
      { brokers: stackEndpoints().kafkaBrokers },
    ).catch((e: unknown) => e);
    expect((error as EventsError).code).toBe('EVENTS_TOPIC_MISCONFIGURED');
    expect((error as EventsError).message).toBe(
      `topic ${existing}: min.insync.replicas is 1, needs at least 2; change it with: kafka-configs.sh --bootstrap-server ${stackEndpoints().kafkaBrokers.join(',')} --alter --entity-type topics --entity-name ${existing} --add-config min.insync.replicas=2`,
    );
  });

  it('names every setting that falls short (retention too) in the same line', async () => {
    const topic = uniqueName('defaults');
    await createTopic(topic, 1, [{ name: 'retention.ms', value: String(7 * 24 * 3600 * 1000) }]); // and the broker's 1 MiB
    const error = await ensureTopic(
      testKafka('svc'),
      topicSpecs.normalizerDeadLetters({ topic, replicationFactor: 1 }),
    ).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'EVENTS_TOPIC_MISCONFIGURED' });
    const message = (error as Error).message;
    expect(message).toMatch(
      new RegExp(
        `^topic ${topic}: retention\\.ms is 604800000, needs -1; max\\.message\\.bytes is \\d+, needs at least 8388608; change it with: kafka-configs\\.sh `,
      ),
    );
    expect(message).toContain(
      `--entity-name ${topic} --add-config retention.ms=-1,max.message.bytes=8388608`,
    );
  });

  it('accepts an existing topic with the settings needed (or more room)', async () => {
    const topic = uniqueName('roomy');
    await createTopic(topic, 2, [
      { name: 'max.message.bytes', value: String(16 * 1024 * 1024) },
      { name: 'retention.ms', value: '-1' },
    ]);
    expect(
      await ensureTopic(
        testKafka('svc'),
        topicSpecs.chatEvents({ topic, partitions: 2, replicationFactor: 1 }),
      ),
    ).toBe(false);
  });

  it('waitForTopic waits for a topic another service creates, and fails retryably when it never comes', async () => {
    const topic = uniqueName('later');
    const waiting = waitForTopic(serviceKafka('reader'), topic, { timeoutMs: 20_000 });
    await createTopic(topic, 2);
    await expect(waiting).resolves.toBeUndefined();
    const missing = await waitForTopic(serviceKafka('reader'), uniqueName('never'), { timeoutMs: 500 }).catch(
      (e: unknown) => e,
    );
    expect(missing).toMatchObject({ code: 'EVENTS_TOPIC_CREATE_FAILED', retryable: true });
  });
});
