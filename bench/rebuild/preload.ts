/**
 * The untimed pre-load: a chat-events topic holding `events` realistic, sealed chat events, made the way they are made
 * in production — traffic-simulator webhooks sealed as the ingest seals them, replayed once through the normalizer
 * (startNormalizer, as main.ts runs it, encryption on). Cached: the topic is named after the seed, count and
 * partitions, and a row in its key store schema records how many events it holds once complete; a later run on the
 * same stack reuses it when its high watermarks still add up to that count (a pre-load interrupted half-way has no
 * row and is made again).
 */
import type pg from 'pg';
import type { Admin, Kafka } from 'kafkajs';
import {
  ConfluentAvroSerde,
  SchemaRegistryClient,
  ensureTopic,
  rawWebhookSchema,
  valueSubject,
} from '@livechat-pipeline/events';
import { loadNormalizerConfig, startNormalizer } from '@livechat-pipeline/normalizer';
import { generateRawWebhooks } from '../lib/raw-webhooks.js';
import { committedOffsets, highWatermarks, produceAll, reached, sum } from '../lib/kafka.js';
import { fmt } from '../lib/report.js';
import { logger, progress, settings } from './settings.js';
import { preloadPrivacy, type PreloadPrivacy } from './privacy.js';

export interface Endpoints {
  readonly kafkaBrokers: string;
  readonly schemaRegistryUrl: string;
  readonly databaseUrl: string;
}

export interface Preloaded {
  readonly topic: string;
  readonly events: number;
  readonly webhooks: number;
  readonly chats: number;
  /** True when an earlier run's pre-load was reused. */
  readonly cached: boolean;
  /** How long the pre-load took (0 when cached). */
  readonly seconds: number;
  readonly privacy: PreloadPrivacy;
}

/** The normalizer's produce chunks reach a few MiB: the broker default (1 MiB) would refuse them (see bench:chain). */
const MAX_MESSAGE_BYTES = String(8 * 1024 * 1024);
/** Webhooks generated, sealed and produced at a time: bounds the pre-load's memory. */
const MAX_CHUNK = 100_000;

