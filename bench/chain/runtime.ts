/**
 * What the phases of the chain benchmark run on: the stack's endpoints, the two services as their main.ts start
 * them, topics and stored offsets, and `until`, the wait every timed phase measures with.
 */
import { Worker } from 'node:worker_threads';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Kafka } from 'kafkajs';
import { ensureTopic } from '@livechat-pipeline/events';
import { loadStackSettings, stackDown, stackUp } from '@livechat-pipeline/local-stack';
import type { PostgresConsumer } from '@livechat-pipeline/postgres-consumer';
import type { ChatDomainEvent } from '@livechat-pipeline/livechat';
import { loadNormalizerConfig, startNormalizer } from '@livechat-pipeline/normalizer';
import {
  loadTranscriptsConfig,
  startTranscripts,
  type TranscriptsConfig,
} from '@livechat-pipeline/transcripts';
import { loadAnalyticsConfig, type AnalyticsConfig } from '@livechat-pipeline/analytics';
import { BenchTimeout, logger, progress, settings } from './settings.js';

export interface Endpoints {
  readonly kafkaBrokers: string;
  readonly schemaRegistryUrl: string;
  readonly databaseUrl: string;
}

export async function endpoints(): Promise<{ endpoints: Endpoints; stop: () => Promise<void> }> {
  const env = process.env;
  if (env['KAFKA_BROKERS'] && env['SCHEMA_REGISTRY_URL'] && env['DATABASE_URL']) {
    return {
      endpoints: {
        kafkaBrokers: env['KAFKA_BROKERS'],
        schemaRegistryUrl: env['SCHEMA_REGISTRY_URL'],
        databaseUrl: env['DATABASE_URL'],
      },
      stop: async () => undefined,
    };
  }
  const stack = loadStackSettings();
  progress(
    `KAFKA_BROKERS/SCHEMA_REGISTRY_URL/DATABASE_URL not all set: bringing the local stack up (${stack.home})`,
  );
  const { endpoints: e, started } = await stackUp(stack, (line) => progress(`stack: ${line}`));
  return {
    endpoints: e,
    stop: async () => {
      if (started.length === 0) return;
      progress('stopping the stack this run started');
      await stackDown(stack, {});
    },
  };
}

/**
 * Polls `check` every `everyMs` until it returns a value; prints `status()` every 2 s; fails after the
 * timeout, or when `status()` has not changed for --stall-s (a stuck pipeline says so instead of waiting).
 */
export async function until<T>(
  what: string,
  check: () => Promise<T | undefined>,
  status: () => string,
  timeoutMs: number,
  everyMs = 100,
): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  let lastPrint = performance.now();
  let lastChange = performance.now();
  let lastProgress = '';
  for (;;) {
    const result = await check();
    if (result !== undefined) return result;
    const now = performance.now();
    const current = status().replace(/\d[\d.,]* s:/, ''); // the figures without the elapsed time
    if (current !== lastProgress) {
      lastProgress = current;
      lastChange = now;
    }
    if (now > deadline)
      throw new BenchTimeout(
        `timed out after ${(timeoutMs / 1000).toFixed(0)} s waiting for ${what}; last status: ${status()}`,
      );
    if (now - lastChange > settings.stallMs) {
      throw new BenchTimeout(
        `no progress for ${(settings.stallMs / 1000).toFixed(0)} s while waiting for ${what} (see the service logs above); last status: ${status()}`,
      );
    }
    if (now - lastPrint >= 2000) {
      lastPrint = now;
      progress(status());
    }
    await sleep(everyMs);
  }
}

/** Creates a chat-events topic before the services do, when --events-max-message-bytes asks for a limit. */
export async function precreateChatEvents(kafka: Kafka, topic: string): Promise<void> {
  if (settings.eventsMaxMessageBytes === 0) return;
  await ensureTopic(kafka, {
    topic,
    numPartitions: settings.partitions,
    replicationFactor: 1,
    configs: { 'retention.ms': '-1', 'max.message.bytes': String(settings.eventsMaxMessageBytes) },
  });
}

