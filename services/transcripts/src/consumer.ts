import { fileURLToPath } from 'node:url';
import type { Kafka } from 'kafkajs';
import { createServiceKafka } from '@livechat-pipeline/service-host';
import type { Logger } from 'pino';
import {
  ConfluentAvroSerde,
  SchemaRegistryClient,
  EventsError,
  readChatEvent,
} from '@livechat-pipeline/events';
import type { ChatDomainEvent } from '@livechat-pipeline/livechat';
import {
  ConsumerError,
  type ConsumerDefinition,
  type PostgresConsumerOptions,
  type RuntimeEvent,
} from '@livechat-pipeline/postgres-consumer';
import { applyTranscriptEvents } from './projection/apply.js';
import type { TranscriptsConfig } from './config.js';
import { ChatEventOpener } from './privacy.js';

export const transcriptsMigrationsDir = fileURLToPath(new URL('../migrations', import.meta.url));

/**
 * The transcripts projection as a consumer of the chat-events topic. `privacy` opens sealed events before they are
 * applied (issue 19); without one, plain events are applied and a sealed one waits (PRIVACY_KEYS is not set).
 * `rebuild`: each batch's transaction commits without waiting for its WAL flush (`synchronous_commit = off`, that
 * transaction only). Safe for a rebuild only: a crash may lose the last commits, effects and offsets together, and
 * the rebuild, run again, replays them; the live service keeps durable commits.
 */
export function transcriptsConsumer(
  config: TranscriptsConfig,
  privacy: ChatEventOpener = new ChatEventOpener(null, { service: 'transcripts' }),
  options: { readonly rebuild?: boolean } = {},
): ConsumerDefinition<ChatDomainEvent> {
  const serde = new ConfluentAvroSerde(new SchemaRegistryClient({ baseUrl: config.registry.url }));
  return {
    name: config.consumerName,
    topics: [config.chatEventsTopic.name],
    schema: config.schema,
    migrationsDir: transcriptsMigrationsDir,
    decode: async (message) => {
      if (message.value === null)
        throw new ConsumerError('CONSUMER_DECODE_FAILED', 'chat event without a value');
      try {
        return (await readChatEvent(serde, message.value)) as ChatDomainEvent;
      } catch (error) {
        // A registry outage is worth waiting for; bytes that are not a chat event are not.
        if (error instanceof EventsError && error.retryable) throw error;
        throw new ConsumerError(
          'CONSUMER_DECODE_FAILED',
          `not a chat event: ${error instanceof Error ? error.message : String(error)}`,
          { cause: error },
        );
      }
    },
    eventId: (event) => event.event_id,
    handle: async (events, tx) => {
      if (options.rebuild === true) await tx.query('set local synchronous_commit = off');
      await applyTranscriptEvents(await privacy.open(events), tx, tx.schema);
    },
  };
}

export function createTranscriptsKafka(config: TranscriptsConfig, logger: Logger): Kafka {
  return createServiceKafka({
    clientId: config.kafka.clientId,
    brokers: config.kafka.brokers,
    logger,
    security: config.kafka,
  });
}

export function consumerOptions(
  config: TranscriptsConfig,
  kafka: Kafka,
  logger: Logger,
): PostgresConsumerOptions {
  return {
    kafka,
    databaseUrl: config.databaseUrl,
    // Several partitions in flight hide Postgres round trips; bigger fetches mean bigger transactions.
    partitionsConsumedConcurrently: config.consumer.partitionsConcurrently,
    maxBytesPerPartition: config.consumer.fetchMaxBytes,
    poolSize: config.consumer.poolSize,
    connectionTimeoutMs: config.consumer.connectTimeoutMs,
    metricsRefreshIntervalMs: config.consumer.metricsRefreshMs,
    onEvent: (event: RuntimeEvent) => logRuntimeEvent(logger, event),
  };
}

/** The runtime reports instead of logging; the service decides what is worth a line. */
function logRuntimeEvent(logger: Logger, event: RuntimeEvent): void {
  switch (event.type) {
    case 'batch-committed':
      logger.debug({ ...event }, 'batch committed');
      return;
    case 'transient-failure':
      logger.warn(
        {
          topic: event.topic,
          partition: event.partition,
          attempt: event.attempt,
          delayMs: event.delayMs,
          code: event.error.code,
          cause: event.error.details['sourceCode'],
        },
        // A privacy error's message names ids and what to configure, never a value.
        String(event.error.details['sourceCode']).startsWith('PRIVACY_')
          ? `transient failure; retrying: ${event.error.message}`
          : 'transient failure; retrying',
      );
      return;
    case 'dead-lettered':
      logger.warn(
        { origin: event.origin, code: event.error.code, deadLetterTopic: event.deadLetterTopic },
        'event dead-lettered',
      );
      return;
    case 'background-failure':
    case 'kafka-commit-failed':
      logger.warn({ type: event.type }, 'background failure');
      return;
    default:
      logger.info({ ...event }, event.type);
  }
}
