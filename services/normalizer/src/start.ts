import type { Logger } from 'pino';
import {
  ConfluentAvroSerde,
  SchemaRegistryClient,
  chatEventSchema,
  ensureTopic,
  valueSubject,
} from '@livechat-pipeline/events';
import { createServiceKafka } from '@livechat-pipeline/service-host';
import type { NormalizerConfig } from './config.js';
import { createNormalizerMetrics, type NormalizerMetrics } from './metrics.js';
import { RawWebhookNormalizer } from './normalizer.js';

export interface RunningNormalizer {
  readonly normalizer: RawWebhookNormalizer;
  readonly metrics: NormalizerMetrics;
  stop(): Promise<void>;
}

/**
 * Everything the normalizer needs at start: its output topics exist, the chat-event schema is
 * registered (BACKWARD_TRANSITIVE), then the consumer runs. Used by main.ts and by the tests.
 */
export async function startNormalizer(config: NormalizerConfig, logger: Logger): Promise<RunningNormalizer> {
  const kafka = createServiceKafka({ clientId: config.kafka.clientId, brokers: config.kafka.brokers, logger });
  const serde = new ConfluentAvroSerde(new SchemaRegistryClient({ baseUrl: config.registry.url }));
  await ensureTopic(kafka, {
    topic: config.chatEventsTopic.name,
    numPartitions: config.chatEventsTopic.partitions,
    replicationFactor: config.kafka.replicationFactor,
    configs: { 'retention.ms': '-1', 'max.message.bytes': String(8 * 1024 * 1024) },
  });
  await ensureTopic(kafka, {
    topic: config.deadLetterTopic,
    numPartitions: 1,
    replicationFactor: config.kafka.replicationFactor,
    configs: { 'retention.ms': '-1', 'max.message.bytes': String(8 * 1024 * 1024) },
  });
  const schema = await serde.register(valueSubject(config.chatEventsTopic.name), chatEventSchema());
  const metrics = createNormalizerMetrics();
  const normalizer = new RawWebhookNormalizer(config, { kafka, serde, chatEventSchema: schema, logger, metrics });
  await normalizer.start();
  return { normalizer, metrics, stop: () => normalizer.stop() };
}
