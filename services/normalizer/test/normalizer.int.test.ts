import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import {
  ConfluentAvroSerde,
  SchemaRegistryClient,
  ensureTopic,
  rawWebhookSchema,
  valueSubject,
  type RawWebhook,
  type RegisteredSchema,
} from '@livechat-pipeline/events';
import { parseWebhook, type ChatDomainEvent } from '@livechat-pipeline/livechat';
import { readTopic, stackEndpoints, testKafka, uniqueName } from '@livechat-pipeline/testkit';
import { loadNormalizerConfig } from '../src/config.js';
import { startNormalizer, type RunningNormalizer } from '../src/start.js';

const org = 'f9c7cc55-b35a-4e76-b0d5-ae9fce362314';
const rawRecord = (eventId: string, body: unknown): RawWebhook => ({
  event_id: eventId,
  received_at: 1_795_600_000_000_000,
  format: 'v3',
  api_version: '3.4+',
  action: 'incoming_event',
  tenant: org,
  tenant_source: 'body',
  chat_id: 'CHAT1',
  thread_id: 'TH1',
  webhook_id: 'wh',
  body: typeof body === 'string' ? body : JSON.stringify(body),
  content_length: null,
  user_agent: null,
  remote_address: null,
});
const message = (id: string, text: string) => ({
  webhook_id: 'wh',
  secret_key: '[redacted]',
  action: 'incoming_event',
  organization_id: org,
  payload: {
    chat_id: 'CHAT1',
    thread_id: 'TH1',
    event: {
      id,
      type: 'message',
      text,
      author_id: 'agent@example.com',
      created_at: '2026-11-25T10:00:05.123456Z',
      visibility: 'all',
    },
  },
});

describe('normalizer on the real stack', () => {
  const rawTopic = uniqueName('raw');
  const outTopic = uniqueName('chat-events');
  const dlqTopic = uniqueName('raw-dlq');
  let serde: ConfluentAvroSerde;
  let rawSchema: RegisteredSchema;
  let running: RunningNormalizer;

  beforeAll(async () => {
    const kafka = testKafka('normalizer-test');
    await ensureTopic(kafka, { topic: rawTopic, numPartitions: 2, replicationFactor: 1 });
    serde = new ConfluentAvroSerde(new SchemaRegistryClient({ baseUrl: stackEndpoints().schemaRegistryUrl }));
    rawSchema = await serde.register(valueSubject(rawTopic), rawWebhookSchema());
    const config = loadNormalizerConfig({
      KAFKA_BROKERS: stackEndpoints().kafkaBrokers.join(','),
      SCHEMA_REGISTRY_URL: stackEndpoints().schemaRegistryUrl,
      RAW_WEBHOOK_TOPIC: rawTopic,
      CHAT_EVENTS_TOPIC: outTopic,
      CHAT_EVENTS_TOPIC_PARTITIONS: '3',
      NORMALIZER_DLQ_TOPIC: dlqTopic,
      NORMALIZER_GROUP_ID: uniqueName('normalizer'),
    });
    running = await startNormalizer(config, pino({ level: 'silent' }));
  });
  afterAll(async () => {
    await running?.stop();
  });

  it('turns raw webhooks into chat events, dead-letters poison with provenance, and carries on after it', async () => {
    const producer = testKafka('raw-producer').producer({ idempotent: true });
    await producer.connect();
    const good1 = rawRecord('raw-1', message('EV1', 'first'));
    const good2 = rawRecord('raw-2', message('EV2', 'after the poison'));
    const unparsable = rawRecord('raw-bad', [1, 2, 3]);
    await producer.send({
      topic: rawTopic,
      acks: -1,
      messages: [
        { key: `${org}|CHAT1`, value: serde.encode(rawSchema, good1) },
        { key: `${org}|CHAT1`, value: Buffer.from('not the confluent wire format') },
        { key: `${org}|CHAT1`, value: serde.encode(rawSchema, unparsable) },
        { key: `${org}|CHAT1`, value: serde.encode(rawSchema, good2) },
      ],
    });
    await producer.disconnect();

    const out = await readTopic(outTopic, { count: 2, timeoutMs: 30_000 });
    expect(out).toHaveLength(2);
    const decoded = await Promise.all(
      out.map(async (m) => (await serde.decode<ChatDomainEvent>(m.value!)).value),
    );
    const expected = [good1, good2].flatMap((raw) =>
      parseWebhook(JSON.parse(raw.body), {
        rawEventId: raw.event_id,
        receivedAtMicros: raw.received_at,
        tenantHint: raw.tenant,
        apiVersion: raw.api_version,
      }),
    );
    // Privacy off: nothing sealed (chat-event v2 reads `sealed` as null).
    expect(decoded).toEqual(expected.map((event) => ({ ...event, sealed: null })));
    expect(out.map((m) => m.key?.toString())).toEqual([`${org}|CHAT1`, `${org}|CHAT1`]);
    expect(out[0]!.headers?.['event.type']?.toString()).toBe('message_posted');

    const dead = await readTopic(dlqTopic, { count: 2, timeoutMs: 30_000 });
    expect(dead).toHaveLength(2);
    const headers = dead.map((m) =>
      Object.fromEntries(Object.entries(m.headers ?? {}).map(([k, v]) => [k, v?.toString()])),
    );
    expect(headers.map((h) => h['dlq.error.code'])).toEqual([
      'NORMALIZER_UNDECODABLE',
      'NORMALIZER_UNPARSABLE',
    ]);
    const [rawRecordOnTopic] = await readTopic(rawTopic, { count: 1, settleMs: 0 });
    const rawPartition = String(rawRecordOnTopic!.partition);
    expect(
      headers.map((h) => [
        h['dlq.origin.topic'],
        h['dlq.origin.partition'],
        h['dlq.origin.offset'],
        h['dlq.consumer'] !== undefined,
      ]),
    ).toEqual([
      [rawTopic, rawPartition, '1', true],
      [rawTopic, rawPartition, '2', true],
    ]);
    // The poison record is kept byte for byte for a replay.
    expect(dead[0]!.value?.toString()).toBe('not the confluent wire format');
  });
});

