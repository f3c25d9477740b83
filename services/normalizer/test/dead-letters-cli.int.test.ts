import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
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
import {
  readTopic,
  stackEndpoints,
  testKafka,
  uniqueName,
  type ReadMessage,
} from '@livechat-pipeline/testkit';
import { loadNormalizerConfig } from '../src/config.js';
import { startNormalizer, type RunningNormalizer } from '../src/start.js';

// The one dead-letter CLI (`pnpm dead-letters`, packages/postgres-consumer/src/cli.ts) on the normalizer's
// dead-letter topic: it lists what the normalizer writes and what older normalizers wrote (`dlq.failed_at`), and a
// replay puts the raw record back on the raw topic with its own headers and `dlq.replay-of`, no other `dlq.*` one.
const cli = fileURLToPath(new URL('../../../packages/postgres-consumer/src/cli.ts', import.meta.url));
const run = (args: string[]) =>
  promisify(execFile)(process.execPath, ['--import', 'tsx', cli, 'dead-letters', ...args], {
    env: { ...process.env, KAFKA_BROKERS: stackEndpoints().kafkaBrokers.join(',') },
  });

const headersOf = (m: ReadMessage): Record<string, string | undefined> =>
  Object.fromEntries(Object.entries(m.headers ?? {}).map(([k, v]) => [k, v?.toString()]));

const unparsable: RawWebhook = {
  event_id: 'raw-bad',
  received_at: 1_795_600_000_000_000,
  format: 'v3',
  api_version: '3.4+',
  action: 'incoming_event',
  tenant: 'org-1',
  tenant_source: 'body',
  chat_id: 'CHAT1',
  thread_id: 'TH1',
  webhook_id: 'wh',
  body: '[1,2,3]',
  content_length: null,
  user_agent: null,
  remote_address: null,
};

