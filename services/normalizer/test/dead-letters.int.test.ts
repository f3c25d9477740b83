import { afterEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import {
  ConfluentAvroSerde,
  SchemaRegistryClient,
  frame,
  rawWebhookSchema,
  valueSubject,
  type RawWebhook,
  type RegisteredSchema,
} from '@livechat-pipeline/events';
import { createTopic, readTopic, stackEndpoints, testKafka, uniqueName, type ReadMessage } from '@livechat-pipeline/testkit';
import { loadNormalizerConfig } from '../src/config.js';
import { startNormalizer, type RunningNormalizer } from '../src/start.js';

const org = 'f9c7cc55-b35a-4e76-b0d5-ae9fce362314';
const key = `${org}|CHAT1`;
/** Outcomes are awaited up to this long; a stalled partition never gets there. */
const OUTCOME_TIMEOUT_MS = 30_000;

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
  action: 'incoming_event',
  organization_id: org,
  payload: { chat_id: 'CHAT1', thread_id: 'TH1', event: { id, type: 'message', text, author_id: 'agent@example.com', created_at: '2026-11-25T10:00:05.123456Z' } },
});

const headersOf = (m: ReadMessage) => Object.fromEntries(Object.entries(m.headers ?? {}).map(([k, v]) => [k, v?.toString()]));

interface Harness {
  readonly rawTopic: string;
  readonly outTopic: string;
  readonly dlqTopic: string;
  readonly serde: ConfluentAvroSerde;
  readonly rawSchema: RegisteredSchema;
  produce(values: Buffer[]): Promise<void>;
}

let running: RunningNormalizer | undefined;
afterEach(async () => {
  await running?.stop();
  running = undefined;
});

/**
 * A raw topic (8 MiB records) and, when `outMaxBytes` is given, a chat-events topic created beforehand with that
 * max.message.bytes (a topic that already exists keeps its settings); then the normalizer, started as main.ts does.
 */
async function harness(opts: { outMaxBytes?: number; env?: Record<string, string> } = {}): Promise<Harness> {
  const rawTopic = uniqueName('raw-dl');
  const outTopic = uniqueName('chat-events-dl');
  const dlqTopic = uniqueName('raw-dlq-dl');
  await createTopic(rawTopic, 1, [{ name: 'max.message.bytes', value: String(8 * 1024 * 1024) }]);
  if (opts.outMaxBytes !== undefined) {
    await createTopic(outTopic, 1, [{ name: 'max.message.bytes', value: String(opts.outMaxBytes) }]);
  }
  const serde = new ConfluentAvroSerde(new SchemaRegistryClient({ baseUrl: stackEndpoints().schemaRegistryUrl }));
  const rawSchema = await serde.register(valueSubject(rawTopic), rawWebhookSchema());
  running = await startNormalizer(
    loadNormalizerConfig({
      KAFKA_BROKERS: stackEndpoints().kafkaBrokers.join(','),
      SCHEMA_REGISTRY_URL: stackEndpoints().schemaRegistryUrl,
      RAW_WEBHOOK_TOPIC: rawTopic,
      CHAT_EVENTS_TOPIC: outTopic,
      CHAT_EVENTS_TOPIC_PARTITIONS: '1',
      NORMALIZER_DLQ_TOPIC: dlqTopic,
      NORMALIZER_GROUP_ID: uniqueName('normalizer-dl'),
      ...opts.env,
    }),
    pino({ level: 'silent' }),
  );
  const produce = async (values: Buffer[]) => {
    const producer = testKafka('raw-producer-dl').producer({ idempotent: true });
    await producer.connect();
    try {
      await producer.send({ topic: rawTopic, acks: -1, messages: values.map((value) => ({ key, value })) });
    } finally {
      await producer.disconnect();
    }
  };
  return { rawTopic, outTopic, dlqTopic, serde, rawSchema, produce };
}

describe('normalizer dead letters on the real stack', () => {
  it('dead-letters a raw record that blew up the normalizer (a value of a foreign schema), and the partition flows on', async () => {
    const h = await harness();
    // A value in the wire format whose schema is not RawWebhook ("null"): decoded as is, it used to throw a
    // TypeError outside every declared error, fail the batch, and be fetched again forever.
    const nullSchemaId = await new SchemaRegistryClient({ baseUrl: stackEndpoints().schemaRegistryUrl }).register(
      uniqueName('foreign-null-value'),
      '"null"',
    );
    await h.produce([
      h.serde.encode(h.rawSchema, rawRecord('raw-1', message('EV1', 'before'))),
      frame(nullSchemaId, Buffer.alloc(0)),
      h.serde.encode(h.rawSchema, rawRecord('raw-2', message('EV2', 'after'))),
    ]);

    const out = await readTopic(h.outTopic, { count: 2, timeoutMs: OUTCOME_TIMEOUT_MS });
    expect(out.map((m) => m.headers?.['event.type']?.toString())).toEqual(['message_posted', 'message_posted']);
    const dead = await readTopic(h.dlqTopic, { count: 1, timeoutMs: OUTCOME_TIMEOUT_MS });
    expect(dead.map(headersOf).map((h) => [h['dlq.error.code'], h['dlq.origin.offset']])).toEqual([['NORMALIZER_UNDECODABLE', '1']]);
  });
});