export function partitionsOf(stored: ReadonlyMap<string, bigint>, topic: string): Map<number, bigint> {
  const result = new Map<number, bigint>();
  for (const [key, offset] of stored) {
    const at = key.lastIndexOf(':');
    if (key.slice(0, at) === topic) result.set(Number(key.slice(at + 1)), offset);
  }
  return result;
}

export function transcriptsConfigFor(
  e: Endpoints,
  chatEventsTopic: string,
  name: string,
  schema: string,
  privacyEnv: Readonly<Record<string, string>> = {},
): TranscriptsConfig {
  return loadTranscriptsConfig({
    ...privacyEnv,
    KAFKA_BROKERS: e.kafkaBrokers,
    SCHEMA_REGISTRY_URL: e.schemaRegistryUrl,
    DATABASE_URL: e.databaseUrl,
    CHAT_EVENTS_TOPIC: chatEventsTopic,
    CHAT_EVENTS_TOPIC_PARTITIONS: String(settings.partitions),
    TRANSCRIPTS_CONSUMER_NAME: name,
    TRANSCRIPTS_SCHEMA: schema,
    TRANSCRIPTS_PORT: '0',
    LOG_LEVEL: settings.logLevel,
    ...(settings.tx.concurrency === undefined
      ? {}
      : { TRANSCRIPTS_PARTITIONS_CONCURRENTLY: String(settings.tx.concurrency) }),
    ...(settings.tx.maxBytes === undefined
      ? {}
      : { TRANSCRIPTS_FETCH_MAX_BYTES: String(settings.tx.maxBytes) }),
    ...(settings.tx.pool === undefined ? {} : { TRANSCRIPTS_POOL_SIZE: String(settings.tx.pool) }),
  });
}

/** The transcripts projection's runtime options in this run (the service's config): the baseline copies them. */
export function projectionRuntime(config: TranscriptsConfig): {
  readonly poolSize: number;
  readonly partitions: number;
  readonly partitionsConcurrently: number;
  readonly fetchMaxBytes: number;
} {
  return { ...config.consumer, partitions: config.chatEventsTopic.partitions };
}

/** The transcripts service as main.ts starts it (the --tx-* flags reach it as its TRANSCRIPTS_* variables). */
export async function startProjection(config: TranscriptsConfig): Promise<PostgresConsumer<ChatDomainEvent>> {
  return startTranscripts(config, logger.child({ service: 'transcripts' }));
}

/** startNormalizer() as main.ts calls it: here, or in a worker thread with --normalizer-thread. */
export async function launchNormalizer(env: NodeJS.ProcessEnv): Promise<{ stop(): Promise<void> }> {
  if (!settings.normalizerThread) {
    const running = await startNormalizer(loadNormalizerConfig(env), logger.child({ service: 'normalizer' }));
    return { stop: () => running.stop() };
  }
  const worker = new Worker(new URL('../lib/normalizer-worker.mjs', import.meta.url), { workerData: env });
  const next = (): Promise<unknown> =>
    new Promise((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
  if ((await next()) !== 'started') throw new Error('the normalizer worker did not start');
  return {
    stop: async () => {
      const stopped = next();
      worker.postMessage('stop');
      await stopped;
      await worker.terminate();
    },
  };
}

export async function waitJoined(consumer: PostgresConsumer<ChatDomainEvent>): Promise<void> {
  await until(
    'the projection to join its group',
    async () => ((await consumer.ready()).ok ? true : undefined),
    () => 'projection joining…',
    60_000,
    50,
  );
}

export function analyticsConfigFor(
  e: Endpoints,
  chatEventsTopic: string,
  name: string,
  schema: string,
  privacyEnv: Readonly<Record<string, string>> = {},
): AnalyticsConfig {
  return loadAnalyticsConfig({
    ...privacyEnv,
    KAFKA_BROKERS: e.kafkaBrokers,
    SCHEMA_REGISTRY_URL: e.schemaRegistryUrl,
    DATABASE_URL: e.databaseUrl,
    CHAT_EVENTS_TOPIC: chatEventsTopic,
    CHAT_EVENTS_TOPIC_PARTITIONS: String(settings.partitions),
    ANALYTICS_CONSUMER_NAME: name,
    ANALYTICS_SCHEMA: schema,
    ANALYTICS_PORT: '0',
    LOG_LEVEL: settings.logLevel,
  });
}