describe('dead-letters CLI on livechat.webhooks.raw.dlq', () => {
  const rawTopic = uniqueName('raw-cli');
  const outTopic = uniqueName('chat-events-cli');
  const dlqTopic = uniqueName('raw-dlq-cli');
  let serde: ConfluentAvroSerde;
  let rawSchema: RegisteredSchema;
  let running: RunningNormalizer;

  beforeAll(async () => {
    const kafka = testKafka('normalizer-dlq-cli');
    await ensureTopic(kafka, { topic: rawTopic, numPartitions: 1, replicationFactor: 1 });
    serde = new ConfluentAvroSerde(new SchemaRegistryClient({ baseUrl: stackEndpoints().schemaRegistryUrl }));
    rawSchema = await serde.register(valueSubject(rawTopic), rawWebhookSchema());
    const config = loadNormalizerConfig({
      KAFKA_BROKERS: stackEndpoints().kafkaBrokers.join(','),
      SCHEMA_REGISTRY_URL: stackEndpoints().schemaRegistryUrl,
      RAW_WEBHOOK_TOPIC: rawTopic,
      CHAT_EVENTS_TOPIC: outTopic,
      CHAT_EVENTS_TOPIC_PARTITIONS: '1',
      NORMALIZER_DLQ_TOPIC: dlqTopic,
      NORMALIZER_GROUP_ID: uniqueName('normalizer-cli'),
    });
    running = await startNormalizer(config, pino({ level: 'silent' }));
  });
  afterAll(async () => {
    await running?.stop();
  });

  it('writes the envelope, lists old and new dead letters, and replays without dlq.* headers', async () => {
    const producer = testKafka('raw-cli-producer').producer({ idempotent: true });
    await producer.connect();
    try {
      // given: two poison raw records, one with a header of its own
      await producer.send({
        topic: rawTopic,
        acks: -1,
        messages: [
          { key: 'org-1|CHAT1', value: Buffer.from('not the wire format'), headers: { 'trace-id': 'abc' } },
          { key: 'org-1|CHAT1', value: serde.encode(rawSchema, unparsable) },
        ],
      });
      // then: both are dead letters in the one envelope, the record's own header kept
      const dead = await readTopic(dlqTopic, { count: 2, timeoutMs: 30_000 });
      const [first, second] = dead.map(headersOf);
      expect(first).toMatchObject({
        'dlq.origin.topic': rawTopic,
        'dlq.origin.partition': '0',
        'dlq.origin.offset': '0',
        'dlq.error.code': 'NORMALIZER_UNDECODABLE',
        'dlq.attempts': '1',
        'trace-id': 'abc',
      });
      expect(first?.['dlq.failed-at']).toMatch(/^\d{4}-\d\d-\d\dT/);
      expect(first?.['dlq.origin.timestamp']).toMatch(/^\d+$/);
      expect(first).not.toHaveProperty('dlq.failed_at');
      expect(second).toMatchObject({ 'dlq.origin.offset': '1', 'dlq.error.code': 'NORMALIZER_UNPARSABLE' });

      // and: a dead letter as older normalizers wrote it (dlq.failed_at, record headers dropped) is on the topic too
      await producer.send({
        topic: dlqTopic,
        acks: -1,
        messages: [
          {
            key: 'org-1|CHAT1',
            value: serde.encode(rawSchema, unparsable),
            headers: {
              'dlq.origin.topic': rawTopic,
              'dlq.origin.partition': '0',
              'dlq.origin.offset': '1',
              'dlq.origin.timestamp': '1700000000000',
              'dlq.error.code': 'NORMALIZER_UNPARSABLE',
              'dlq.error.message': 'an old one',
              'dlq.attempts': '1',
              'dlq.consumer': 'livechat-normalizer',
              'dlq.failed_at': '2026-01-02T03:04:05.000Z',
            },
          },
        ],
      });
    } finally {
      await producer.disconnect();
    }

    // when: listed with the CLI
    const listed = await run(['list', '--topic', dlqTopic]);
    // then: all three, the old one with its failure time
    expect(listed.stdout).toContain('3 dead letter(s)');
    expect(listed.stdout).toContain(`${rawTopic}/0/0`);
    expect(listed.stdout).toContain('NORMALIZER_UNDECODABLE');
    expect(listed.stdout).toMatch(/0:2 +\S+ +NORMALIZER_UNPARSABLE +an old one +2026-01-02T03:04:05.000Z/);

    // when: the first and the old one are replayed with the CLI
    const replayed = await run(['replay', '--topic', dlqTopic, '--offset', '0:0', '--offset', '0:2']);
    expect(replayed.stdout).toContain('replayed 2 dead letter(s)');
    // then: they are back on the raw topic, byte for byte, with their own headers and dlq.replay-of only
    const raw = await readTopic(rawTopic, { count: 4, timeoutMs: 30_000 });
    const back = raw.filter((m) => BigInt(m.offset) >= 2n);
    expect(back.map((m) => m.value?.toString('hex'))).toEqual([
      Buffer.from('not the wire format').toString('hex'),
      serde.encode(rawSchema, unparsable).toString('hex'),
    ]);
    expect(back.map(headersOf)).toEqual([
      { 'trace-id': 'abc', 'dlq.replay-of': `${dlqTopic}/0/0` },
      { 'dlq.replay-of': `${dlqTopic}/0/2` },
    ]);

    // and: still poison, they are dead-lettered again, from their new offsets, without the old provenance
    const again = (await readTopic(dlqTopic, { count: 5, timeoutMs: 30_000 })).slice(3).map(headersOf);
    expect(again.map((h) => [h['dlq.origin.offset'], h['dlq.error.code'], h['trace-id']])).toEqual([
      ['2', 'NORMALIZER_UNDECODABLE', 'abc'],
      ['3', 'NORMALIZER_UNPARSABLE', undefined],
    ]);
    for (const h of again)
      expect(
        Object.keys(h)
          .filter((k) => k.startsWith('dlq.'))
          .sort(),
      ).toEqual([
        'dlq.attempts',
        'dlq.consumer',
        'dlq.error.code',
        'dlq.error.message',
        'dlq.failed-at',
        'dlq.origin.offset',
        'dlq.origin.partition',
        'dlq.origin.timestamp',
        'dlq.origin.topic',
      ]);
  });
});
