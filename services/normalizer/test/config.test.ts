import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { loadNormalizerConfig } from '../src/config.js';

describe('normalizer configuration', () => {
  it('defaults to the local stack', () => {
    const config = loadNormalizerConfig({});
    expect(config.kafka.brokers).toEqual(['127.0.0.1:59092']);
    expect(config.rawTopic).toBe('livechat.webhooks.raw');
    expect(config.chatEventsTopic).toEqual({ name: 'livechat.chat-events', partitions: 6 });
    expect(config.limits).toEqual({
      parse: { maxEvents: 10_000, maxThreads: 1_000, maxUsers: 1_000, maxDepth: 100 },
      maxOutputBytes: 4 * 1024 * 1024,
    });
  });

  it('reads the per-webhook limits', () => {
    const config = loadNormalizerConfig({
      NORMALIZER_MAX_EVENTS_PER_WEBHOOK: '50',
      NORMALIZER_MAX_THREADS_PER_WEBHOOK: '5',
      NORMALIZER_MAX_USERS_PER_WEBHOOK: '7',
      NORMALIZER_MAX_JSON_DEPTH: '20',
      NORMALIZER_MAX_OUTPUT_BYTES: '65536',
    });
    expect(config.limits).toEqual({
      parse: { maxEvents: 50, maxThreads: 5, maxUsers: 7, maxDepth: 20 },
      maxOutputBytes: 65_536,
    });
    expect(() =>
      loadNormalizerConfig({ NORMALIZER_MAX_JSON_DEPTH: '100000', NORMALIZER_MAX_EVENTS_PER_WEBHOOK: '0' }),
    ).toThrow(/NORMALIZER_MAX_EVENTS_PER_WEBHOOK[\s\S]*NORMALIZER_MAX_JSON_DEPTH/);
  });

  it('names every bad variable in one error', () => {
    expect(() =>
      loadNormalizerConfig({
        KAFKA_BROKERS: 'nohostport',
        CHAT_EVENTS_TOPIC_PARTITIONS: 'many',
        SCHEMA_REGISTRY_URL: 'nope',
      }),
    ).toThrow(
      /KAFKA_BROKERS[\s\S]*SCHEMA_REGISTRY_URL[\s\S]*CHAT_EVENTS_TOPIC_PARTITIONS|KAFKA_BROKERS[\s\S]*CHAT_EVENTS_TOPIC_PARTITIONS[\s\S]*SCHEMA_REGISTRY_URL/,
    );
  });

  it('turns privacy on with PRIVACY_KEYS, and requires the key store then', () => {
    expect(loadNormalizerConfig({}).privacy).toBeNull();
    const keys = {
      PRIVACY_KEYS: `k1:${randomBytes(32).toString('base64')}`,
      PRIVACY_EMAIL_HASH_KEY: randomBytes(32).toString('base64'),
    };
    const config = loadNormalizerConfig({ ...keys, PRIVACY_DATABASE_URL: 'postgres://u:p@db:5432/keys' });
    expect(config.privacy?.databaseUrl).toBe('postgres://u:p@db:5432/keys');
    expect(config.privacy?.poolSize).toBe(2);
    expect(config.privacy?.vault.activeKeyId).toBe('k1');
    expect(
      loadNormalizerConfig({
        ...keys,
        PRIVACY_DATABASE_URL: 'postgres://db/keys',
        NORMALIZER_PRIVACY_POOL_SIZE: '5',
      }).privacy?.poolSize,
    ).toBe(5);
    expect(() => loadNormalizerConfig(keys)).toThrow(
      /PRIVACY_DATABASE_URL: required when PRIVACY_KEYS is set/,
    );
    // Every problem in one error, the privacy ones with the others, and no key material echoed.
    let message = '';
    try {
      loadNormalizerConfig({ PRIVACY_KEYS: 'k1:short', CHAT_EVENTS_TOPIC_PARTITIONS: 'many' });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/CHAT_EVENTS_TOPIC_PARTITIONS[\s\S]*PRIVACY_KEYS[\s\S]*PRIVACY_EMAIL_HASH_KEY/);
    expect(message).not.toContain('short');
  });
});
