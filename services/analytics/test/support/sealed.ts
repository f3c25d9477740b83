import { randomBytes } from 'node:crypto';
import pg from 'pg';
import {
  ConfluentAvroSerde,
  SchemaRegistryClient,
  chatEventKeyScope,
  chatEventSchema,
  sealChatEvent,
  valueSubject,
} from '@livechat-pipeline/events';
import type { ChatDomainEvent } from '@livechat-pipeline/livechat';
import { PrivacyVault, migratePrivacy, parsePrivacyConfig } from '@livechat-pipeline/privacy';
import { stackEndpoints, testKafka } from '@livechat-pipeline/testkit';

/** Privacy variables with keys made for this test (never committed), on a key-store schema of its own. */
export function privacyEnv(schema: string): Record<string, string> {
  return {
    PRIVACY_KEYS: `k1:${randomBytes(32).toString('base64')}`,
    PRIVACY_EMAIL_HASH_KEY: randomBytes(32).toString('base64'),
    PRIVACY_SCHEMA: schema,
  };
}

/** The writer's side (what the normalizer does): a vault of the test's own on the key store. */
export async function writerVault(
  databaseUrl: string,
  env: Record<string, string>,
): Promise<{ vault: PrivacyVault; close: () => Promise<void> }> {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 2 });
  // The key-store test terminates its connections; the next query reconnects.
  pool.on('error', () => undefined);
  const config = parsePrivacyConfig(env)!;
  await migratePrivacy(pool, { schema: config.schema });
  return { vault: new PrivacyVault(pool, config), close: () => pool.end() };
}

/** Each event sealed with its scope's key (created at first sight), as the normalizer writes them. */
export async function sealEvents(
  vault: PrivacyVault,
  events: readonly ChatDomainEvent[],
): Promise<ChatDomainEvent[]> {
  const sealed: ChatDomainEvent[] = [];
  for (const event of events) {
    const scope = chatEventKeyScope(event);
    if (scope === null) {
      sealed.push(event);
      continue;
    }
    const key = (await vault.keysFor(event.tenant, [scope], { create: true })).get(scope)!;
    if (key.state !== 'active') throw new Error(`scope ${scope} is ${key.state}`);
    sealed.push(sealChatEvent(event, scope, key.key));
  }
  return sealed;
}

/** Writes chat events to the topic in the registry's wire format, in order, on one partition per chat key. */
export async function produceChatEvents(topic: string, events: readonly ChatDomainEvent[]): Promise<void> {
  const serde = new ConfluentAvroSerde(
    new SchemaRegistryClient({ baseUrl: stackEndpoints().schemaRegistryUrl }),
  );
  const schema = await serde.register(valueSubject(topic), chatEventSchema());
  const producer = testKafka('analytics-privacy-producer').producer({ idempotent: true });
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
}

/** Records on the consumer's dead-letter topic (0 when it does not exist). */
export async function deadLetterCount(topic: string): Promise<number> {
  const admin = testKafka('analytics-privacy-admin').admin();
  await admin.connect();
  try {
    if (!(await admin.listTopics()).includes(topic)) return 0;
    const offsets = await admin.fetchTopicOffsets(topic);
    return offsets.reduce((n, o) => n + Number(o.high) - Number(o.low), 0);
  } finally {
    await admin.disconnect();
  }
}
