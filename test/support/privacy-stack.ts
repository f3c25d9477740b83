import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import type { Logger } from 'pino';
import type { FastifyInstance } from 'fastify';
import { createServiceLogger } from '@livechat-pipeline/service-host';
import {
  buildApp,
  createIngestDeps,
  createIngestMetrics,
  createLogger,
  loadIngestConfig,
  type IngestRuntime,
} from '@livechat-pipeline/ingest';
import { loadNormalizerConfig, startNormalizer, type RunningNormalizer } from '@livechat-pipeline/normalizer';
import {
  loadTranscriptsConfig,
  startTranscripts,
  type TranscriptsConfig,
} from '@livechat-pipeline/transcripts';
import { loadAnalyticsConfig, startAnalytics, type AnalyticsConfig } from '@livechat-pipeline/analytics';
import { loadCrmSyncConfig, startCrmSync, type CrmSyncConfig } from '@livechat-pipeline/crm-sync';
import type { PostgresConsumer } from '@livechat-pipeline/postgres-consumer';
import type { ChatDomainEvent } from '@livechat-pipeline/livechat';
import {
  createTestDatabase,
  stackEndpoints,
  testKafka,
  uniqueName,
  type TestDatabase,
} from '@livechat-pipeline/testkit';

export const PRIVACY_E2E_SECRET_KEY = 'privacy-e2e-v3-secret';

/** Master keys made in the test (never committed): `kid:base64`. */
export function newMasterKey(id: string): string {
  return `${id}:${randomBytes(32).toString('base64')}`;
}

/** The PRIVACY_* variables every service of the stack gets (the same keys, one key store). */
export interface PrivacyKeys {
  /** PRIVACY_KEYS */
  readonly keys: string;
  /** PRIVACY_ACTIVE_KEY_ID; undefined: the first key's id. */
  readonly activeKeyId?: string;
  /** PRIVACY_EMAIL_HASH_KEY (not rotated with the master keys). */
  readonly emailHashKey: string;
}

export function privacyEnv(keys: PrivacyKeys, databaseUrl: string): Record<string, string> {
  return {
    PRIVACY_KEYS: keys.keys,
    ...(keys.activeKeyId === undefined ? {} : { PRIVACY_ACTIVE_KEY_ID: keys.activeKeyId }),
    PRIVACY_EMAIL_HASH_KEY: keys.emailHashKey,
    PRIVACY_DATABASE_URL: databaseUrl,
    // An erased key leaves every process's cache within a second (the erasure's sweep is not what this test is about).
    PRIVACY_KEY_CACHE_TTL_MS: '1000',
  };
}

/** Names fixed for the whole test: topics, consumer names (= schemas), the database. */
export interface PrivacyStackNames {
  readonly raw: string;
  readonly chatEvents: string;
  readonly normalizerDlq: string;
  readonly normalizerGroup: string;
  readonly transcripts: string;
  readonly analytics: string;
  readonly crm: string;
}

/** Every service of the pipeline with privacy on, in this process, as each main.ts starts it. */
export interface PrivacyServices {
  readonly ingestUrl: string;
  readonly transcripts: PostgresConsumer<ChatDomainEvent>;
  readonly analytics: PostgresConsumer<ChatDomainEvent>;
  stop(): Promise<void>;
}

export interface PrivacyStack {
  readonly names: PrivacyStackNames;
  readonly database: TestDatabase;
  readonly configs: {
    readonly transcripts: TranscriptsConfig;
    readonly analytics: AnalyticsConfig;
    readonly crm: CrmSyncConfig;
  };
  /** Every line each service logged (pino JSON, debug level), over every start. */
  readonly logs: Record<'ingest' | 'normalizer' | 'transcripts' | 'analytics' | 'crm', string[]>;
  /** Every dead-letter topic a service of the stack may write. */
  readonly deadLetterTopics: readonly string[];
  /** The services as now running. */
  services: PrivacyServices;
  /** The environment the services run with (common + PRIVACY_*). */
  env: Record<string, string>;
  /** Stops the services and starts them again with other keys (rotation), on the same topics and database. */
  restart(keys: PrivacyKeys): Promise<void>;
  close(): Promise<void>;
}

