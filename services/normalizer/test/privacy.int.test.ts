import { randomBytes } from 'node:crypto';
import type { Consumer, KafkaMessage, Producer } from 'kafkajs';
import pg from 'pg';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ConfluentAvroSerde,
  SchemaRegistryClient,
  ensureTopic,
  openChatEvent,
  rawWebhookSchema,
  sealRawBody,
  valueSubject,
  type RawWebhook,
  type RegisteredSchema,
  type SealedFields,
} from '@livechat-pipeline/events';
import { parseWebhook, type ChatDomainEvent } from '@livechat-pipeline/livechat';
import { ChatKey, PrivacyVault, parsePrivacyConfig, type PrivacyConfig } from '@livechat-pipeline/privacy';
import {
  createTestDatabase,
  stackEndpoints,
  testKafka,
  uniqueName,
  waitFor,
  type TestDatabase,
} from '@livechat-pipeline/testkit';
import { loadNormalizerConfig } from '../src/config.js';
import { startNormalizer, type RunningNormalizer } from '../src/start.js';

type SealedEvent = ChatDomainEvent & { sealed: SealedFields | null };

const org = '0b6c4f5e-6f0e-4c55-9d0e-7d1a5b2f1c11';
const run = uniqueName('pv');

/** An incoming_chat: a customer (name, e-mail) who writes `text`, and an agent. */
const chatBody = (chatId: string, email: string, text: string) => ({
  webhook_id: 'wh',
  secret_key: '[redacted]',
  action: 'incoming_chat',
  organization_id: org,
  payload: {
    chat: {
      id: chatId,
      users: [
        { id: `cust-${chatId}`, type: 'customer', name: 'Canary Customer', email, present: true },
        { id: 'agent@example.com', type: 'agent', name: 'Agent Smith', email: 'agent@example.com' },
      ],
      thread: {
        id: `TH-${chatId}`,
        active: true,
        created_at: '2026-11-25T10:00:00.000000Z',
        events: [
          {
            id: `TH-${chatId}_1`,
            type: 'message',
            text,
            author_id: `cust-${chatId}`,
            created_at: '2026-11-25T10:00:01.000000Z',
            visibility: 'all',
          },
        ],
      },
    },
  },
});

const rawRecord = (eventId: string, chatId: string, body: unknown): RawWebhook => ({
  event_id: eventId,
  received_at: 1_795_600_000_000_000,
  format: 'v3',
  api_version: '3.6',
  action: 'incoming_chat',
  tenant: org,
  tenant_source: 'body',
  chat_id: chatId,
  thread_id: `TH-${chatId}`,
  webhook_id: 'wh',
  body: JSON.stringify(body),
  content_length: null,
  user_agent: null,
  remote_address: null,
});

const parsed = (raw: RawWebhook, body: string): ChatDomainEvent[] =>
  parseWebhook(JSON.parse(body), {
    rawEventId: raw.event_id,
    receivedAtMicros: raw.received_at,
    tenantHint: raw.tenant,
    apiVersion: raw.api_version,
  });

/** Every record of a topic as it arrives (one consumer for the file: no group join per assertion). */
class TopicTail {
  readonly messages: KafkaMessage[] = [];
  private consumer: Consumer | undefined;

  async start(topic: string): Promise<void> {
    this.consumer = testKafka('privacy-tail').consumer({ groupId: uniqueName('tail'), maxWaitTimeInMs: 100 });
    await this.consumer.connect();
    await this.consumer.subscribe({ topic, fromBeginning: true });
    await this.consumer.run({
      eachMessage: async ({ message }) => {
        this.messages.push(message);
      },
    });
  }

  async stop(): Promise<void> {
    await this.consumer?.disconnect();
  }
}

