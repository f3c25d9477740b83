import { randomBytes } from 'node:crypto';
import {
  ConfluentAvroSerde,
  SchemaRegistryClient,
  chatEventSchema,
  openChatEvent,
  openRawBody,
  rawWebhookSchema,
  sealChatEvent,
  sealRawBody,
  valueSubject,
  type ChatEventAvro,
  type RawWebhookAvro,
} from '@livechat-pipeline/events';
import {
  PrivacyVault,
  migratePrivacy,
  parsePrivacyConfig,
  type ChatKeyState,
} from '@livechat-pipeline/privacy';
import {
  createTestDatabase,
  createTopic,
  readTopic,
  stackEndpoints,
  testKafka,
  uniqueName,
  type ReadMessage,
  type TestDatabase,
} from '@livechat-pipeline/testkit';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reencrypt, type ReencryptResult } from '../src/reencrypt.js';
import { parseReencryptArgs } from '../src/reencrypt-cli.js';

// Issue 19, docs/privacy.md section 9: the one-off re-encryption of topics written before privacy was on.

const CANARY = `canary-${randomBytes(6).toString('hex')}`;
const TENANT = 'tenant-re';
const CANARY_EMAIL = `${CANARY}@example.com`;

const serde = new ConfluentAvroSerde(
  new SchemaRegistryClient({ baseUrl: stackEndpoints().schemaRegistryUrl }),
);
const kafka = testKafka('reencrypt-test');

function raw(
  eventId: string,
  chatId: string | null,
  action: string,
  body: object,
): RawWebhookAvro.RawWebhook {
  return {
    event_id: eventId,
    received_at: 1_700_000_000_000_000,
    format: 'v3',
    api_version: '3.5',
    action,
    tenant: TENANT,
    tenant_source: 'body',
    chat_id: chatId,
    thread_id: null,
    webhook_id: null,
    body: JSON.stringify(body),
    content_length: null,
    user_agent: null,
    remote_address: null,
    spooled_at: null,
    archive: null,
    sealed: null,
  };
}

function customerIdentified(eventId: string, chatId: string, customerId: string): ChatEventAvro.ChatEvent {
  return {
    event_id: eventId,
    raw_event_id: `raw-${eventId}`,
    tenant: TENANT,
    chat_id: chatId,
    thread_id: null,
    occurred_at: null,
    received_at: 1_700_000_000_000_000,
    source_format: 'v3',
    api_version: '3.5',
    type: 'customer_identified',
    body: {
      customer_identified: {
        customer_id: customerId,
        name: `Name ${CANARY}`,
        email: CANARY_EMAIL,
        session_fields_json: JSON.stringify({ phone: CANARY }),
        visit_json: null,
      },
    },
    sealed: null,
  };
}

async function produce(
  topic: string,
  records: readonly { partition: number; key: string; value: Buffer; timestamp: string }[],
): Promise<void> {
  const producer = kafka.producer({ idempotent: true });
  await producer.connect();
  try {
    await producer.send({
      topic,
      acks: -1,
      messages: records.map((r) => ({ ...r, headers: { origin: `test-${r.key}` } })),
    });
  } finally {
    await producer.disconnect();
  }
}

async function recordCount(topic: string): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return (await admin.fetchTopicOffsets(topic)).reduce((n, o) => n + Number(o.high) - Number(o.low), 0);
  } finally {
    await admin.disconnect();
  }
}

/** Same partition, key, timestamp and headers, in the same order per partition. */
function expectSamePlaces(source: readonly ReadMessage[], target: readonly ReadMessage[]): void {
  const place = (m: ReadMessage) => ({
    partition: m.partition,
    key: m.key?.toString(),
    timestamp: m.timestamp,
    headers: Object.fromEntries(Object.entries(m.headers ?? {}).map(([k, v]) => [k, String(v)])),
  });
  expect(target.map(place)).toEqual(source.map(place));
}

