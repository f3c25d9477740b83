import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { pino } from 'pino';
import type { SealedFields } from '@livechat-pipeline/events';
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
import { rebuild } from '@livechat-pipeline/postgres-consumer';
import { loadTranscriptsConfig, type TranscriptsConfig } from '../src/config.js';
import { consumerOptions, createTranscriptsKafka, transcriptsConsumer } from '../src/consumer.js';
import { ChatEventOpener, openPrivacyVault } from '../src/privacy.js';
import { startTranscripts } from '../src/start.js';
import { canaryChat, canaryScopes, columnsContaining } from './support/canary.js';
import { event, message } from './support/events.js';
import { deadLetterCount, privacyEnv, produceChatEvents, sealEvents, writerVault } from './support/sealed.js';

// Given chat events sealed as the normalizer writes them (issue 19), the transcripts service opens them with the key
// store (a database of its own, PRIVACY_DATABASE_URL): the values are projected; an erased chat's events are projected
// without them and never dead-lettered; while the key store is down the partition waits, then applies.
const PERSONAL_COLUMNS = [
  'customers.email',
  'customers.name',
  'customers.session_fields',
  'customers.visit',
  'entries.author_name',
  'entries.content',
  'entries.text',
  'participants.email',
  'participants.name',
  'survey_answers.answer',
  'survey_answers.answers',
  'threads.summary_text',
  'tickets.body',
  'tickets.requester_email',
  'tickets.requester_name',
  'tickets.subject',
];

let db: TestDatabase;
let keysDb: TestDatabase;
let pool: pg.Pool;
let writer: Awaited<ReturnType<typeof writerVault>>;
let consumer: PostgresConsumer<ChatDomainEvent> | undefined;
let topic: string;
let consumerName: string;
let config: TranscriptsConfig;
let sealedCanary: string;
const tenant = uniqueName('t-privacy');

/** A plain message in a chat of its own: once it is projected, everything before it on the partition was. */
function sentinel(id: string): ChatDomainEvent {
  return event(
    'message_posted',
    { message: message({ livechat_event_id: `lc-${id}`, author_name: null, text: 'sentinel' }) },
    { event_id: `ev-${id}`, tenant, chat_id: `chat-${id}`, thread_id: `thread-${id}` },
  );
}

async function projected(id: string, timeoutMs = 20_000): Promise<void> {
  await waitFor(
    async () =>
      (
        await pool.query(`select 1 from transcripts.entries where tenant = $1 and chat_id = $2`, [
          tenant,
          `chat-${id}`,
        ])
      ).rowCount! > 0,
    { timeoutMs, message: `chat-${id} projected` },
  );
}

async function metric(name: string, labels: Record<string, string> = {}): Promise<number> {
  const values = (await consumer!.metricsRegistry.getSingleMetric(name)?.get())?.values ?? [];
  return values
    .filter((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l))
    .reduce((n, v) => n + v.value, 0);
}

/** Rows per table of one canary chat (its ids all contain `-<id>`). */
async function rowCounts(id: string): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const table of [
    'chats',
    'threads',
    'thread_tags',
    'entries',
    'participants',
    'customers',
    'survey_answers',
    'tickets',
  ]) {
    const { rows } = await pool.query<{ n: number }>(
      `select count(*)::int as n from transcripts.${table} r where r.tenant = $1 and r::text like '%-' || $2 || '%'`,
      [tenant, id],
    );
    counts[table] = rows[0]!.n;
  }
  return counts;
}

beforeAll(async () => {
  db = await createTestDatabase('transcripts_privacy');
  keysDb = await createTestDatabase('transcripts_keys');
  pool = new pg.Pool({ connectionString: db.url, max: 2 });
  const env = privacyEnv(uniqueName('keys').replace(/[^a-z0-9_]/g, '_'));
  writer = await writerVault(keysDb.url, env);
  topic = uniqueName('chat-events-privacy');
  consumerName = uniqueName('transcripts-privacy');
  await createTopic(topic, 1);
  config = loadTranscriptsConfig({
    KAFKA_BROKERS: stackEndpoints().kafkaBrokers.join(','),
    SCHEMA_REGISTRY_URL: stackEndpoints().schemaRegistryUrl,
    DATABASE_URL: db.url,
    PRIVACY_DATABASE_URL: keysDb.url,
    CHAT_EVENTS_TOPIC: topic,
    TRANSCRIPTS_CONSUMER_NAME: consumerName,
    TRANSCRIPTS_SCHEMA: 'transcripts',
    // Short, so a hung key store fails the batch quickly in the lock test.
    TRANSCRIPTS_PRIVACY_TIMEOUT_MS: '1000',
    ...env,
  });
  consumer = await startTranscripts(config, pino({ level: 'silent' }));
});
afterAll(async () => {
  await consumer?.stop();
  await writer?.close();
  await pool?.end();
  await db?.drop();
  await keysDb?.drop();
});