describe('normalizer with privacy on (real Kafka, registry, Postgres key store)', () => {
  const rawTopic = uniqueName('raw-pv');
  const outTopic = uniqueName('chat-events-pv');
  const dlqTopic = uniqueName('raw-dlq-pv');
  const groupId = uniqueName('normalizer-pv');
  const env = {
    PRIVACY_KEYS: `k1:${randomBytes(32).toString('base64')}`,
    PRIVACY_EMAIL_HASH_KEY: randomBytes(32).toString('base64'),
  };
  let db: TestDatabase;
  let privacy: PrivacyConfig;
  let pool: pg.Pool;
  let vault: PrivacyVault;
  let serde: ConfluentAvroSerde;
  let rawSchema: RegisteredSchema;
  let producer: Producer;
  let running: RunningNormalizer;
  const events = new TopicTail();
  const deadLetters = new TopicTail();
  /** The normalizer's log lines (debug and up), checked for personal values. */
  const logLines: string[] = [];
  /** Personal values the tests sent: none may reach a log line. */
  const personal: string[] = ['Canary Customer'];
  /** While set, reading the parse limits throws a TypeError quoting it, as a V8 message quotes a value. */
  let parserFault: string | undefined;

  /** The chat events decoded, of the raw record `rawEventId`. */
  const eventsOf = async (rawEventId: string): Promise<SealedEvent[]> => {
    const all = await Promise.all(
      events.messages.map(async (m) => (await serde.decode<SealedEvent>(m.value!)).value),
    );
    return all.filter((e) => e.raw_event_id === rawEventId);
  };
  const send = async (raw: RawWebhook): Promise<Buffer> => {
    const value = serde.encode(rawSchema, raw);
    await producer.send({ topic: rawTopic, acks: -1, messages: [{ key: `${org}|${raw.chat_id}`, value }] });
    return value;
  };
  /** A raw record sealed as the ingest seals it, with the chat's key (created at first sight). */
  const sealed = async (raw: RawWebhook): Promise<RawWebhook> => {
    const key = await vault.keyFor(org, raw.chat_id!, { create: true });
    return sealRawBody(raw, raw.chat_id!, key);
  };
  const metric = async (name: string): Promise<number> => {
    const values = (await running.metrics.registry.getSingleMetric(name)?.get())?.values ?? [];
    return values.reduce((sum, v) => sum + v.value, 0);
  };
  const admin = async <T>(sql: string): Promise<T> => {
    const client = new pg.Client({ connectionString: stackEndpoints().databaseUrl });
    await client.connect();
    try {
      return (await client.query(sql)).rows as T;
    } finally {
      await client.end();
    }
  };

  beforeAll(async () => {
    db = await createTestDatabase('normalizer_privacy');
    privacy = parsePrivacyConfig(env)!;
    pool = new pg.Pool({ connectionString: db.url, max: 2 });
    pool.on('error', () => undefined); // connections ended by the key-store-down test
    const kafka = testKafka('normalizer-privacy');
    await ensureTopic(kafka, { topic: rawTopic, numPartitions: 1, replicationFactor: 1 });
    serde = new ConfluentAvroSerde(new SchemaRegistryClient({ baseUrl: stackEndpoints().schemaRegistryUrl }));
    rawSchema = await serde.register(valueSubject(rawTopic), rawWebhookSchema());
    producer = kafka.producer({ idempotent: true });
    await producer.connect();
    const config = loadNormalizerConfig({
      ...env,
      PRIVACY_DATABASE_URL: db.url,
      KAFKA_BROKERS: stackEndpoints().kafkaBrokers.join(','),
      SCHEMA_REGISTRY_URL: stackEndpoints().schemaRegistryUrl,
      RAW_WEBHOOK_TOPIC: rawTopic,
      CHAT_EVENTS_TOPIC: outTopic,
      CHAT_EVENTS_TOPIC_PARTITIONS: '1',
      NORMALIZER_DLQ_TOPIC: dlqTopic,
      NORMALIZER_GROUP_ID: groupId,
    });
    const maxEvents = config.limits.parse.maxEvents;
    const parse = Object.defineProperty({ ...config.limits.parse }, 'maxEvents', {
      enumerable: true,
      get: () => {
        if (parserFault !== undefined)
          throw new TypeError(`Cannot create property 'x' on string '${parserFault}'`);
        return maxEvents;
      },
    });
    const logger = pino({ level: 'debug' }, { write: (line: string) => void logLines.push(line) });
    // Starts first: it migrates the key store the test's own vault then uses.
    running = await startNormalizer({ ...config, limits: { ...config.limits, parse } }, logger);
    vault = new PrivacyVault(pool, privacy);
    await events.start(outTopic);
    await deadLetters.start(dlqTopic);
  }, 60_000);

  afterAll(async () => {
    await events.stop();
    await deadLetters.stop();
    await producer?.disconnect();
    await running?.stop();
    await pool?.end();
    await db?.drop();
  });

  it('opens a sealed raw record, seals its chat events (stand-ins in clear, originals in the envelope), indexes the customer by e-mail', async () => {
    const chatId = `${run}-C1`;
    const email = `canary.${run}@example.com`;
    const canary = `canary-text-${randomBytes(8).toString('hex')}`;
    personal.push(email, canary);
    const clear = rawRecord(`${run}-raw-1`, chatId, chatBody(chatId, email, canary));
    const rawValue = await send(await sealed(clear));
    expect(rawValue.includes(canary)).toBe(false);

    const expected = parsed(clear, clear.body);
    const out = await waitFor(
      async () => {
        const got = await eventsOf(clear.event_id);
        return got.length >= expected.length ? got : undefined;
      },
      { timeoutMs: 15_000, message: 'the sealed record’s chat events' },
    );
    expect(out.map((e) => e.type)).toEqual(expected.map((e) => e.type));

    // In clear: ids, types, kinds; no name, e-mail or text of the customer.
    const started = out.find((e) => e.type === 'thread_started')!;
    const startedUsers = (started as Extract<ChatDomainEvent, { type: 'thread_started' }>).body.thread_started
      .users;
    const customer = startedUsers.find((u) => u.kind === 'customer')!;
    expect(customer).toMatchObject({ id: `cust-${chatId}`, name: null, email: null });
    const posted = out.find((e) => e.type === 'message_posted') as Extract<
      SealedEvent,
      { type: 'message_posted' }
    >;
    expect(posted.body.message_posted.message.text).toBeNull();
    expect(posted.sealed).toMatchObject({ key_scope: chatId, key_version: 1 });
    expect(posted.sealed!.paths).toContain('/message/text');

    // The envelopes open, with the chat's key, to exactly what the parser made of the clear body.
    const state = (await vault.keysFor(org, [chatId], { create: false })).get(chatId);
    const opened = out.map((e) => openChatEvent(e, state));
    expect(opened.filter((o) => o.outcome === 'opened').length).toBeGreaterThanOrEqual(2);
    expect(opened.map((o) => ({ ...o.event, sealed: undefined }))).toEqual(
      expected.map((e) => ({ ...e, sealed: undefined })),
    );

    // The canary is nowhere in the chat-events topic's bytes (values and keys).
    const bytes = Buffer.concat(events.messages.flatMap((m) => [m.key ?? Buffer.alloc(0), m.value!]));
    expect(bytes.includes(canary)).toBe(false);
    expect(bytes.includes(email)).toBe(false);
    expect(bytes.includes('Canary Customer')).toBe(false);

    // The customer index: an erasure by e-mail (any case) or customer id finds the chat.
    expect(await vault.findChatsOfCustomer(org, { email: email.toUpperCase() })).toEqual([chatId]);
    expect(await vault.findChatsOfCustomer(org, { customerId: `cust-${chatId}` })).toEqual([chatId]);
  });

  it('emits nothing for a raw record of an erased scope (dropped at the ingest, or erased since), commits its offset, counts it', async () => {
    const dropped = rawRecord(
      `${run}-raw-dropped`,
      `${run}-C2`,
      chatBody(`${run}-C2`, 'x@example.com', 'gone'),
    );
    await vault.eraseChats(org, [`${run}-C2`], { actor: 'test' });
    // The ingest met a tombstone: body dropped, envelope null.
    const droppedSealed = sealRawBody(dropped, `${run}-C2`, 'erased');
    // Sealed with a live key, erased before the normalizer reads it (the normalizer never saw this chat).
    const later = rawRecord(`${run}-raw-later`, `${run}-C3`, chatBody(`${run}-C3`, 'y@example.com', 'later'));
    const laterSealed = await sealed(later);
    await vault.eraseChats(org, [`${run}-C3`], { actor: 'test' });
    const after = rawRecord(`${run}-raw-after`, `${run}-C4`, chatBody(`${run}-C4`, 'z@example.com', 'after'));
    const before = await metric('normalizer_records_erased_total');
    await send(droppedSealed);
    await send(laterSealed);
    await send(await sealed(after));

    await waitFor(async () => (await eventsOf(after.event_id)).length > 0 || undefined, {
      timeoutMs: 15_000,
      message: 'the events of the record after the erased ones',
    });
    expect(await eventsOf(dropped.event_id)).toEqual([]);
    expect(await eventsOf(later.event_id)).toEqual([]);
    expect(await metric('normalizer_records_erased_total')).toBe(before + 2);
    expect(deadLetters.messages).toEqual([]);
    const kafkaAdmin = testKafka('privacy-offsets').admin();
    await kafkaAdmin.connect();
    try {
      const end = (await kafkaAdmin.fetchTopicOffsets(rawTopic))[0]!.high;
      await waitFor(
        async () => {
          const [topic] = await kafkaAdmin.fetchOffsets({ groupId, topics: [rawTopic] });
          return topic!.partitions[0]!.offset === end || undefined;
        },
        { timeoutMs: 15_000, message: 'the group committed past the erased records' },
      );
    } finally {
      await kafkaAdmin.disconnect();
    }
  });

  it('waits while the key store is down (no events, no dead letter), then maps the record once it is back', async () => {
    const chatId = `${run}-C5`;
    const raw = rawRecord(`${run}-raw-down`, chatId, chatBody(chatId, 'down@example.com', 'while down'));
    const record = await sealed(raw);
    const deadBefore = deadLetters.messages.length;
    const retriesBefore = await metric('normalizer_privacy_retries_total');
    await admin(`alter database "${db.name}" allow_connections false`);
    try {
      await admin(`select pg_terminate_backend(pid) from pg_stat_activity where datname = '${db.name}'`);
      await send(record);
      // Two failed attempts (the batch was retried, not skipped), or whatever else became of the record.
      await waitFor(
        async () =>
          (await metric('normalizer_privacy_retries_total')) >= retriesBefore + 2 ||
          deadLetters.messages.length > deadBefore ||
          (await eventsOf(raw.event_id)).length > 0 ||
          undefined,
        { timeoutMs: 15_000, message: 'the normalizer retrying for want of a key' },
      );
      expect(await eventsOf(raw.event_id)).toEqual([]);
      expect(deadLetters.messages.length).toBe(deadBefore);
    } finally {
      await admin(`alter database "${db.name}" allow_connections true`);
    }
    const out = await waitFor(
      async () => {
        const got = await eventsOf(raw.event_id);
        return got.length > 0 ? got : undefined;
      },
      { timeoutMs: 20_000, message: 'the events once the key store is back' },
    );
    expect(out.map((e) => e.type)).toEqual(parsed(raw, raw.body).map((e) => e.type));
    expect(deadLetters.messages.length).toBe(deadBefore);
  });

  it('dead-letters a tampered envelope as consumed (still sealed), never in clear, and carries on', async () => {
    const chatId = `${run}-C6`;
    const canary = `tamper-canary-${randomBytes(6).toString('hex')}`;
    const raw = rawRecord(`${run}-raw-tampered`, chatId, chatBody(chatId, 'tamper@example.com', canary));
    const record = await sealed(raw);
    const envelope = Buffer.from(record.sealed!.envelope!);
    envelope[envelope.length - 1]! ^= 0x01; // the GCM tag
    const tampered = { ...record, sealed: { ...record.sealed!, envelope } };
    const deadBefore = deadLetters.messages.length;
    const value = await send(tampered);
    const next = rawRecord(`${run}-raw-next`, `${run}-C7`, chatBody(`${run}-C7`, 'n@example.com', 'next'));
    await send(await sealed(next));

    const dead = await waitFor(() => deadLetters.messages[deadBefore], {
      timeoutMs: 15_000,
      message: 'the dead letter of the tampered record',
    });
    expect(dead.headers?.['dlq.error.code']?.toString()).toBe('NORMALIZER_SEALED_BODY_INVALID');
    expect(dead.value?.equals(value)).toBe(true);
    const dlqBytes = Buffer.concat([
      dead.value!,
      ...Object.values(dead.headers ?? {}).map((h) => Buffer.from(String(h))),
    ]);
    expect(dlqBytes.includes(canary)).toBe(false);
    await waitFor(async () => (await eventsOf(next.event_id)).length > 0 || undefined, {
      timeoutMs: 15_000,
      message: 'the record after the tampered one mapped',
    });
    expect(await eventsOf(raw.event_id)).toEqual([]);
  });

  it('seals the events of an over-long chat id under raw:<event id>, and dead-letters a chat id with a NUL (Postgres text cannot hold it) instead of stalling', async () => {
    const deadBefore = deadLetters.messages.length;
    const long = rawRecord(`${run}-raw-long`, `${run}-L`, chatBody('L'.repeat(300), 'l@example.com', 'long'));
    const nul = rawRecord(`${run}-raw-nul`, `${run}-N`, chatBody(`${run}-N\u0000X`, 'n@example.com', 'nul'));
    const good = rawRecord(`${run}-raw-good`, `${run}-C8`, chatBody(`${run}-C8`, 'g@example.com', 'good'));
    // Plain records (written before privacy was on): their events are sealed here.
    await send(long);
    await send(nul);
    await send(good);
    await waitFor(async () => (await eventsOf(good.event_id)).length > 0 || undefined, {
      timeoutMs: 15_000,
      message: 'the record after them mapped',
    });
    const longEvents = await eventsOf(long.event_id);
    expect(longEvents.map((e) => e.type)).toEqual(parsed(long, long.body).map((e) => e.type));
    expect(new Set(longEvents.flatMap((e) => (e.sealed === null ? [] : [e.sealed.key_scope])))).toEqual(
      new Set([`raw:${long.event_id}`]),
    );
    // Its customer is indexed under the scope its events were sealed with, so an erasure finds that key.
    expect(await vault.findChatsOfCustomer(org, { email: 'l@example.com' })).toEqual([
      `raw:${long.event_id}`,
    ]);
    const codes = await waitFor(
      () =>
        deadLetters.messages.length > deadBefore &&
        deadLetters.messages.slice(deadBefore).map((m) => m.headers?.['dlq.error.code']?.toString()),
      { timeoutMs: 15_000, message: 'the dead letter' },
    );
    expect(codes).toEqual(['NORMALIZER_KEY_SCOPE_INVALID']);
    expect(await eventsOf(nul.event_id)).toEqual([]);
  });

  it('keeps an unexpected error’s message (which may quote opened values) out of the dead letter, the logs and the span', async () => {
    const chatId = `${run}-C10`;
    const canary = `fault-canary-${randomBytes(6).toString('hex')}`;
    const raw = rawRecord(`${run}-raw-fault`, chatId, chatBody(chatId, 'f@example.com', 'fault'));
    const deadBefore = deadLetters.messages.length;
    parserFault = canary;
    try {
      await send(await sealed(raw));
      const dead = await waitFor(() => deadLetters.messages[deadBefore], {
        timeoutMs: 15_000,
        message: 'the dead letter of the record the parser failed on',
      });
      expect(dead.headers?.['dlq.error.code']?.toString()).toBe('NORMALIZER_PARSER_FAILED');
      expect(dead.headers?.['dlq.error.message']?.toString()).toContain('TypeError');
      const dlqBytes = Buffer.concat([
        dead.value!,
        ...Object.values(dead.headers ?? {}).map((h) => Buffer.from(String(h))),
      ]);
      expect(dlqBytes.includes(canary)).toBe(false);
      expect(logLines.some((line) => line.includes('raw record dead-lettered'))).toBe(true);
      expect(logLines.filter((line) => line.includes(canary))).toEqual([]);
    } finally {
      parserFault = undefined;
    }
  });

  it('a replay of old records dates new keys by the records and never moves an existing key’s last activity to now', async () => {
    const receivedAt = Date.UTC(2021, 0, 10); // ms
    const fresh = `${run}-R1`;
    const known = `${run}-R2`;
    const knownSeen = new Date(Date.UTC(2022, 5, 1));
    await vault.keysFor(org, [known], { create: true });
    await pool.query(
      `update ${privacy.schema}.chat_keys set last_seen_at = $3 where tenant_id = $1 and chat_id = $2`,
      [org, known, knownSeen],
    );
    const old = (eventId: string, chatId: string): RawWebhook => ({
      ...rawRecord(eventId, chatId, chatBody(chatId, `${eventId}@example.com`, 'old')),
      received_at: receivedAt * 1000,
    });
    // Plain records, as a replay of the pre-privacy log reads them.
    const a = old(`${run}-raw-replay-1`, fresh);
    const b = old(`${run}-raw-replay-2`, known);
    await send(a);
    await send(b);
    await waitFor(async () => (await eventsOf(b.event_id)).length > 0 || undefined, {
      timeoutMs: 15_000,
      message: 'the replayed records mapped',
    });
    const rows = (
      await pool.query<{ chat_id: string; last_seen_at: Date }>(
        `select chat_id, last_seen_at from ${privacy.schema}.chat_keys where tenant_id = $1 and chat_id = any($2)`,
        [org, [fresh, known]],
      )
    ).rows;
    const seen = new Map(rows.map((r) => [r.chat_id, r.last_seen_at.getTime()]));
    expect(seen.get(fresh)).toBe(receivedAt);
    expect(seen.get(known)).toBe(knownSeen.getTime());
  });

  it('asks the key store once per tenant per window (not per record), and a redelivered window not at all', async () => {
    const org2 = '1c7d5f6a-7a1f-4d66-8e1f-8e2b6c3a2d22';
    const records: RawWebhook[] = [];
    for (let n = 0; n < 50; n++) {
      const tenant = n % 2 === 0 ? org : org2;
      const chatId = `${run}-W${n}`;
      records.push({
        ...rawRecord(`${run}-raw-w${n}`, chatId, chatBody(chatId, `w${n}@example.com`, `w${n}`)),
        tenant,
        body: JSON.stringify({ ...chatBody(chatId, `w${n}@example.com`, `w${n}`), organization_id: tenant }),
      });
    }
    // One produce: the records arrive in one batch, one window.
    const sendAll = async () =>
      producer.send({
        topic: rawTopic,
        acks: -1,
        messages: records.map((raw) => ({
          key: `${raw.tenant}|${raw.chat_id}`,
          value: serde.encode(rawSchema, raw),
        })),
      });
    const queries = () => running.vault!.stats().queries;
    const before = queries();
    await sendAll();
    await waitFor(async () => (await eventsOf(records[49]!.event_id)).length > 0 || undefined, {
      timeoutMs: 20_000,
      message: 'the window mapped',
    });
    // Per tenant: select, insert, select of the new keys, one recordCustomers transaction.
    const first = queries() - before;
    expect(first).toBeGreaterThan(0);
    expect(first).toBeLessThanOrEqual(2 * 4);
    expect(await vault.findChatsOfCustomer(org2, { email: 'w1@example.com' })).toEqual([`${run}-W1`]);
    // Redelivered (a replay): keys cached, links known to this process: no key-store call.
    const again = queries();
    await sendAll();
    await waitFor(
      async () =>
        (await eventsOf(records[49]!.event_id)).length >=
          2 * parsed(records[49]!, records[49]!.body).length || undefined,
      { timeoutMs: 20_000, message: 'the redelivered window mapped' },
    );
    expect(queries() - again).toBe(0);
    expect(logLines.filter((line) => /w\d+@example\.com/.test(line))).toEqual([]);
  });

  it('replay after erasure: a plain record of an erased chat, alone or in a window with its sealed record, yields events with values cleared and no envelope', async () => {
    const chatId = `${run}-E1`;
    const canary = `erased-canary-${randomBytes(6).toString('hex')}`;
    const email = `erased.${run}@example.com`;
    personal.push(canary, email);
    const plain = rawRecord(`${run}-raw-e-plain`, chatId, chatBody(chatId, email, canary));
    const sealedOne = await sealed(rawRecord(`${run}-raw-e-sealed`, chatId, chatBody(chatId, email, canary)));
    await vault.eraseChats(org, [chatId], { actor: 'test' });
    // One produce: the sealed-and-erased record and the plain one of the same chat in one window.
    await producer.send({
      topic: rawTopic,
      acks: -1,
      messages: [sealedOne, plain].map((raw) => ({
        key: `${org}|${chatId}`,
        value: serde.encode(rawSchema, raw),
      })),
    });
    const out = await waitFor(
      async () => {
        const got = await eventsOf(plain.event_id);
        return got.length >= parsed(plain, plain.body).length ? got : undefined;
      },
      { timeoutMs: 15_000, message: 'the plain record’s events' },
    );
    expect(await eventsOf(sealedOne.event_id)).toEqual([]);
    const posted = out.find((e) => e.type === 'message_posted') as Extract<
      SealedEvent,
      { type: 'message_posted' }
    >;
    expect(posted.body.message_posted.message.text).toBeNull();
    for (const event of out) if (event.sealed !== null) expect(event.sealed.envelope).toBeNull();
    const bytes = Buffer.concat(events.messages.map((m) => m.value!));
    expect(bytes.includes(canary)).toBe(false);
    expect(bytes.includes(email)).toBe(false);
  });

  it('dead-letters a chat id with a lone UTF-16 surrogate (its key would never unwrap) and maps the next record', async () => {
    const deadBefore = deadLetters.messages.length;
    const chatId = `${run}-S\ud800`;
    // JSON.stringify writes the lone surrogate as the escape "\ud800", valid JSON that parses back to it.
    const bad = rawRecord(`${run}-raw-surrogate`, `${run}-S`, chatBody(chatId, 's@example.com', 'surrogate'));
    const good = rawRecord(
      `${run}-raw-after-s`,
      `${run}-C9`,
      chatBody(`${run}-C9`, 'g9@example.com', 'good'),
    );
    await send(bad);
    await send(good);
    await waitFor(async () => (await eventsOf(good.event_id)).length > 0 || undefined, {
      timeoutMs: 20_000,
      message: 'the record after the surrogate one mapped',
    });
    const codes = await waitFor(
      () =>
        deadLetters.messages.length > deadBefore &&
        deadLetters.messages.slice(deadBefore).map((m) => m.headers?.['dlq.error.code']?.toString()),
      { timeoutMs: 15_000, message: 'the dead letter' },
    );
    expect(codes).toEqual(['NORMALIZER_KEY_SCOPE_INVALID']);
    expect(await eventsOf(bad.event_id)).toEqual([]);
  });

  it('logs (debug and up) carry none of the personal values the tests sent', () => {
    expect(logLines.length).toBeGreaterThan(0);
    for (const value of personal) expect(logLines.filter((line) => line.includes(value))).toEqual([]);
  });
});

