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
import { Startup, createServiceKafka } from '@livechat-pipeline/service-host';
import type { NormalizerConfig } from './config.js';
import { createNormalizerMetrics, type NormalizerMetrics } from './metrics.js';
import { startMetricsRefresh } from './metrics-refresh.js';
import { RawWebhookNormalizer } from './normalizer.js';

export interface RunningNormalizer {
  readonly normalizer: RawWebhookNormalizer;
  readonly metrics: NormalizerMetrics;
  stop(): Promise<void>;
}

/**
 * Everything the normalizer needs at start, each step retried until NORMALIZER_STARTUP_TIMEOUT_MS (a fresh
 * stack, or services starting together): its output topics exist with the settings it needs (an existing
 * topic that lacks them refuses the start, saying what to change), the raw topic exists (the ingest creates
 * it), the chat-event schema is registered (BACKWARD_TRANSITIVE), then the consumer runs. Used by main.ts
 * and by the tests.
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
  const metrics = createNormalizerMetrics();
  const normalizer = await startup.step('start consumer', async () => {
    const candidate = new RawWebhookNormalizer(config, {
      kafka,
      serde,
      chatEventSchema: schema,
      logger,
      metrics,
    });
    try {
      await candidate.start();
      return candidate;
    } catch (error) {
      await candidate.stop().catch(() => undefined);
      throw error;
    }
  });
  const metricsRefresh = startMetricsRefresh(kafka, config, metrics, logger);
  return {
    normalizer,
    metrics,
    stop: async () => {
      await metricsRefresh.stop();
      await normalizer.stop();
    },
  };
}