const sqlName = (name: string): string => name.replace(/[^a-z0-9_]/g, '_');

export async function startPrivacyStack(keys: PrivacyKeys): Promise<PrivacyStack> {
  const endpoints = stackEndpoints();
  const database = await createTestDatabase('pv');
  const names: PrivacyStackNames = {
    raw: uniqueName('pv-raw'),
    chatEvents: uniqueName('pv-chat-events'),
    normalizerDlq: uniqueName('pv-raw-dlq'),
    normalizerGroup: uniqueName('pv-normalizer'),
    transcripts: uniqueName('pv-transcripts'),
    analytics: uniqueName('pv-analytics'),
    crm: uniqueName('pv-crm'),
  };
  const logs: PrivacyStack['logs'] = {
    ingest: [],
    normalizer: [],
    transcripts: [],
    analytics: [],
    crm: [],
  };
  const envFor = (k: PrivacyKeys): Record<string, string> => ({
    KAFKA_BROKERS: endpoints.kafkaBrokers.join(','),
    SCHEMA_REGISTRY_URL: endpoints.schemaRegistryUrl,
    DATABASE_URL: database.url,
    ...privacyEnv(k, database.url),
  });
  const configsFor = (env: Record<string, string>) => ({
    transcripts: loadTranscriptsConfig({
      ...env,
      CHAT_EVENTS_TOPIC: names.chatEvents,
      CHAT_EVENTS_TOPIC_PARTITIONS: '3',
      TRANSCRIPTS_CONSUMER_NAME: names.transcripts,
      TRANSCRIPTS_SCHEMA: sqlName(names.transcripts),
    }),
    analytics: loadAnalyticsConfig({
      ...env,
      CHAT_EVENTS_TOPIC: names.chatEvents,
      CHAT_EVENTS_TOPIC_PARTITIONS: '3',
      ANALYTICS_CONSUMER_NAME: names.analytics,
      ANALYTICS_SCHEMA: sqlName(names.analytics),
    }),
    crm: loadCrmSyncConfig({
      ...env,
      CHAT_EVENTS_TOPIC: names.chatEvents,
      CHAT_EVENTS_TOPIC_PARTITIONS: '3',
      CRM_CONSUMER_NAME: names.crm,
      CRM_SCHEMA: sqlName(names.crm),
    }),
  });

  const start = async (env: Record<string, string>): Promise<PrivacyServices> => {
    const stoppers: (() => Promise<void>)[] = [];
    // The consumers leave their groups at once; then the normalizer, then the ingest (its HTTP server first).
    // Idempotent: a second stop (close() after a test stopped them) does nothing.
    const stopAll = async () => {
      const [ingestClose, appClose, normalizerStop, ...consumers] = stoppers.splice(0);
      await Promise.all(consumers.map((stop) => stop().catch(() => undefined)));
      for (const stop of [normalizerStop, appClose, ingestClose]) await stop?.().catch(() => undefined);
    };
    try {
      const ingestConfig = loadIngestConfig({
        ...env,
        RAW_WEBHOOK_TOPIC: names.raw,
        RAW_WEBHOOK_TOPIC_PARTITIONS: '3',
        LIVECHAT_SECRET_KEYS: PRIVACY_E2E_SECRET_KEY,
        INGEST_LOG_LEVEL: 'debug',
      });
      const ingestRuntime: IngestRuntime = await createIngestDeps(
        ingestConfig,
        createLogger(ingestConfig, capture(logs.ingest)),
        createIngestMetrics({ defaultMetrics: false }),
      );
      stoppers.push(() => ingestRuntime.close());
      const app: FastifyInstance = await buildApp(ingestConfig, ingestRuntime.deps);
      const ingestUrl = await app.listen({ host: '127.0.0.1', port: 0 });
      stoppers.push(() => app.close());

      const normalizer: RunningNormalizer = await startNormalizer(
        loadNormalizerConfig({
          ...env,
          RAW_WEBHOOK_TOPIC: names.raw,
          CHAT_EVENTS_TOPIC: names.chatEvents,
          CHAT_EVENTS_TOPIC_PARTITIONS: '3',
          NORMALIZER_DLQ_TOPIC: names.normalizerDlq,
          NORMALIZER_GROUP_ID: names.normalizerGroup,
        }),
        serviceLogger('normalizer', logs.normalizer),
      );
      stoppers.push(() => normalizer.stop());

      const configs = configsFor(env);
      const [transcripts, analytics, crm] = await Promise.all([
        startTranscripts(configs.transcripts, serviceLogger('transcripts', logs.transcripts)),
        startAnalytics(configs.analytics, serviceLogger('analytics', logs.analytics)),
        startCrmSync(configs.crm, serviceLogger('crm-sync', logs.crm), { worker: false }),
      ]);
      stoppers.push(
        () => transcripts.stop(),
        () => analytics.stop(),
        () => crm.stop(),
      );
      return { ingestUrl, transcripts, analytics, stop: stopAll };
    } catch (error) {
      await stopAll();
      throw error;
    }
  };

  let env = envFor(keys);
  let services: PrivacyServices;
  try {
    services = await start(env);
  } catch (error) {
    await database.drop().catch(() => undefined);
    throw error;
  }
  const configs = configsFor(env);
  const stack: PrivacyStack = {
    names,
    database,
    configs,
    logs,
    deadLetterTopics: [
      names.normalizerDlq,
      `${names.transcripts}.dlq`,
      `${names.analytics}.dlq`,
      `${names.crm}.dlq`,
    ],
    get services() {
      return services;
    },
    set services(value) {
      services = value;
    },
    get env() {
      return env;
    },
    set env(value) {
      env = value;
    },
    async restart(next: PrivacyKeys) {
      await services.stop();
      env = envFor(next);
      services = await start(env);
    },
    async close() {
      await services.stop();
      await database.drop();
    },
  };
  return stack;
}

