import { afterAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { pino } from 'pino';
import {
  ConfluentAvroSerde,
  SchemaRegistryClient,
  chatEventSchema,
  valueSubject,
} from '@livechat-pipeline/events';
import { parseWebhook } from '@livechat-pipeline/livechat';
import type { PostgresConsumer } from '@livechat-pipeline/postgres-consumer';
import type { ChatDomainEvent } from '@livechat-pipeline/livechat';
import {
  createTestDatabase,
  createTopic,
  stackEndpoints,
  testKafka,
  uniqueName,
  waitFor,
  type TestDatabase,
} from '@livechat-pipeline/testkit';
import { loadTranscriptsConfig } from '../src/config.js';
import { startTranscripts } from '../src/start.js';

const org = 'f9c7cc55-b35a-4e76-b0d5-ae9fce362314';
const customerId = 'b7eff798-f8df-4364-8059-649c35c9ed0c';

/** A v3.6 incoming_chat whose strings carry U+0000 in text, names, JSON keys and values. */
const nulChat = {
  action: 'incoming_chat',
  organization_id: org,
  payload: {
    chat: {
      id: 'NULCHAT',
      users: [
        {
          id: customerId,
          type: 'customer',
          name: 'Ann\u0000Lee',
          session_fields: [{ 'plan\u0000': 'pro\u0000' }],
        },
      ],
      thread: {
        id: 'NULTHREAD',
        created_at: '2026-11-25T10:00:00.000000Z',
        events: [
          {
            id: 'NULEV1',
            type: 'message',
            text: 'before\u0000after',
            author_id: customerId,
            created_at: '2026-11-25T10:00:01.000000Z',
            // and a lone surrogate, which JSON carries as an escape that jsonb refuses too
            properties: { 'k\u0000': { v: '\u0000', lone: 'x\ud800y' } },
          },
        ],
      },
    },
  },
};
const sentinel = {
  action: 'incoming_event',
  organization_id: org,
  payload: {
    chat_id: 'NULCHAT',
    thread_id: 'NULTHREAD',
    event: {
      id: 'NULEV2',
      type: 'message',
      text: 'sentinel',
      author_id: 'agent@example.com',
      created_at: '2026-11-25T10:00:02.000000Z',
    },
  },
};

describe('transcripts: U+0000 in a chat event', () => {
  let db: TestDatabase | undefined;
  let pool: pg.Pool | undefined;
  let consumer: PostgresConsumer<ChatDomainEvent> | undefined;
  afterAll(async () => {
    await consumer?.stop();
    await pool?.end();
    await db?.drop();
  });

  it('is projected with U+FFFD in place of U+0000 and of lone surrogates, and is not dead-lettered', async () => {
    const topic = uniqueName('chat-events-nul');
    await createTopic(topic, 1);
    const serde = new ConfluentAvroSerde(
      new SchemaRegistryClient({ baseUrl: stackEndpoints().schemaRegistryUrl }),
    );
    const schema = await serde.register(valueSubject(topic), chatEventSchema());
    const events = [nulChat, sentinel].flatMap((body, n) =>
      parseWebhook(body, { rawEventId: `raw-nul-${n}`, receivedAtMicros: 1_795_600_000_000_000 + n }),
    );
    const producer = testKafka('nul-producer').producer({ idempotent: true });
    await producer.connect();
    await producer.send({
      topic,
      acks: -1,
      messages: events.map((event) => ({
        key: `${event.tenant}|${event.chat_id ?? ''}`,
        value: serde.encode(schema, event),
      })),
    });
    await producer.disconnect();

    db = await createTestDatabase('transcripts_nul');
    const consumerName = uniqueName('transcripts-nul');
    const config = loadTranscriptsConfig({
      KAFKA_BROKERS: stackEndpoints().kafkaBrokers.join(','),
      SCHEMA_REGISTRY_URL: stackEndpoints().schemaRegistryUrl,
      DATABASE_URL: db.url,
      CHAT_EVENTS_TOPIC: topic,
      TRANSCRIPTS_CONSUMER_NAME: consumerName,
      TRANSCRIPTS_SCHEMA: 'transcripts',
    });
    consumer = await startTranscripts(config, pino({ level: 'silent' }));
    pool = new pg.Pool({ connectionString: db.url, max: 2 });

    // The sentinel comes after the U+0000 events on the one partition: once it is projected, they were handled.
    const rows = await waitFor(
      async () => {
        const result = await pool!.query<{ event_id: string; text: string; author_name: string | null }>(
          `select event_id, text, author_name from transcripts.chat_transcript where chat_id = 'NULCHAT' order by created_us`,
        );
        return result.rows.some((row) => row.event_id === 'NULEV2') ? result.rows : undefined;
      },
      { timeoutMs: 30_000, message: 'the sentinel event in chat_transcript' },
    );
    expect(rows).toEqual([
      { event_id: 'NULEV1', text: 'before\uFFFDafter', author_name: 'Ann\uFFFDLee' },
      { event_id: 'NULEV2', text: 'sentinel', author_name: null },
    ]);
    const customer = await pool.query<{ name: string; session_fields: unknown }>(
      `select name, session_fields from transcripts.customers where customer_id = $1`,
      [customerId],
    );
    expect(customer.rows).toEqual([{ name: 'Ann\uFFFDLee', session_fields: { 'plan\uFFFD': 'pro\uFFFD' } }]);
    const entry = await pool.query<{ content: unknown }>(
      `select content from transcripts.entries where entry_id = 'NULEV1'`,
    );
    expect(entry.rows).toEqual([
      { content: { properties: { 'k\uFFFD': { v: '\uFFFD', lone: 'x\uFFFDy' } } } },
    ]);

    // Nothing went to the dead-letter topic.
    const admin = testKafka('nul-admin').admin();
    await admin.connect();
    try {
      const topics = await admin.listTopics();
      const dlq = `${consumerName}.dlq`;
      const offsets = topics.includes(dlq) ? await admin.fetchTopicOffsets(dlq) : [];
      expect(offsets.map((o) => o.high).filter((high) => high !== '0')).toEqual([]);
    } finally {
      await admin.disconnect();
    }
  });
});
