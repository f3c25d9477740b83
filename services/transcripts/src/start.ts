import type { Logger } from 'pino';
import { ensureTopic } from '@livechat-pipeline/events';
import { createPostgresConsumer, type PostgresConsumer } from '@livechat-pipeline/postgres-consumer';
import type { ChatDomainEvent } from '@livechat-pipeline/livechat';
import type { TranscriptsConfig } from './config.js';
import { consumerOptions, createTranscriptsKafka, transcriptsConsumer } from './consumer.js';

/** Ensures the input topic exists (whichever service starts first), migrates, and starts consuming. */
export async function startTranscripts(config: TranscriptsConfig, logger: Logger): Promise<PostgresConsumer<ChatDomainEvent>> {
  const kafka = createTranscriptsKafka(config, logger);
  await ensureTopic(kafka, {
    topic: config.chatEventsTopic.name,
    numPartitions: config.chatEventsTopic.partitions,
    replicationFactor: config.kafka.replicationFactor,
    configs: { 'retention.ms': '-1' },
  });
  const consumer = createPostgresConsumer(transcriptsConsumer(config), consumerOptions(config, kafka, logger));
  await consumer.start();
  return consumer;
}