/** Resolves when the normalizer's group committed the raw topic's end and every projection stored the chat-events end. */
export async function caughtUp(stack: PrivacyStack): Promise<boolean> {
  const admin = testKafka('pv-caught-up').admin();
  await admin.connect();
  try {
    const rawEnd = await admin.fetchTopicOffsets(stack.names.raw);
    const committed = await admin.fetchOffsets({
      groupId: stack.names.normalizerGroup,
      topics: [stack.names.raw],
    });
    const committedOf = new Map(
      (committed[0]?.partitions ?? []).map((p) => [p.partition, Number(p.offset)] as const),
    );
    for (const p of rawEnd) if ((committedOf.get(p.partition) ?? -1) < Number(p.high)) return false;
    const eventsEnd = await admin.fetchTopicOffsets(stack.names.chatEvents);
    const pg = await import('pg');
    const client = new pg.default.Client({ connectionString: stack.database.url });
    await client.connect();
    try {
      for (const name of [stack.names.transcripts, stack.names.analytics, stack.names.crm]) {
        const { rows } = await client
          .query<{ partition: number; next_offset: string }>(
            `select partition, next_offset::text from "${sqlName(name)}"._offsets where topic = $1`,
            [stack.names.chatEvents],
          )
          .catch(() => ({ rows: [] as { partition: number; next_offset: string }[] }));
        const stored = new Map(rows.map((r) => [r.partition, Number(r.next_offset)] as const));
        for (const p of eventsEnd)
          if (Number(p.high) > Number(p.low) && (stored.get(p.partition) ?? -1) < Number(p.high))
            return false;
      }
    } finally {
      await client.end();
    }
    return true;
  } finally {
    await admin.disconnect();
  }
}

function capture(into: string[]): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, done) {
      into.push(chunk.toString('utf8'));
      done();
    },
  });
}

function serviceLogger(service: string, into: string[]): Logger {
  return createServiceLogger({ service, level: 'debug' }, capture(into));
}
