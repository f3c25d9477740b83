import { describe, expect, it } from 'vitest';
import {
  CHAT_EVENTS_MAX_MESSAGE_BYTES,
  TOPICS,
  topicSpecs,
  unreplicatedRefusal,
  withReplicatedRequirements,
  type TopicSpec,
} from '../src/index.js';

const all: TopicSpec[] = [
  topicSpecs.rawWebhook({
    partitions: 6,
    replicationFactor: 1,
    maxMessageBytes: 5 * 1024 * 1024 + 256 * 1024,
  }),
  topicSpecs.chatEvents({ partitions: 6, replicationFactor: 1 }),
  topicSpecs.normalizerDeadLetters({ replicationFactor: 1 }),
  topicSpecs.consumerDeadLetters({ topic: 'transcripts.dlq', replicationFactor: 1 }),
];

describe('topic specs', () => {
  it('default to the pipeline topic names', () => {
    expect(all.slice(0, 3).map((s) => s.topic)).toEqual([
      TOPICS.rawWebhook,
      TOPICS.chatEvents,
      TOPICS.normalizerDeadLetters,
    ]);
  });

  it('create every topic with settings that meet its own requirements (kept forever, room for what is written)', () => {
    for (const spec of all) {
      expect(spec.requires?.length).toBeGreaterThan(0);
      for (const r of spec.requires ?? []) {
        const value = spec.configs?.[r.config];
        expect(value, `${spec.topic} ${r.config}`).toBeDefined();
        if ('equals' in r) expect(value).toBe(r.equals);
        else expect(Number(value)).toBeGreaterThanOrEqual(r.atLeast);
      }
      expect(spec.configs?.['retention.ms']).toBe('-1');
    }
  });

  it('give every creator of livechat.chat-events the same settings, whatever else differs', () => {
    const writer = topicSpecs.chatEvents({ partitions: 6, replicationFactor: 1 });
    const reader = topicSpecs.chatEvents({ partitions: 6, replicationFactor: 1 });
    expect(reader).toEqual(writer);
    expect(writer.configs?.['max.message.bytes']).toBe(String(CHAT_EVENTS_MAX_MESSAGE_BYTES));
  });

  it('let a dead-letter topic hold any chat-event record byte for byte', () => {
    const dlq = topicSpecs.consumerDeadLetters({ topic: 'x.dlq', replicationFactor: 1 });
    expect(Number(dlq.configs?.['max.message.bytes'])).toBeGreaterThanOrEqual(CHAT_EVENTS_MAX_MESSAGE_BYTES);
  });
});

describe('replication of the topics the services create', () => {
  const spec = (o: {
    replicationFactor: number;
    minInsyncReplicas?: number;
    allowSingleInsyncReplica?: boolean;
  }) => topicSpecs.chatEvents({ topic: 't', partitions: 6, ...o });
  const minIsr = (s: ReturnType<typeof spec>) => s.requires?.find((r) => r.config === 'min.insync.replicas');

  it('refuses to create a topic of one replica on a cluster of several brokers, unless a single copy is accepted', () => {
    expect(unreplicatedRefusal(spec({ replicationFactor: 1 }), 1)).toBeUndefined();
    expect(unreplicatedRefusal(spec({ replicationFactor: 3 }), 3)).toBeUndefined();
    expect(unreplicatedRefusal(spec({ replicationFactor: 1 }), 3)).toBe(
      "topic t would be created with replication factor 1 on a cluster of 3 brokers (one broker's loss would lose acknowledged records): set KAFKA_REPLICATION_FACTOR (3 on three brokers or more), or KAFKA_ALLOW_SINGLE_INSYNC_REPLICA=true to accept a single copy",
    );
    expect(
      unreplicatedRefusal(spec({ replicationFactor: 1, allowSingleInsyncReplica: true }), 3),
    ).toBeUndefined();
  });

  it('requires 2 in-sync replicas of a topic that actually has several replicas, whatever the configured factor', () => {
    // KAFKA_REPLICATION_FACTOR forgotten (1), the existing topic has 3 replicas: min.insync.replicas=1 is refused.
    expect(minIsr(withReplicatedRequirements(spec({ replicationFactor: 1 }), 3))).toEqual({
      config: 'min.insync.replicas',
      atLeast: 2,
    });
    expect(minIsr(withReplicatedRequirements(spec({ replicationFactor: 1 }), 1))).toEqual({
      config: 'min.insync.replicas',
      atLeast: 1,
    });
    expect(
      minIsr(withReplicatedRequirements(spec({ replicationFactor: 3, minInsyncReplicas: 3 }), 3)),
    ).toEqual({ config: 'min.insync.replicas', atLeast: 3 });
    expect(
      minIsr(withReplicatedRequirements(spec({ replicationFactor: 1, allowSingleInsyncReplica: true }), 3)),
    ).toEqual({ config: 'min.insync.replicas', atLeast: 1 });
  });
});