describe('normalizer: large chunks', () => {
  it('refuses a chat-events topic with the broker default limit (1 MiB), saying what to change; once changed, gets every event', async () => {
    const rawTopic = uniqueName('raw-large');
    const outTopic = uniqueName('chat-events-1mib');
    const kafka = testKafka('normalizer-large');
    await ensureTopic(kafka, { topic: rawTopic, numPartitions: 1, replicationFactor: 1 });
    // Created before the normalizer starts, kept forever but with the broker's default max.message.bytes (1 MiB).
    await ensureTopic(kafka, {
      topic: outTopic,
      numPartitions: 1,
      replicationFactor: 1,
      configs: { 'retention.ms': '-1', 'retention.bytes': '-1' },
    });
    const serde = new ConfluentAvroSerde(
      new SchemaRegistryClient({ baseUrl: stackEndpoints().schemaRegistryUrl }),
    );
    const rawSchema = await serde.register(valueSubject(rawTopic), rawWebhookSchema());
    // An incoming_chat carries the thread's events: one raw record becomes many chat events, each
    // with its own envelope, so the output of one fetched batch outgrows its input.
    const chats = 600;
    const eventsPerChat = 10;
    const chatBody = (n: number) => ({
      webhook_id: 'wh',
      secret_key: '[redacted]',
      action: 'incoming_chat',
      organization_id: org,
      payload: {
        chat: {
          id: `CHAT${n}`,
          users: [],
          thread: {
            id: `TH${n}`,
            created_at: '2026-11-25T10:00:00.000000Z',
            events: Array.from({ length: eventsPerChat }, (_, e) => ({
              id: `TH${n}_${e}`,
              type: 'message',
              text: `${e} ${'y'.repeat(300)}`,
              author_id: 'agent@example.com',
              created_at: '2026-11-25T10:00:01.000000Z',
            })),
          },
        },
      },
    });
    const producer = kafka.producer({ idempotent: true });
    await producer.connect();
    for (let i = 0; i < chats; i += 100) {
      const messages = Array.from({ length: 100 }, (_, j) => ({
        key: `${org}|CHAT${i + j}`,
        value: serde.encode(rawSchema, rawRecord(`raw-${i + j}`, chatBody(i + j))),
      }));
      await producer.send({ topic: rawTopic, acks: -1, messages });
    }
    await producer.disconnect();
    const count = chats * (eventsPerChat + 1);

    const config = loadNormalizerConfig({
      KAFKA_BROKERS: stackEndpoints().kafkaBrokers.join(','),
      SCHEMA_REGISTRY_URL: stackEndpoints().schemaRegistryUrl,
      RAW_WEBHOOK_TOPIC: rawTopic,
      CHAT_EVENTS_TOPIC: outTopic,
      NORMALIZER_DLQ_TOPIC: uniqueName('raw-dlq'),
      NORMALIZER_GROUP_ID: uniqueName('normalizer'),
    });
    // One raw record's events may pass 1 MiB (seen live: a crash loop on "larger than the max message size").
    const refused = await startNormalizer(config, pino({ level: 'silent' })).catch((e: unknown) => e);
    expect(refused).toMatchObject({ code: 'SERVICE_STARTUP_FAILED', step: `ensure topic ${outTopic}` });
    expect((refused as Error).message).toContain(
      `topic ${outTopic}: max.message.bytes is 1048588, needs at least 8388608; change it with: kafka-configs.sh --bootstrap-server ${stackEndpoints().kafkaBrokers.join(',')} --alter --entity-type topics --entity-name ${outTopic} --add-config max.message.bytes=8388608`,
    );
    const admin = kafka.admin();
    await admin.connect();
    await admin.alterConfigs({
      validateOnly: false,
      resources: [
        { type: 2, name: outTopic, configEntries: [{ name: 'max.message.bytes', value: '8388608' }] },
      ],
    });
    await admin.disconnect();

    const running = await startNormalizer(config, pino({ level: 'silent' }));
    try {
      const out = await readTopic(outTopic, { count, timeoutMs: 60_000 });
      expect(out).toHaveLength(count);
    } finally {
      await running.stop();
    }
  });
});
