import { describe, expect, it } from 'vitest';
import { loadNormalizerConfig } from '../src/config.js';

describe('normalizer configuration', () => {
  it('defaults to the local stack', () => {
    const config = loadNormalizerConfig({});
    expect(config.kafka.brokers).toEqual(['127.0.0.1:59092']);
    expect(config.rawTopic).toBe('livechat.webhooks.raw');
    expect(config.chatEventsTopic).toEqual({ name: 'livechat.chat-events', partitions: 6 });
  });

  it('names every bad variable in one error', () => {
    expect(() => loadNormalizerConfig({ KAFKA_BROKERS: 'nohostport', CHAT_EVENTS_TOPIC_PARTITIONS: 'many', SCHEMA_REGISTRY_URL: 'nope' })).toThrow(
      /KAFKA_BROKERS[\s\S]*SCHEMA_REGISTRY_URL[\s\S]*CHAT_EVENTS_TOPIC_PARTITIONS|KAFKA_BROKERS[\s\S]*CHAT_EVENTS_TOPIC_PARTITIONS[\s\S]*SCHEMA_REGISTRY_URL/,
    );
  });
});