describe('transcripts: sealed chat events', () => {
  it('projects the opened values; an erased chat and a tampered envelope without them (rows and counts the same, no dead letter)', async () => {
    sealedCanary = `SEALED${Date.now().toString(36)}`;
    const erasedCanary = `ERASED${Date.now().toString(36)}`;
    const sealed = await sealEvents(writer.vault, [
      ...canaryChat(tenant, 'sealed', sealedCanary),
      ...canaryChat(tenant, 'erased', erasedCanary),
    ]);
    // What the topic holds is ciphertext: no canary in clear.
    expect(JSON.stringify(sealed)).not.toContain(sealedCanary);
    // The customer asks to be forgotten before the projection reads the chat: its keys are shredded.
    await writer.vault.eraseChats(tenant, canaryScopes('erased'), { actor: 'test' });
    // And a message whose envelope was tampered with on the way: applied without its text, counted as invalid.
    const [tampered] = await sealEvents(writer.vault, [
      event(
        'message_posted',
        { message: message({ livechat_event_id: 'lc-tampered', text: `${erasedCanary} tampered` }) },
        { event_id: 'ev-tampered', tenant, chat_id: 'chat-tampered', thread_id: 'thread-tampered' },
      ),
    ]);
    const { sealed: fields } = tampered as unknown as { sealed: SealedFields };
    const envelope = Buffer.from(fields.envelope!);
    envelope[envelope.length - 1]! ^= 1;
    const forged = { ...tampered!, sealed: { ...fields, envelope } } as unknown as ChatDomainEvent;
    await produceChatEvents(topic, [...sealed, forged, sentinel('first')]);
    await projected('first');

    expect(await columnsContaining(pool, 'transcripts', sealedCanary)).toEqual(PERSONAL_COLUMNS);
    expect(await columnsContaining(pool, 'transcripts', erasedCanary)).toEqual([]);
    expect(await rowCounts('erased')).toEqual(await rowCounts('sealed'));
    const summaries = await pool.query(
      `select chat_id, message_count, thread_count, tags, customer_id, customer_name is null as no_name
         from transcripts.chat_summary where tenant = $1 and chat_id in ('chat-sealed', 'chat-erased') order by 1`,
      [tenant],
    );
    expect(summaries.rows).toEqual([
      {
        chat_id: 'chat-erased',
        message_count: 3,
        thread_count: 1,
        tags: ['sales'],
        customer_id: 'cust-erased',
        no_name: true,
      },
      {
        chat_id: 'chat-sealed',
        message_count: 3,
        thread_count: 1,
        tags: ['sales'],
        customer_id: 'cust-sealed',
        no_name: false,
      },
    ]);
    const erasedEvents = sealed.filter((e) => {
      const scope = (e as { sealed?: { key_scope: string } | null }).sealed?.key_scope;
      return scope !== undefined && canaryScopes('erased').includes(scope);
    }).length;
    // At least: a batch retried after a transient failure of the apply is opened, and counted, again.
    expect(
      await metric('transcripts_privacy_fields_undecryptable_total', { reason: 'erased' }),
    ).toBeGreaterThanOrEqual(erasedEvents);
    expect(
      await metric('transcripts_privacy_fields_undecryptable_total', { reason: 'invalid' }),
    ).toBeGreaterThanOrEqual(1);
    const forgedRow = await pool.query(
      `select kind, author_id, text from transcripts.entries where tenant = $1 and chat_id = 'chat-tampered'`,
      [tenant],
    );
    expect(forgedRow.rows).toEqual([{ kind: 'message', author_id: 'cust-1', text: null }]);
    expect(await deadLetterCount(`${consumerName}.dlq`)).toBe(0);
  });

  it('waits while the key store is down (no dead letter, nothing written), then applies the values', async () => {
    const canary = `DOWN${Date.now().toString(36)}`;
    // Keys made while the store is up; the service has none of them cached.
    const sealed = await sealEvents(writer.vault, canaryChat(tenant, 'down', canary));
    const admin = new pg.Client({ connectionString: stackEndpoints().databaseUrl });
    await admin.connect();
    try {
      await admin.query(`alter database "${keysDb.name}" allow_connections false`);
      await admin.query(`select pg_terminate_backend(pid) from pg_stat_activity where datname = $1`, [
        keysDb.name,
      ]);
      const failuresBefore = await metric('postgres_consumer_transient_failures_total');
      await produceChatEvents(topic, [...sealed, sentinel('after-down')]);
      await waitFor(
        async () => (await metric('postgres_consumer_transient_failures_total')) >= failuresBefore + 2,
        {
          timeoutMs: 15_000,
          message: 'the partition retried the sealed batch',
        },
      );
      expect(await rowCounts('down')).toMatchObject({ entries: 0, customers: 0, tickets: 0 });
      expect(await deadLetterCount(`${consumerName}.dlq`)).toBe(0);
    } finally {
      await admin.query(`alter database "${keysDb.name}" allow_connections true`);
      await admin.end();
    }
    await projected('after-down');
    expect(await columnsContaining(pool, 'transcripts', canary)).toEqual(PERSONAL_COLUMNS);
    expect(await deadLetterCount(`${consumerName}.dlq`)).toBe(0);
  });

  it('a hung key store (chat_keys locked) fails the batch, which is retried; once released the values are applied', async () => {
    const canary = `LOCKED${Date.now().toString(36)}`;
    const sealed = await sealEvents(writer.vault, canaryChat(tenant, 'locked', canary));
    const admin = new pg.Client({ connectionString: keysDb.url });
    await admin.connect();
    try {
      // A rewrap or a migration holding chat_keys: the key look-up waits on the lock, it is not refused.
      await admin.query('begin');
      await admin.query(`lock table ${config.privacy!.vault.schema}.chat_keys in access exclusive mode`);
      const failuresBefore = await metric('postgres_consumer_transient_failures_total');
      await produceChatEvents(topic, [...sealed, sentinel('after-lock')]);
      await waitFor(
        async () => (await metric('postgres_consumer_transient_failures_total')) >= failuresBefore + 1,
        { timeoutMs: 15_000, message: 'the partition failed and retried the batch held by the key store' },
      );
      expect(await rowCounts('locked')).toMatchObject({ entries: 0, customers: 0, tickets: 0 });
    } finally {
      await admin.query('rollback').catch(() => undefined);
      await admin.end();
    }
    await projected('after-lock');
    expect(await columnsContaining(pool, 'transcripts', canary)).toEqual(PERSONAL_COLUMNS);
    expect(await deadLetterCount(`${consumerName}.dlq`)).toBe(0);
  });

  it('rebuilds (transcripts:rebuild) through the key store: a chat erased since is rebuilt without its values, rows equal', async () => {
    // Sequential: it rebuilds what the first test projected (its sealed canary chat), with the service stopped.
    expect(sealedCanary, 'the first test of this file ran').toBeDefined();
    await consumer!.stop();
    consumer = undefined;
    const before = await rowCounts('sealed');
    expect(await columnsContaining(pool, 'transcripts', sealedCanary)).toEqual(PERSONAL_COLUMNS);
    await writer.vault.eraseChats(tenant, canaryScopes('sealed'), { actor: 'test' });
    // What rebuild-cli.ts runs: a vault of its own (nothing cached), the service's definition and options.
    const privacy = await openPrivacyVault(config.privacy);
    const logger = pino({ level: 'silent' });
    try {
      await rebuild(
        transcriptsConsumer(config, new ChatEventOpener(privacy!.vault, { service: 'transcripts' })),
        consumerOptions(config, createTranscriptsKafka(config, logger), logger),
      );
    } finally {
      await privacy?.close();
    }
    expect(await columnsContaining(pool, 'transcripts', sealedCanary)).toEqual([]);
    expect(await rowCounts('sealed')).toEqual(before);
    expect(await deadLetterCount(`${consumerName}.dlq`)).toBe(0);
  });
});
