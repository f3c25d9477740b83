import { describe, expect, it } from 'vitest';
import { CHAT_EVENTS_MAX_MESSAGE_BYTES, TOPICS, topicSpecs, type TopicSpec } from '../src/index.js';

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
