import pg from 'pg';
import type { Logger } from 'pino';
import {
  ConfluentAvroSerde,
  SchemaRegistryClient,
  chatEventSchema,
  ensureTopic,
  topicSpecs,
  valueSubject,
  waitForTopic,
} from '@livechat-pipeline/events';
import { PrivacyVault, migratePrivacy } from '@livechat-pipeline/privacy';
import { Startup, createServiceKafka } from '@livechat-pipeline/service-host';
import type { NormalizerConfig } from './config.js';
import { createNormalizerMetrics, type NormalizerMetrics } from './metrics.js';
import { startMetricsRefresh } from './metrics-refresh.js';
import { RawWebhookNormalizer } from './normalizer.js';

export interface RunningNormalizer {
  readonly normalizer: RawWebhookNormalizer;
  readonly metrics: NormalizerMetrics;
  /** The key store, when privacy is on (PRIVACY_KEYS set). */
  readonly vault: PrivacyVault | null;
  stop(): Promise<void>;
}

/**
 * Everything the normalizer needs at start, each step retried until NORMALIZER_STARTUP_TIMEOUT_MS (a fresh
 * stack, or services starting together): its output topics exist with the settings it needs (an existing
 * topic that lacks them refuses the start, saying what to change), the raw topic exists (the ingest creates
 * it), the chat-event schema is registered (BACKWARD_TRANSITIVE), with privacy on the key store's schema is
 * migrated (advisory-locked, idempotent), then the consumer runs. Used by main.ts and by the tests.
 */
export async function startNormalizer(config: NormalizerConfig, logger: Logger): Promise<RunningNormalizer> {
  const startup = new Startup({ timeoutMs: config.startupTimeoutMs, logger });
  const kafka = createServiceKafka({
    clientId: config.kafka.clientId,
    brokers: config.kafka.brokers,
    logger,
    security: config.kafka,
  });
  const serde = new ConfluentAvroSerde(new SchemaRegistryClient({ baseUrl: config.registry.url }));
  const brokers = config.kafka.brokers;
  const replicationFactor = config.kafka.replicationFactor;

  for (const spec of [
    topicSpecs.chatEvents({
      topic: config.chatEventsTopic.name,
      partitions: config.chatEventsTopic.partitions,
      replicationFactor,
      minInsyncReplicas: config.kafka.minInsyncReplicas,
      allowSingleInsyncReplica: config.kafka.allowSingleInsyncReplica,
    }),
    topicSpecs.normalizerDeadLetters({
      topic: config.deadLetterTopic,
      replicationFactor,
      minInsyncReplicas: config.kafka.minInsyncReplicas,
      allowSingleInsyncReplica: config.kafka.allowSingleInsyncReplica,
    }),
  ]) {
    const created = await startup.step(`ensure topic ${spec.topic}`, () =>
      ensureTopic(kafka, spec, { brokers }),
    );
    logger.info(
      { topic: spec.topic, created },
      created ? 'topic created' : 'topic exists with the settings needed',
    );
  }
  await startup.step(`wait for input topic ${config.rawTopic}`, () =>
    waitForTopic(kafka, config.rawTopic, { timeoutMs: Math.max(500, Math.min(5_000, startup.remainingMs)) }),
  );
  const subject = valueSubject(config.chatEventsTopic.name);
  const schema = await startup.step(`register schema ${subject}`, () =>
    serde.register(subject, chatEventSchema()),
  );
  const privacy = config.privacy;
  let pool: pg.Pool | undefined;
  let vault: PrivacyVault | null = null;
  if (privacy !== null) {
    const privacyPool = new pg.Pool({
      connectionString: privacy.databaseUrl,
      max: privacy.poolSize,
      // A key store that hangs rather than refusing must fail the batch (retryably), not hold it forever; and well
      // within kafkajs' session timeout (30 s), the window heartbeating between calls, or the member is evicted and
      // the group rebalances. A row lock held by an erasure fails the query after 5 s rather than waiting for it.
      connectionTimeoutMillis: 5_000,
      query_timeout: 10_000,
      lock_timeout: 5_000,
    });
    pool = privacyPool;
    // An idle connection lost (Postgres restarted) must not crash the process; the next query reconnects.
    privacyPool.on('error', (error) =>
      logger.warn({ err: { message: error.message } }, 'an idle key-store connection failed'),
    );
    try {
      const applied = await startup.step('migrate the privacy key store', () =>
        migratePrivacy(privacyPool, { schema: privacy.vault.schema }),
      );
      logger.info({ schema: privacy.vault.schema, applied }, 'privacy on: key store ready');
    } catch (error) {
      await privacyPool.end().catch(() => undefined);
      throw error;
    }
    vault = new PrivacyVault(privacyPool, privacy.vault);
  }
  const metrics = createNormalizerMetrics();
  let normalizer: RawWebhookNormalizer;
  try {
    normalizer = await startup.step('start consumer', async () => {
      const candidate = new RawWebhookNormalizer(config, {
        kafka,
        serde,
        chatEventSchema: schema,
        logger,
        metrics,
        vault,
      });
      try {
        await candidate.start();
        return candidate;
      } catch (error) {
        await candidate.stop().catch(() => undefined);
        throw error;
      }
    });
  } catch (error) {
    await pool?.end().catch(() => undefined);
    throw error;
  }
  const metricsRefresh = startMetricsRefresh(kafka, config, metrics, logger);
  return {
    normalizer,
    metrics,
    vault,
    stop: async () => {
      // The pool ends even when stopping the consumer or the refresh throws.
      try {
        try {
          await metricsRefresh.stop();
        } finally {
          await normalizer.stop();
        }
      } finally {
        await pool?.end();
      }
    },
  };
}
