import { Writable } from 'node:stream';
import type { Logger } from 'pino';
import { createServiceLogger } from '@livechat-pipeline/service-host';
import type { FastifyInstance } from 'fastify';
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
import type { PostgresConsumer } from '@livechat-pipeline/postgres-consumer';
import type { ChatDomainEvent } from '@livechat-pipeline/livechat';
import { createTestDatabase, stackEndpoints, uniqueName } from '@livechat-pipeline/testkit';

export const E2E_SECRET_KEY = 'e2e-v3-secret-CANARY';
export const E2E_BASIC_USER = 'livechat';
export const E2E_BASIC_PASSWORD = 'e2e-basic-CANARY';

/** The whole chain on the real stack, each service as main.ts would start it, on topics and a schema of its own. */
export interface RunningChain {
  readonly ingestUrl: string;
  readonly topics: { readonly raw: string; readonly chatEvents: string; readonly normalizerDlq: string };
  readonly transcriptsConfig: TranscriptsConfig;
  readonly ingestLogs: string[];
  /** Every service's log lines (pino JSON), captured at debug level. */
  readonly logs: { readonly ingest: string[]; readonly normalizer: string[]; readonly transcripts: string[] };
  /** The chain's own database (created for it, dropped by close()): the transcripts schema lives there. */
  readonly databaseUrl: string;
  /** Every Postgres database a service of the chain was configured with. */
  readonly databaseUrls: readonly string[];
  transcripts: PostgresConsumer<ChatDomainEvent>;
  stopTranscripts(): Promise<void>;
  close(): Promise<void>;
}

export async function startChain(): Promise<RunningChain> {
  const endpoints = stackEndpoints();
  const common = {
    KAFKA_BROKERS: endpoints.kafkaBrokers.join(','),
    SCHEMA_REGISTRY_URL: endpoints.schemaRegistryUrl,
  };
  const topics = {
    raw: uniqueName('e2e-raw'),
    chatEvents: uniqueName('e2e-chat-events'),
    normalizerDlq: uniqueName('e2e-raw-dlq'),
  };
  const normalizerLogs: string[] = [];
  const transcriptsLogs: string[] = [];

  const ingestConfig = loadIngestConfig({
    ...common,
    RAW_WEBHOOK_TOPIC: topics.raw,
    RAW_WEBHOOK_TOPIC_PARTITIONS: '3',
    LIVECHAT_SECRET_KEYS: E2E_SECRET_KEY,
    LIVECHAT_BASIC_AUTH: `${E2E_BASIC_USER}:${E2E_BASIC_PASSWORD}`,
    INGEST_LOG_LEVEL: 'debug',
  });
  const ingestLogs: string[] = [];
  const ingestRuntime: IngestRuntime = await createIngestDeps(
    ingestConfig,
    createLogger(ingestConfig, capture(ingestLogs)),
    createIngestMetrics({ defaultMetrics: false }),
  );
  const app: FastifyInstance = await buildApp(ingestConfig, ingestRuntime.deps);
  const ingestUrl = await app.listen({ host: '127.0.0.1', port: 0 });

  const normalizer: RunningNormalizer = await startNormalizer(
    loadNormalizerConfig({
      ...common,
      RAW_WEBHOOK_TOPIC: topics.raw,
      CHAT_EVENTS_TOPIC: topics.chatEvents,
      CHAT_EVENTS_TOPIC_PARTITIONS: '3',
      NORMALIZER_DLQ_TOPIC: topics.normalizerDlq,
      NORMALIZER_GROUP_ID: uniqueName('e2e-normalizer'),
    }),
    capturingLogger('normalizer', normalizerLogs),
  );

  // A database of its own: what the services wrote is all there is in it (other tests share the stack's).
  const database = await createTestDatabase('e2e');
  const consumerName = uniqueName('e2e-transcripts');
  const transcriptsConfig = loadTranscriptsConfig({
    ...common,
    DATABASE_URL: database.url,
    CHAT_EVENTS_TOPIC: topics.chatEvents,
    TRANSCRIPTS_CONSUMER_NAME: consumerName,
    TRANSCRIPTS_SCHEMA: consumerName.replace(/[^a-z0-9_]/g, '_'),
  });
  let transcripts = await startTranscripts(
    transcriptsConfig,
    capturingLogger('transcripts', transcriptsLogs),
  );
  let transcriptsRunning = true;

  return {
    ingestUrl,
    topics,
    transcriptsConfig,
    ingestLogs,
    databaseUrl: database.url,
    logs: { ingest: ingestLogs, normalizer: normalizerLogs, transcripts: transcriptsLogs },
    databaseUrls: [
      ...new Set(
        [transcriptsConfig.databaseUrl, ingestConfig.tenantRegistry.databaseUrl].filter(
          (u): u is string => u !== undefined,
        ),
      ),
    ],
    get transcripts() {
      return transcripts;
    },
    set transcripts(value) {
      transcripts = value;
    },
    async stopTranscripts() {
      if (transcriptsRunning) await transcripts.stop();
      transcriptsRunning = false;
    },
    async close() {
      await app.close();
      await ingestRuntime.close();
      await normalizer.stop();
      if (transcriptsRunning) await transcripts.stop();
      transcriptsRunning = false;
      await database.drop();
    },
  };
}

function capture(into: string[]): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, done) {
      into.push(chunk.toString('utf8'));
      done();
    },
  });
}

/**
 * A service logger as main.ts makes it (service-host's createServiceLogger: pino JSON with the trace-id mixin), into
 * memory, at debug level so every line a service writes is seen.
 */
function capturingLogger(service: string, into: string[]): Logger {
  return createServiceLogger({ service, level: 'debug' }, capture(into));
}

/**
 * Posts bodies as LiveChat would (v2 with Basic credentials, v3 with its secret_key in the body): chats
 * concurrently, each chat's webhooks one after another in the given order (the simulator already put
 * LiveChat's duplicates and reordering into that order; v2 tag lists, which carry no time, are only
 * ordered by their arrival).
 */
export async function postDeliveries(
  ingestUrl: string,
  deliveries: readonly { body: Record<string, unknown>; chatId: string }[],
  concurrency = 16,
): Promise<{ statuses: number[]; lastOkAt: number }> {
  const statuses: number[] = new Array<number>(deliveries.length);
  let lastOkAt = 0;
  const basic = `Basic ${Buffer.from(`${E2E_BASIC_USER}:${E2E_BASIC_PASSWORD}`).toString('base64')}`;
  const byChat = new Map<string, number[]>();
  deliveries.forEach((d, index) => byChat.set(d.chatId, [...(byChat.get(d.chatId) ?? []), index]));
  const queues = [...byChat.values()];
  let nextQueue = 0;
  const worker = async () => {
    for (;;) {
      const queue = queues[nextQueue++];
      if (queue === undefined) return;
      for (const index of queue) {
        const body = deliveries[index]!.body;
        const response = await fetch(`${ingestUrl}/webhooks/livechat`, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            ...('event_type' in body ? { authorization: basic } : {}),
          },
          body: JSON.stringify(body),
        });
        await response.arrayBuffer();
        statuses[index] = response.status;
        if (response.status === 200) lastOkAt = Math.max(lastOkAt, performance.now());
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { statuses, lastOkAt };
}
