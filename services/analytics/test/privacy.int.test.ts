import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { pino } from 'pino';
import type { ChatDomainEvent } from '@livechat-pipeline/livechat';
import type { PostgresConsumer } from '@livechat-pipeline/postgres-consumer';
import {
  createTestDatabase,
  createTopic,
  stackEndpoints,
  uniqueName,
  waitFor,
  type TestDatabase,
} from '@livechat-pipeline/testkit';
import { loadAnalyticsConfig } from '../src/config.js';
import { startAnalytics } from '../src/start.js';
import { canaryChat, columnsContaining } from './support/canary.js';
import { deadLetterCount, privacyEnv, produceChatEvents, sealEvents, writerVault } from './support/sealed.js';

// Given rated chats sealed as the normalizer writes them (issue 19), analytics opens them with the key store: the
// rating comments are projected; an erased chat's thread facts are the same but for the comment (null), never a
// dead letter.
let db: TestDatabase;
let pool: pg.Pool;
let writer: Awaited<ReturnType<typeof writerVault>>;
let consumer: PostgresConsumer<ChatDomainEvent> | undefined;
let topic: string;
let dlq: string;
const tenant = uniqueName('t-privacy');

beforeAll(async () => {
  db = await createTestDatabase('analytics_privacy');
  pool = new pg.Pool({ connectionString: db.url, max: 2 });
  const env = privacyEnv(uniqueName('keys').replace(/[^a-z0-9_]/g, '_'));
  writer = await writerVault(db.url, env);
  topic = uniqueName('chat-events-privacy');
  await createTopic(topic, 1);
  const consumerName = uniqueName('analytics-privacy');
  consumer = await startAnalytics(
    loadAnalyticsConfig({
      KAFKA_BROKERS: stackEndpoints().kafkaBrokers.join(','),
      SCHEMA_REGISTRY_URL: stackEndpoints().schemaRegistryUrl,
      DATABASE_URL: db.url,
      CHAT_EVENTS_TOPIC: topic,
      ANALYTICS_CONSUMER_NAME: consumerName,
      ANALYTICS_SCHEMA: 'analytics',
      ...env,
    }),
    pino({ level: 'silent' }),
  );
  dlq = `${consumerName}.dlq`;
});
afterAll(async () => {
  await consumer?.stop();
  await writer?.close();
  await pool?.end();
  await db?.drop();
});

async function metric(name: string, labels: Record<string, string>): Promise<number> {
  const values = (await consumer!.metricsRegistry.getSingleMetric(name)?.get())?.values ?? [];
  return values
    .filter((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l))
    .reduce((n, v) => n + v.value, 0);
}

describe('analytics: sealed chat events', () => {
  it('projects the opened rating comments, and an erased chat with every count the same and no comment', async () => {
    const sealedCanary = `SEALED${Date.now().toString(36)}`;
    const erasedCanary = `ERASED${Date.now().toString(36)}`;
    const sealed = await sealEvents(writer.vault, [
      ...canaryChat(tenant, 'sealed', sealedCanary),
      ...canaryChat(tenant, 'erased', erasedCanary),
    ]);
    expect(JSON.stringify(sealed)).not.toContain(sealedCanary);
    await writer.vault.eraseChats(tenant, ['chat-erased'], { actor: 'test' });
    await produceChatEvents(topic, sealed);

    const facts = await waitFor(
      async () => {
        const { rows } = await pool.query(
          `select chat_id, duration_seconds, first_response_seconds, customer_messages, agent_messages, agent_ids,
                  tags, rating, rating_comment, queued, started_by, transfers, closed
             from analytics.thread_facts where tenant = $1 order by chat_id`,
          [tenant],
        );
        return rows.length === 2 && rows.every((r: { closed: boolean }) => r.closed) ? rows : undefined;
      },
      { timeoutMs: 20_000, message: 'both chats projected and closed' },
    );
    const [erased, open] = facts as Record<string, unknown>[];
    expect(open!['rating_comment']).toContain(sealedCanary);
    expect(erased!['rating_comment']).toBeNull();
    expect({ ...erased, chat_id: null, rating_comment: null }).toEqual({
      ...open,
      chat_id: null,
      rating_comment: null,
    });
    expect(erased!['rating']).toBe('good');
    expect(await columnsContaining(pool, 'analytics', erasedCanary)).toEqual([]);
    expect(await columnsContaining(pool, 'analytics', sealedCanary)).toEqual([
      'ratings.comment',
      'transfers.reason',
    ]);
    expect(
      await metric('analytics_privacy_fields_undecryptable_total', { reason: 'erased' }),
    ).toBeGreaterThan(0);
    expect(await deadLetterCount(dlq)).toBe(0);
  });
});
