import { fileURLToPath } from 'node:url';
import type { Kafka } from 'kafkajs';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import {
  ConfluentAvroSerde,
  EventsError,
  SchemaRegistryClient,
  readChatEvent,
} from '@livechat-pipeline/events';
import type { ChatDomainEvent } from '@livechat-pipeline/livechat';
import {
  ConsumerError,
  type ConsumerDefinition,
  type PostgresConsumerOptions,
  type RuntimeEvent,
} from '@livechat-pipeline/postgres-consumer';
import { createServiceKafka } from '@livechat-pipeline/service-host';
import type { CrmSyncConfig } from './config.js';
import type { ChatEventOpener } from './privacy.js';
import { applyCrmEvents } from './projection/apply.js';

export const crmMigrationsDir = fileURLToPath(new URL('../migrations', import.meta.url));

/**
 * The projection and the outbox intents as a consumer of the chat-events topic. `privacy` opens sealed events
 * before they are applied (issue 19); an opener without a vault applies plain events and makes a sealed one wait
 * (PRIVACY_KEYS is not set). Required, not defaulted: a definition built without the vault (a rebuild) would stall
 * on the first sealed event even with PRIVACY_KEYS set.
 */
export function crmConsumer(
  config: CrmSyncConfig,
  privacy: ChatEventOpener,
): ConsumerDefinition<ChatDomainEvent> {
  const serde = new ConfluentAvroSerde(new SchemaRegistryClient({ baseUrl: config.registry.url }));
  return {
    name: config.consumerName,
    topics: [config.chatEventsTopic.name],
    schema: config.schema,
    migrationsDir: crmMigrationsDir,
    // A rebuild replays the projection; the outbox and what HubSpot holds stay (a rebuilt thread updates its note).
    tables: ['chats', 'customers', 'participants', 'threads', 'thread_tags', 'entries'],
    decode: async (message) => {
      if (message.value === null)
        throw new ConsumerError('CONSUMER_DECODE_FAILED', 'chat event without a value');
      try {
        return (await readChatEvent(serde, message.value)) as ChatDomainEvent;
      } catch (error) {
        if (error instanceof EventsError && error.retryable) throw error;
        throw new ConsumerError(
          'CONSUMER_DECODE_FAILED',
          `not a chat event: ${error instanceof Error ? error.message : String(error)}`,
          { cause: error },
        );
      }
    },
    eventId: (event) => event.event_id,
    handle: async (events, tx) =>
      applyCrmEvents(await privacy.open(events), tx, tx.schema, config.worker.settleMs),
  };
}

export function createCrmKafka(config: CrmSyncConfig, logger: Logger): Kafka {
  return createServiceKafka({
    clientId: config.kafka.clientId,
    brokers: config.kafka.brokers,
    logger,
    security: config.kafka,
  });
}

export function consumerOptions(
  config: CrmSyncConfig,
  kafka: Kafka,
  logger: Logger,
  metricsRegistry?: Registry,
): PostgresConsumerOptions {
  return {
    kafka,
    databaseUrl: config.databaseUrl,
    partitionsConsumedConcurrently: config.consumer.partitionsConcurrently,
    maxBytesPerPartition: config.consumer.fetchMaxBytes,
    poolSize: config.consumer.poolSize,
    connectionTimeoutMs: config.pools.connectTimeoutMs,
    metricsRefreshIntervalMs: config.consumer.metricsRefreshMs,
    sessionTimeoutMs: config.consumer.sessionTimeoutMs,
    ...(metricsRegistry === undefined ? {} : { metricsRegistry }),
    onEvent: (event: RuntimeEvent) => logRuntimeEvent(logger, event),
  };
}

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