export async function preload(e: Endpoints, kafka: Kafka, admin: Admin, db: pg.Pool): Promise<Preloaded> {
  const id = `s${settings.seed}.n${settings.events}.p${settings.partitions}.v${settings.v2Share}`;
  const topic = `bench.rebuild.chat-events.${id}`;
  const pvSchema = `bench_rebuild_pv_${id.replace(/\W/g, '_')}`;
  const marker = settings.fresh ? undefined : await readMarker(db, pvSchema, topic);
  if (marker !== undefined) {
    const held = sum((await highWatermarks(admin, topic).catch(() => new Map<number, bigint>())).values());
    if (held === marker.events) {
      progress(`pre-load: reusing ${topic} (${held} chat events, keys in ${pvSchema})`);
      const privacy = await preloadPrivacy(e.databaseUrl, pvSchema, settings.seed);
      return { topic, ...marker, cached: true, seconds: 0, privacy };
    }
    progress(`pre-load: ${topic} holds ${held} events, its marker says ${marker.events}: making it again`);
  }
  const started = performance.now();
  if ((await admin.listTopics()).includes(topic)) await admin.deleteTopics({ topics: [topic] });
  await db.query(`drop schema if exists "${pvSchema}" cascade`);
  const privacy = await preloadPrivacy(e.databaseUrl, pvSchema, settings.seed);
  const suffix = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
  const rawTopic = `bench.rebuild.raw.${suffix}`;
  const dlq = `bench.rebuild.raw.dlq.${suffix}`;
  const groupId = `bench-rebuild-normalizer-${suffix}`;
  await ensureTopic(kafka, {
    topic: rawTopic,
    numPartitions: settings.partitions,
    replicationFactor: 1,
    configs: { 'retention.ms': '-1' },
  });
  await ensureTopic(kafka, {
    topic,
    numPartitions: settings.partitions,
    replicationFactor: 1,
    configs: { 'retention.ms': '-1', 'max.message.bytes': MAX_MESSAGE_BYTES },
  });
  const serde = new ConfluentAvroSerde(new SchemaRegistryClient({ baseUrl: e.schemaRegistryUrl }));
  const rawSchema = await serde.register(valueSubject(rawTopic), rawWebhookSchema());
  const normalizer = await startNormalizer(
    loadNormalizerConfig({
      KAFKA_BROKERS: e.kafkaBrokers,
      SCHEMA_REGISTRY_URL: e.schemaRegistryUrl,
      NORMALIZER_GROUP_ID: groupId,
      RAW_WEBHOOK_TOPIC: rawTopic,
      CHAT_EVENTS_TOPIC: topic,
      CHAT_EVENTS_TOPIC_PARTITIONS: String(settings.partitions),
      NORMALIZER_DLQ_TOPIC: dlq,
      NORMALIZER_PORT: '0',
      LOG_LEVEL: settings.logLevel,
      ...privacy.env,
    }),
    logger.child({ service: 'normalizer' }),
  );
  let webhooks = 0;
  let chats = 0;
  let events = 0;
  try {
    // Chunks of webhooks until the normalizer's output reaches the count; the first chunk sized by a guess of
    // events per webhook, the next ones by the ratio seen so far (the topic ends a little above the count).
    for (let round = 0; events < settings.events; round++) {
      const perWebhook = webhooks === 0 ? 1.8 : Math.max(0.5, events / webhooks);
      const count = Math.min(MAX_CHUNK, Math.max(500, Math.ceil((settings.events - events) / perWebhook)));
      const generated = generateRawWebhooks({
        count,
        v2Share: settings.v2Share,
        seed: settings.seed * 1000 + round,
      });
      await privacy.seal(generated.records);
      const messages = generated.records.map((r) => ({
        key: r.key,
        value: serde.encode(rawSchema, r.value),
      }));
      await produceAll(kafka, rawTopic, messages, { chunk: 1000, inFlight: 4 });
      webhooks += count;
      chats += generated.chats;
      const rawHigh = await highWatermarks(admin, rawTopic);
      for (;;) {
        if (reached(await committedOffsets(admin, groupId, rawTopic), rawHigh)) break;
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
      events = sum((await highWatermarks(admin, topic)).values());
      progress(
        `pre-load: ${webhooks} webhooks normalized -> ${events}/${settings.events} chat events (${fmt((performance.now() - started) / 1000, 0)} s)`,
      );
    }
  } finally {
    await normalizer.stop();
  }
  const deadLetters = sum((await highWatermarks(admin, dlq)).values());
  if (deadLetters > 0)
    throw new Error(`the pre-load's normalizer dead-lettered ${deadLetters} webhooks (${dlq})`);
  await admin.deleteTopics({ topics: [rawTopic, dlq] }).catch(() => undefined);
  await db.query(
    `create table if not exists "${pvSchema}".bench_preload (topic text primary key, events bigint not null,
       webhooks bigint not null, chats bigint not null)`,
  );
  await db.query(`insert into "${pvSchema}".bench_preload values ($1, $2, $3, $4)`, [
    topic,
    events,
    webhooks,
    chats,
  ]);
  const seconds = (performance.now() - started) / 1000;
  progress(`pre-load done: ${events} chat events from ${webhooks} webhooks in ${fmt(seconds, 1)} s`);
  return { topic, events, webhooks, chats, cached: false, seconds, privacy };
}

async function readMarker(
  db: pg.Pool,
  schema: string,
  topic: string,
): Promise<{ events: number; webhooks: number; chats: number } | undefined> {
  const exists = await db.query(
    `select 1 from pg_tables where schemaname = $1 and tablename = 'bench_preload'`,
    [schema],
  );
  if (exists.rowCount !== 1) return undefined;
  const { rows } = await db.query<{ events: string; webhooks: string; chats: string }>(
    `select events, webhooks, chats from "${schema}".bench_preload where topic = $1`,
    [topic],
  );
  const row = rows[0];
  return row === undefined
    ? undefined
    : { events: Number(row.events), webhooks: Number(row.webhooks), chats: Number(row.chats) };
}