describe('normalizer with privacy off meeting a sealed raw record', () => {
  it('waits (retryably, a clear error line), neither dead-letters it nor emits anything', async () => {
    const rawTopic = uniqueName('raw-pv-off');
    const outTopic = uniqueName('chat-events-pv-off');
    const dlqTopic = uniqueName('raw-dlq-pv-off');
    const kafka = testKafka('normalizer-privacy-off');
    await ensureTopic(kafka, { topic: rawTopic, numPartitions: 1, replicationFactor: 1 });
    const serde = new ConfluentAvroSerde(
      new SchemaRegistryClient({ baseUrl: stackEndpoints().schemaRegistryUrl }),
    );
    const rawSchema = await serde.register(valueSubject(rawTopic), rawWebhookSchema());
    const lines: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => void lines.push(line) });
    const running = await startNormalizer(
      loadNormalizerConfig({
        KAFKA_BROKERS: stackEndpoints().kafkaBrokers.join(','),
        SCHEMA_REGISTRY_URL: stackEndpoints().schemaRegistryUrl,
        RAW_WEBHOOK_TOPIC: rawTopic,
        CHAT_EVENTS_TOPIC: outTopic,
        CHAT_EVENTS_TOPIC_PARTITIONS: '1',
        NORMALIZER_DLQ_TOPIC: dlqTopic,
        NORMALIZER_GROUP_ID: uniqueName('normalizer-pv-off'),
      }),
      logger,
    );
    const producer = kafka.producer({ idempotent: true });
    try {
      expect(running.vault).toBeNull();
      const chatId = `${run}-OFF`;
      const clear = rawRecord(
        `${run}-raw-off`,
        chatId,
        chatBody(chatId, 'off@example.com', 'sealed elsewhere'),
      );
      // Sealed by an ingest that has keys (a key made here, not in any store).
      const key = new ChatKey(org, chatId, 1, randomBytes(32));
      await producer.connect();
      await producer.send({
        topic: rawTopic,
        acks: -1,
        messages: [
          { key: `${org}|${chatId}`, value: serde.encode(rawSchema, sealRawBody(clear, chatId, key)) },
        ],
      });
      const retries = async (): Promise<number> =>
        (
          (await running.metrics.registry.getSingleMetric('normalizer_privacy_retries_total')?.get())
            ?.values ?? []
        ).reduce((sum, v) => sum + v.value, 0);
      const processed = async (): Promise<number> =>
        (
          (await running.metrics.registry.getSingleMetric('normalizer_raw_records_total')?.get())?.values ??
          []
        ).reduce((sum, v) => sum + v.value, 0);
      await waitFor(async () => (await retries()) >= 2 || (await processed()) > 0 || undefined, {
        timeoutMs: 15_000,
        message: 'the privacy-off normalizer retrying the sealed record',
      });
      expect(await processed()).toBe(0);
      const offsets = kafka.admin();
      await offsets.connect();
      try {
        for (const topic of [outTopic, dlqTopic]) {
          const held = (await offsets.fetchTopicOffsets(topic)).reduce(
            (sum, p) => sum + Number(p.high) - Number(p.low),
            0,
          );
          expect(held, topic).toBe(0);
        }
      } finally {
        await offsets.disconnect();
      }
      expect(lines.join('\n')).toContain('PRIVACY_KEYS is not set');
      expect(lines.join('\n')).toContain('"code":"PRIVACY_KEY_UNAVAILABLE"');
    } finally {
      await producer.disconnect();
      await running.stop();
    }
  });
});
