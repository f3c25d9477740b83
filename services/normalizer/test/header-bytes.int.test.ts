import { afterEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import {
  ConfluentAvroSerde,
  SchemaRegistryClient,
  rawWebhookSchema,
  valueSubject,
  type RawWebhook,
} from '@livechat-pipeline/events';
import { createTopic, readTopic, stackEndpoints, testKafka, uniqueName } from '@livechat-pipeline/testkit';
import { loadNormalizerConfig } from '../src/config.js';
import { startNormalizer, type RunningNormalizer } from '../src/start.js';

// NORMALIZER_MAX_OUTPUT_BYTES counts an event's key and value only, as it did before tracing: its headers
// (event.type, event.id, and the trace context when tracing is on) do not change which raw records are mapped.
// They count only in the produce budgets (see event-bytes.test.ts).

const org = 'f9c7cc55-b35a-4e76-b0d5-ae9fce362314';
const raw: RawWebhook = {
  event_id: 'raw-headers',
  received_at: 1_795_600_000_000_000,
  format: 'v3',
  api_version: '3.4+',
  action: 'incoming_event',
  tenant: org,
  tenant_source: 'body',
  chat_id: 'CHAT1',
  thread_id: 'TH1',
  webhook_id: 'wh',
  body: JSON.stringify({
    action: 'incoming_event',
    organization_id: org,
    payload: {
      chat_id: 'CHAT1',
      thread_id: 'TH1',
      event: {
        id: 'EV1',
        type: 'message',
        text: 'x'.repeat(1500),
        author_id: 'agent@example.com',
        created_at: '2026-11-25T10:00:05.123456Z',
      },
    },
  }),
  content_length: null,
  user_agent: null,
  remote_address: null,
};

let running: RunningNormalizer | undefined;
async function stopRunning(): Promise<void> {
  await running?.stop();
  running = undefined;
}
afterEach(stopRunning);

/** Normalizes `raw` with this NORMALIZER_MAX_OUTPUT_BYTES; resolves with the chat-events or dead-letter topic. */
async function normalizeOnce(maxOutputBytes: number) {
  const rawTopic = uniqueName('raw-hb');
  const outTopic = uniqueName('chat-events-hb');
  const dlqTopic = uniqueName('raw-dlq-hb');
  await createTopic(rawTopic, 1);
  const serde = new ConfluentAvroSerde(
    new SchemaRegistryClient({ baseUrl: stackEndpoints().schemaRegistryUrl }),
  );
  const schema = await serde.register(valueSubject(rawTopic), rawWebhookSchema());
  running = await startNormalizer(
    loadNormalizerConfig({
      KAFKA_BROKERS: stackEndpoints().kafkaBrokers.join(','),
      SCHEMA_REGISTRY_URL: stackEndpoints().schemaRegistryUrl,
      RAW_WEBHOOK_TOPIC: rawTopic,
      CHAT_EVENTS_TOPIC: outTopic,
      CHAT_EVENTS_TOPIC_PARTITIONS: '1',
      NORMALIZER_DLQ_TOPIC: dlqTopic,
      NORMALIZER_GROUP_ID: uniqueName('normalizer-hb'),
      NORMALIZER_MAX_OUTPUT_BYTES: String(maxOutputBytes),
    }),
    pino({ level: 'silent' }),
  );
  const producer = testKafka('raw-producer-hb').producer({ idempotent: true });
  await producer.connect();
  try {
    await producer.send({
      topic: rawTopic,
      acks: -1,
      messages: [{ key: `${org}|CHAT1`, value: serde.encode(schema, raw) }],
    });
  } finally {
    await producer.disconnect();
  }
  return { outTopic, dlqTopic };
}

describe('NORMALIZER_MAX_OUTPUT_BYTES counts keys and values, not headers', () => {
  it('maps an event whose key and value fit the limit exactly (headers aside), and dead-letters it one byte under', async () => {
    const first = await normalizeOnce(4 * 1024 * 1024);
    const [event] = await readTopic(first.outTopic, { count: 1, timeoutMs: 20_000 });
    const keyAndValue = (event?.key?.length ?? 0) + (event?.value?.length ?? 0);
    expect(keyAndValue).toBeGreaterThan(1024); // the variable's minimum
    expect(Object.keys(event?.headers ?? {})).toEqual(expect.arrayContaining(['event.type', 'event.id']));
    await stopRunning();

    const exact = await normalizeOnce(keyAndValue);
    const [mapped] = await readTopic(exact.outTopic, { count: 1, timeoutMs: 20_000 });
    expect(mapped?.value?.equals(event!.value!)).toBe(true);
    await stopRunning();

    const under = await normalizeOnce(keyAndValue - 1);
    const [dead] = await readTopic(under.dlqTopic, { count: 1, timeoutMs: 20_000 });
    expect(dead?.headers?.['dlq.error.code']?.toString()).toBe('NORMALIZER_OVER_LIMIT');
  });
});