describe('pnpm privacy reencrypt on the real Kafka, registry and Postgres', () => {
  let db: TestDatabase;
  let pool: pg.Pool;
  let vault: PrivacyVault;
  let key: (scope: string) => Promise<ChatKeyState>;

  beforeAll(async () => {
    db = await createTestDatabase('privacy_reencrypt');
    pool = new pg.Pool({ connectionString: db.url, max: 2 });
    const config = parsePrivacyConfig({
      PRIVACY_KEYS: `k1:${randomBytes(32).toString('base64')}`,
      PRIVACY_EMAIL_HASH_KEY: randomBytes(32).toString('base64'),
    })!;
    await migratePrivacy(pool, { schema: config.schema });
    vault = new PrivacyVault(pool, config);
    key = async (scope) => (await vault.keysFor(TENANT, [scope], { create: true })).get(scope)!;
    // an erased chat: what was written of it before privacy is dropped, never sealed again
    await key('chat-erased');
    await vault.eraseChats(TENANT, ['chat-erased'], { actor: 'test' });
  });

  afterAll(async () => {
    await pool?.end();
    await db?.drop();
  });

  const deps = () => ({ kafka, serde, vault, brokers: stackEndpoints().kafkaBrokers });

  it('parses its command line', () => {
    expect(parseReencryptArgs(['--topic', 'raw'])).toEqual({ kind: 'raw' });
    expect(parseReencryptArgs(['--topic', 'chat-events', '--source', 'a', '--target', 'b'])).toEqual({
      kind: 'chat-events',
      source: 'a',
      target: 'b',
    });
    expect(() => parseReencryptArgs(['--topic', 'other'])).toThrow(/--topic raw or --topic chat-events/);
    expect(() => parseReencryptArgs(['--topic', 'raw', '--target', 'a b'])).toThrow(/topic name/);
  });

  it('raw: seals plain records, copies sealed ones byte for byte, erased scopes lose their body; resumes', async () => {
    const source = uniqueName('reenc.raw');
    await createTopic(source, 2, [{ name: 'retention.ms', value: '-1' }]);
    const writer = await serde.register(valueSubject(source), rawWebhookSchema());
    const active = await key('chat-1');
    if (active.state !== 'active') throw new Error('no key');
    const records = [
      raw('e1', 'chat-1', 'incoming_event', { payload: { text: `hello ${CANARY}` } }),
      raw('e2', 'chat-erased', 'incoming_event', { payload: { text: `bye ${CANARY}` } }),
      raw('e3', null, 'agent_created', { payload: { id: 'agent-1' } }),
      sealRawBody(raw('e4', 'chat-1', 'incoming_event', { payload: { text: CANARY } }), 'chat-1', active.key),
    ];
    await produce(
      source,
      records.map((r, i) => ({
        partition: i % 2,
        key: `${TENANT}|${r.chat_id ?? ''}`,
        value: serde.encode(writer, r),
        timestamp: String(1_700_000_000_000 + i),
      })),
    );

    const first: ReencryptResult = await reencrypt(deps(), { kind: 'raw', source });
    const target = `${source}.sealed`;
    expect(first).toMatchObject({ target, targetCreated: true, records: 4, sealed: 1, erased: 1, copied: 2 });

    const admin = kafka.admin();
    await admin.connect();
    try {
      const [meta] = (await admin.fetchTopicMetadata({ topics: [target] })).topics;
      expect(meta!.partitions).toHaveLength(2);
    } finally {
      await admin.disconnect();
    }

    const sourceMessages = await readTopic(source, { count: 4 });
    let targetMessages = await readTopic(target, { count: 4 });
    expect(targetMessages).toHaveLength(4);
    expectSamePlaces(sourceMessages, targetMessages);
    for (const m of targetMessages) expect(m.value!.includes(CANARY)).toBe(false);
    const reader = serde.reader(rawWebhookSchema());
    for (const [i, m] of targetMessages.entries()) {
      const sourceRecord = await reader.read(sourceMessages[i]!.value!);
      const copy = await reader.read(m.value!);
      if (sourceRecord.sealed !== null || sourceRecord.action === 'agent_created')
        expect(m.value!.equals(sourceMessages[i]!.value!)).toBe(true);
      if (sourceRecord.chat_id === 'chat-erased') {
        expect(copy.sealed).toMatchObject({ key_scope: 'chat-erased', envelope: null });
        expect(copy.body).toBe('');
        continue;
      }
      const opened = openRawBody(copy, await key(copy.sealed?.key_scope ?? 'chat-1'));
      const expected = openRawBody(sourceRecord, await key('chat-1'));
      expect(opened).toEqual(expected);
    }

    // more records arrive before the swap: a second run copies those only (its group's offsets)
    await produce(source, [
      {
        partition: 1,
        key: `${TENANT}|chat-2`,
        value: serde.encode(writer, raw('e5', 'chat-2', 'incoming_event', { payload: { text: CANARY } })),
        timestamp: '1700000000009',
      },
    ]);
    const second = await reencrypt(deps(), { kind: 'raw', source });
    expect(second).toMatchObject({ targetCreated: false, records: 1, sealed: 1 });
    const third = await reencrypt(deps(), { kind: 'raw', source });
    expect(third).toMatchObject({ records: 0 });
    expect(await recordCount(target)).toBe(5);
    targetMessages = await readTopic(target, { count: 5 });
    for (const m of targetMessages) expect(m.value!.includes(CANARY)).toBe(false);
  }, 30_000);

  it('chat events: sealed, the customer findable by e-mail, erased scopes null, no duplicates on a re-run', async () => {
    const source = uniqueName('reenc.chat');
    await createTopic(source, 2);
    const writer = await serde.register(valueSubject(source), chatEventSchema());
    const active = await key('chat-9');
    if (active.state !== 'active') throw new Error('no key');
    const events = [
      customerIdentified('c1', 'chat-5', 'customer-5'),
      customerIdentified('c2', 'chat-erased', 'customer-erased'),
      sealChatEvent(customerIdentified('c3', 'chat-9', 'customer-9'), 'chat-9', active.key),
    ];
    await produce(
      source,
      events.map((e, i) => ({
        partition: i % 2,
        key: `${TENANT}|${e.chat_id}`,
        value: serde.encode(writer, e),
        timestamp: String(1_700_000_000_000 + i),
      })),
    );
    const target = uniqueName('reenc.chat.sealed');
    const result = await reencrypt(deps(), { kind: 'chat-events', source, target });
    expect(result).toMatchObject({ records: 3, sealed: 1, erased: 1, copied: 1, linksRecorded: 1 });

    expect(await vault.findChatsOfCustomer(TENANT, { email: CANARY_EMAIL.toUpperCase() })).toEqual([
      'chat-5',
    ]);
    expect(await vault.findChatsOfCustomer(TENANT, { customerId: 'customer-erased' })).toEqual([]);

    const sourceMessages = await readTopic(source, { count: 3 });
    const targetMessages = await readTopic(target, { count: 3 });
    expectSamePlaces(sourceMessages, targetMessages);
    const reader = serde.reader(chatEventSchema());
    for (const [i, m] of targetMessages.entries()) {
      expect(m.value!.includes(CANARY)).toBe(false);
      const sourceEvent = await reader.read(sourceMessages[i]!.value!);
      const copy = await reader.read(m.value!);
      if (sourceEvent.sealed !== null) expect(m.value!.equals(sourceMessages[i]!.value!)).toBe(true);
      if (copy.chat_id === 'chat-erased') {
        expect(copy.sealed).toMatchObject({ key_scope: 'chat-erased', envelope: null });
        continue;
      }
      const states = new Map([[copy.sealed!.key_scope, await key(copy.sealed!.key_scope)]]);
      const opened = openChatEvent(copy, states);
      expect(opened.outcome).toBe('opened');
      expect(opened.event).toEqual(openChatEvent(sourceEvent, states).event);
    }

    const again = await reencrypt(deps(), { kind: 'chat-events', source, target });
    expect(again).toMatchObject({ records: 0, targetCreated: false });
    expect(await recordCount(target)).toBe(3);
  }, 30_000);
  it('a run that fails half-way loses nothing: the next one resumes after the last acknowledged chunk', async () => {
    const source = uniqueName('reenc.crash');
    await createTopic(source, 1);
    const writer = await serde.register(valueSubject(source), rawWebhookSchema());
    const ids = ['k1', 'k2', 'k3', 'k4'];
    await produce(
      source,
      ids.map((id, i) => ({
        partition: 0,
        key: `${TENANT}|chat-${id}`,
        value: serde.encode(writer, raw(id, `chat-${id}`, 'incoming_event', { payload: { text: CANARY } })),
        timestamp: String(1_700_000_000_000 + i),
      })),
    );
    // the key store fails from the third record on (one record per chunk): two are copied and committed
    let lookups = 0;
    const failing = Object.create(vault) as PrivacyVault;
    failing.keysFor = (...args) => {
      if (++lookups >= 3) return Promise.reject(new Error('key store down'));
      return vault.keysFor(...args);
    };
    const target = `${source}.sealed`;
    await expect(
      reencrypt({ ...deps(), vault: failing }, { kind: 'raw', source, chunkRecords: 1 }),
    ).rejects.toThrow(/key store down/);
    expect(await recordCount(target)).toBe(2);
    const resumed = await reencrypt(deps(), { kind: 'raw', source, chunkRecords: 1 });
    expect(resumed).toMatchObject({ records: 2, sealed: 2 });
    const reader = serde.reader(rawWebhookSchema());
    const copied = await Promise.all(
      (await readTopic(target, { count: 4 })).map(async (m) => (await reader.read(m.value!)).event_id),
    );
    expect(copied).toEqual(ids);
  }, 30_000);
  it('a transient key-store failure is retried within the run and each record counted once', async () => {
    const source = uniqueName('reenc.retry');
    await createTopic(source, 1);
    const writer = await serde.register(valueSubject(source), chatEventSchema());
    await produce(
      source,
      ['r1', 'r2', 'r3'].map((id, i) => ({
        partition: 0,
        key: `${TENANT}|chat-${id}`,
        value: serde.encode(writer, customerIdentified(id, `chat-${id}`, `customer-${id}`)),
        timestamp: String(1_700_000_000_000 + i),
      })),
    );
    // the second chunk fails after its records were sealed (recording its customer), and kafkajs retries it
    let calls = 0;
    const flaky = Object.create(vault) as PrivacyVault;
    flaky.recordCustomers = (...args) => {
      if (++calls === 2) return Promise.reject(new Error('key store blip'));
      return vault.recordCustomers(...args);
    };
    const result = await reencrypt(
      { ...deps(), vault: flaky },
      { kind: 'chat-events', source, chunkRecords: 1 },
    );
    expect(result).toMatchObject({ records: 3, sealed: 3, linksRecorded: 3 });
    expect(await recordCount(`${source}.sealed`)).toBe(3);
  }, 30_000);
});
