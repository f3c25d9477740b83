import { Writable } from 'node:stream';
import type pg from 'pg';
import { pino, type Logger } from 'pino';
import {
  ConfluentAvroSerde,
  SchemaRegistryClient,
  chatEventSchema,
  valueSubject,
} from '@livechat-pipeline/events';
import { parseWebhook, type ChatDomainEvent } from '@livechat-pipeline/livechat';
import { createTopic, stackEndpoints, testKafka, uniqueName } from '@livechat-pipeline/testkit';
import { loadCrmSyncConfig, type CrmSyncConfig } from '../../src/config.js';

/**
 * Webhook bodies as the normalizer turns them into chat events (every copy: the runtime deduplicates). Copies of
 * one webhook share its receipt time: for a fact LiveChat gives no time for (a v3 close), the receipt time is the
 * fact's time, and the copies are one fact (as in services/transcripts' tests).
 */
export function eventsOf(deliveries: readonly { body: unknown; emittedAt: number }[]): ChatDomainEvent[] {
  const events: ChatDomainEvent[] = [];
  const receiptOf = new Map<string, number>();
  let receivedAt = 0;
  deliveries.forEach(({ body, emittedAt }, index) => {
    const text = JSON.stringify(body);
    let at = receiptOf.get(text);
    if (at === undefined) {
      receivedAt = Math.max(receivedAt + 1000, emittedAt + 1000);
      at = receivedAt;
      receiptOf.set(text, at);
    }
    events.push(...parseWebhook(structuredClone(body), { rawEventId: `raw-${index}`, receivedAtMicros: at }));
  });
  return events;
}

/** A fresh chat-events topic with its subject registered. */
export async function chatEventsTopic(
  partitions = 3,
): Promise<{ topic: string; publish: (events: readonly ChatDomainEvent[]) => Promise<void> }> {
  const topic = uniqueName('crm-chat-events');
  await createTopic(topic, partitions);
  const serde = new ConfluentAvroSerde(
    new SchemaRegistryClient({ baseUrl: stackEndpoints().schemaRegistryUrl }),
  );
  const schema = await serde.register(valueSubject(topic), chatEventSchema());
  const publish = async (events: readonly ChatDomainEvent[]) => {
    const producer = testKafka('crm-producer').producer({ idempotent: true });
    await producer.connect();
    try {
      await producer.send({
        topic,
        acks: -1,
        messages: events.map((event) => ({
          key: `${event.tenant}|${event.chat_id ?? ''}`,
          value: serde.encode(schema, event),
        })),
      });
    } finally {
      await producer.disconnect();
    }
  };
  return { topic, publish };
}

/** The environment of a crm-sync under test (fast knobs); `extra` wins. */
export function crmEnv(
  input: { databaseUrl: string; topic: string; apiUrl: string; token: string },
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    KAFKA_BROKERS: stackEndpoints().kafkaBrokers.join(','),
    SCHEMA_REGISTRY_URL: stackEndpoints().schemaRegistryUrl,
    DATABASE_URL: input.databaseUrl,
    CHAT_EVENTS_TOPIC: input.topic,
    CHAT_EVENTS_TOPIC_PARTITIONS: '3',
    CRM_CONSUMER_NAME: uniqueName('crm-sync'),
    CRM_SCHEMA: 'crm',
    CRM_PORT: '0',
    HUBSPOT_API_URL: input.apiUrl,
    HUBSPOT_ACCESS_TOKEN: input.token,
    HUBSPOT_TIMEOUT_MS: '1000',
    // The fake writes at once unless a test says otherwise (answer-late with writeAfterMs).
    HUBSPOT_LOOKUP_DELAY_MS: '0',
    CRM_SETTLE_MS: '200',
    CRM_WORKER_POLL_MS: '50',
    CRM_PROBE_MS: '300',
    CRM_BACKOFF_INITIAL_MS: '50',
    CRM_BACKOFF_MAX_MS: '1000',
    ...extra,
  };
}

export function crmConfig(env: Record<string, string>): CrmSyncConfig {
  return loadCrmSyncConfig(env);
}

/** A logger whose lines the test can read (raw text, to look for secrets). */
export function captureLogs(level = 'info'): { lines: string[]; logger: Logger } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString('utf8'));
      done();
    },
  });
  return { lines, logger: pino({ level }, stream) };
}

/** Every row of every table of a schema as text: to prove a secret is in no plain column. */
export async function allRowsText(pool: pg.Pool, schema: string): Promise<string> {
  const tables = await pool.query<{ table_name: string }>(
    `select table_name from information_schema.tables where table_schema = $1 and table_type = 'BASE TABLE'`,
    [schema],
  );
  const parts: string[] = [];
  for (const { table_name } of tables.rows) {
    const { rows } = await pool.query<{ t: string }>(
      `select t::text as t from "${schema}"."${table_name}" t`,
    );
    parts.push(...rows.map((r) => r.t));
  }
  return parts.join('\n');
}
