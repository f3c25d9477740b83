import { afterEach, describe, expect, it } from 'vitest';
import { ConfigResourceTypes } from 'kafkajs';
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
import {
  createTopic,
  readTopic,
  stackEndpoints,
  testKafka,
  uniqueName,
  waitFor,
  type ReadMessage,
} from '@livechat-pipeline/testkit';
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
const message = (id: string, text: string, chatId = 'CHAT1') => ({
  action: 'incoming_event',
  organization_id: org,
  payload: {
    chat_id: chatId,
    thread_id: 'TH1',
    event: {
      id,
      type: 'message',
      text,
      author_id: 'agent@example.com',
      created_at: '2026-11-25T10:00:05.123456Z',
    },
  },
});

const headersOf = (m: ReadMessage) =>
  Object.fromEntries(Object.entries(m.headers ?? {}).map(([k, v]) => [k, v?.toString()]));

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
 * A raw topic (8 MiB records), the normalizer started as main.ts does, and, when `outMaxBytes` is given, the
 * chat-events topic's max.message.bytes lowered to that value once the normalizer runs (the start-up check refuses
 * a topic that is too small; an operator can still shrink it later, and the normalizer must not stall then).
 */
async function harness(
  opts: { outMaxBytes?: number; outPartitions?: number; env?: Record<string, string> } = {},
): Promise<Harness> {
  const rawTopic = uniqueName('raw-dl');
  const outTopic = uniqueName('chat-events-dl');
  const dlqTopic = uniqueName('raw-dlq-dl');
  await createTopic(rawTopic, 1, [{ name: 'max.message.bytes', value: String(8 * 1024 * 1024) }]);
  if (opts.outMaxBytes !== undefined)
    await createTopic(outTopic, opts.outPartitions ?? 1, [
      { name: 'max.message.bytes', value: String(8 * 1024 * 1024) },
    ]);
  const serde = new ConfluentAvroSerde(
    new SchemaRegistryClient({ baseUrl: stackEndpoints().schemaRegistryUrl }),
  );
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
  if (opts.outMaxBytes !== undefined) await setMaxMessageBytes(outTopic, opts.outMaxBytes);
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
    const nullSchemaId = await new SchemaRegistryClient({
      baseUrl: stackEndpoints().schemaRegistryUrl,
    }).register(uniqueName('foreign-null-value'), '"null"');
    await h.produce([
      h.serde.encode(h.rawSchema, rawRecord('raw-1', message('EV1', 'before'))),
      frame(nullSchemaId, Buffer.alloc(0)),
      h.serde.encode(h.rawSchema, rawRecord('raw-2', message('EV2', 'after'))),
    ]);

    const out = await readTopic(h.outTopic, { count: 2, timeoutMs: OUTCOME_TIMEOUT_MS });
    expect(out.map((m) => m.headers?.['event.type']?.toString())).toEqual([
      'message_posted',
      'message_posted',
    ]);
    const dead = await readTopic(h.dlqTopic, { count: 1, timeoutMs: OUTCOME_TIMEOUT_MS });
    expect(dead.map(headersOf).map((h) => [h['dlq.error.code'], h['dlq.origin.offset']])).toEqual([
      ['NORMALIZER_UNDECODABLE', '1'],
    ]);
  });

  it('dead-letters a record whose events the chat-events topic refuses as too large (NORMALIZER_OUTPUT_TOO_LARGE), and the records after it flow', async () => {
    // The chat-events topic exists already with a small max.message.bytes, as on a stack whose topic kept the
    // broker default: one event of 100 KB can never be produced to it.
    const h = await harness({ outMaxBytes: 64 * 1024 });
    const big = rawRecord('raw-big', message('EVBIG', 'x'.repeat(100_000)));
    const bigValue = h.serde.encode(h.rawSchema, big);
    await h.produce([
      h.serde.encode(h.rawSchema, rawRecord('raw-1', message('EV1', 'before'))),
      bigValue,
      h.serde.encode(h.rawSchema, rawRecord('raw-2', message('EV2', 'after'))),
      h.serde.encode(h.rawSchema, rawRecord('raw-3', message('EV3', 'after that'))),
    ]);

    const out = await readTopic(h.outTopic, { count: 3, timeoutMs: OUTCOME_TIMEOUT_MS });
    const decoded = await Promise.all(
      out.map(async (m) => (await h.serde.decode<{ raw_event_id: string }>(m.value!)).value.raw_event_id),
    );
    expect(decoded).toEqual(['raw-1', 'raw-2', 'raw-3']);
    const dead = await readTopic(h.dlqTopic, { count: 1, timeoutMs: OUTCOME_TIMEOUT_MS });
    expect(dead).toHaveLength(1);
    const headers = headersOf(dead[0]!);
    expect([headers['dlq.error.code'], headers['dlq.origin.offset']]).toEqual([
      'NORMALIZER_OUTPUT_TOO_LARGE',
      '1',
    ]);
    expect(headers['dlq.error.message']).toContain('max.message.bytes');
    expect(dead[0]!.value?.equals(bigValue)).toBe(true);
  });

  it('keeps producing after a too-large refusal that hit one partition of several (the producer is replaced)', async () => {
    // One produce call spans the three partitions: the broker writes two and refuses the big event's, kafkajs
    // rewinds the idempotence sequences of all three, and a producer that kept them would be refused as out of
    // order on the next call to a written partition, for ever.
    const h = await harness({ outMaxBytes: 64 * 1024, outPartitions: 3 });
    const chats = Array.from({ length: 9 }, (_, n) => `CHAT${n}`);
    const values = chats.map((chat, n) =>
      h.serde.encode(h.rawSchema, rawRecord(`raw-${n}`, message(`EV${n}`, `to ${chat}`, chat))),
    );
    values.splice(
      4,
      0,
      h.serde.encode(h.rawSchema, rawRecord('raw-big', message('EVBIG', 'x'.repeat(100_000), 'CHATBIG'))),
    );
    await h.produce(values);
    const after = chats.map((chat, n) =>
      h.serde.encode(h.rawSchema, rawRecord(`raw-after-${n}`, message(`EVA${n}`, `then ${chat}`, chat))),
    );
    await h.produce(after);

    const dead = await readTopic(h.dlqTopic, { count: 1, timeoutMs: OUTCOME_TIMEOUT_MS });
    expect(dead.map(headersOf).map((d) => d['dlq.error.code'])).toEqual(['NORMALIZER_OUTPUT_TOO_LARGE']);
    // At least once: the events the refused call wrote may come twice; every record's event is there.
    const wanted = [...chats.map((_, n) => `raw-${n}`), ...chats.map((_, n) => `raw-after-${n}`)].sort();
    const out = await waitFor(
      async () => {
        const read = await readTopic(h.outTopic, { count: wanted.length, timeoutMs: 5_000 });
        const rawIds = new Set(
          await Promise.all(
            read.map(
              async (m) => (await h.serde.decode<{ raw_event_id: string }>(m.value!)).value.raw_event_id,
            ),
          ),
        );
        return wanted.every((id) => rawIds.has(id)) ? { read, rawIds } : undefined;
      },
      { timeoutMs: OUTCOME_TIMEOUT_MS, message: 'every record event on the chat-events topic' },
    );
    expect([...out.rawIds].sort()).toEqual(wanted);
    expect(new Set(out.read.map((m) => m.partition)).size).toBeGreaterThan(1);
  });

  it('maps or dead-letters the 8k-event and the 1,000,000-thread webhooks within seconds, and the records after them flow', async () => {
    const h = await harness({ env: { NORMALIZER_MAX_OUTPUT_BYTES: String(2 * 1024 * 1024) } });
    const incomingChat = (chat: Record<string, unknown>) => ({
      action: 'incoming_chat',
      organization_id: org,
      payload: { chat },
    });
    // 8,000 events without LiveChat ids: their ids hash the payload once per delivery, not once per event.
    const eightK = incomingChat({
      id: 'BIG',
      thread: {
        id: 'T',
        events: Array.from({ length: 8_000 }, (_, n) => ({ type: 'message', text: `m${n}` })),
      },
    });
    const millionThreads = `{"action":"incoming_chat","organization_id":"${org}","payload":{"chat":{"id":"C","threads":[${Array(1_000_000).fill('{}').join(',')}]}}}`;
    // 200 events of 12 KB: over the 2 MiB output limit of this normalizer.
    const overOutput = incomingChat({
      id: 'WIDE',
      thread: {
        id: 'T',
        events: Array.from({ length: 200 }, (_, n) => ({
          id: `W${n}`,
          type: 'message',
          text: 'w'.repeat(12_000),
        })),
      },
    });
    const started = Date.now();
    await h.produce([
      h.serde.encode(h.rawSchema, rawRecord('raw-8k', eightK)),
      h.serde.encode(h.rawSchema, rawRecord('raw-1m', millionThreads)),
      h.serde.encode(h.rawSchema, rawRecord('raw-wide', overOutput)),
      h.serde.encode(h.rawSchema, rawRecord('raw-after', message('EV1', 'after them'))),
    ]);

    const out = await readTopic(h.outTopic, { count: 8_002, timeoutMs: OUTCOME_TIMEOUT_MS });
    const dead = await readTopic(h.dlqTopic, { count: 2, timeoutMs: OUTCOME_TIMEOUT_MS });
    expect(Date.now() - started).toBeLessThan(OUTCOME_TIMEOUT_MS);
    expect(dead.map(headersOf).map((d) => [d['dlq.error.code'], d['dlq.origin.offset']])).toEqual([
      ['NORMALIZER_OVER_LIMIT', '1'],
      ['NORMALIZER_OVER_LIMIT', '2'],
    ]);
    expect(headersOf(dead[0]!)['dlq.error.message']).toContain('LIVECHAT_TOO_MANY_THREADS');
    expect(headersOf(dead[1]!)['dlq.error.message']).toContain('NORMALIZER_MAX_OUTPUT_BYTES');
    const rawIds = await Promise.all(
      out.map(async (m) => (await h.serde.decode<{ raw_event_id: string }>(m.value!)).value.raw_event_id),
    );
    expect(rawIds.filter((id) => id === 'raw-8k')).toHaveLength(8_001);
    expect(rawIds.at(-1)).toBe('raw-after');
    expect(rawIds).toHaveLength(8_002);
  });
});

/** Lowers a topic's max.message.bytes and waits until the broker reports the new value. */
async function setMaxMessageBytes(topic: string, bytes: number): Promise<void> {
  const admin = testKafka('admin-dl').admin();
  await admin.connect();
  try {
    await admin.alterConfigs({
      validateOnly: false,
      resources: [
        {
          type: ConfigResourceTypes.TOPIC,
          name: topic,
          configEntries: [{ name: 'max.message.bytes', value: String(bytes) }],
        },
      ],
    });
    await waitFor(
      async () => {
        const described = await admin.describeConfigs({
          includeSynonyms: false,
          resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configNames: ['max.message.bytes'] }],
        });
        return described.resources[0]?.configEntries[0]?.configValue === String(bytes);
      },
      { timeoutMs: 10_000, message: `${topic} max.message.bytes = ${bytes}` },
    );
  } finally {
    await admin.disconnect();
  }
}
