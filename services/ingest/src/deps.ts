import {
  ConfluentAvroSerde,
  SchemaRegistryClient,
  ensureTopic,
  isEventsError,
  rawWebhookSchema,
  valueSubject,
} from '@livechat-pipeline/events';
import type { RegisteredSchema } from '@livechat-pipeline/events';
import type { Logger } from 'pino';
import { StaticSecretVerifier } from './auth/static-verifier.js';
import type { WebhookSecretVerifier } from './auth/verifier.js';
import type { IngestConfig } from './config.js';
import { DurableProducer, createKafka, fetchPartitionCount } from './kafka.js';
import type { IngestMetrics } from './metrics.js';
import { KafkaRawWebhookPublisher } from './publisher.js';
import type { RawWebhookPublisher } from './publisher.js';
import { CachedReadiness, StackReadiness } from './readiness.js';
import type { ReadinessProbe } from './readiness.js';

/** What buildApp needs from the outside world. */
export interface IngestDeps {
  readonly publisher: RawWebhookPublisher;
  readonly verifier: WebhookSecretVerifier;
  readonly readiness: ReadinessProbe;
  /** The service's logger; buildApp creates one from the config when absent. */
  readonly logger?: Logger;
  readonly metrics?: IngestMetrics;
  /** Microseconds since the epoch; default Date.now() × 1000. */
  readonly clockMicros?: () => number;
}

export interface IngestRuntime {
  readonly deps: IngestDeps & { readonly metrics: IngestMetrics; readonly logger: Logger };
  readonly schema: RegisteredSchema;
  /** Flushes queued writes and disconnects from Kafka. */
  close(): Promise<void>;
}

/**
 * Connects to the stack: creates the raw topic when missing (retention forever), registers the raw webhook
 * schema (BACKWARD_TRANSITIVE), reads the topic's partition count and connects the pool of idempotent producers. Retries what can be retried until
 * INGEST_STARTUP_TIMEOUT_MS.
 */
export async function createIngestDeps(config: IngestConfig, logger: Logger, metrics: IngestMetrics): Promise<IngestRuntime> {
  const kafka = createKafka(config, logger);
  const registry = new SchemaRegistryClient({ baseUrl: config.registry.url });
  const serde = new ConfluentAvroSerde(registry);
  const topic = config.rawTopic.name;
  const deadline = Date.now() + config.startupTimeoutMs;

  const created = await retryUntil(deadline, logger, 'create raw topic', () =>
    ensureTopic(kafka, {
      topic,
      numPartitions: config.rawTopic.partitions,
      replicationFactor: config.kafka.replicationFactor,
      configs: {
        'retention.ms': '-1',
        'retention.bytes': '-1',
        // One batch (or one maximal body) must fit into a broker record batch.
        'max.message.bytes': String(Math.max(config.http.bodyLimitBytes, config.batch.maxBytes) + 256 * 1024),
      },
    }),
  );
  logger.info({ topic, created }, created ? 'raw topic created' : 'raw topic exists');

  const schema = await retryUntil(deadline, logger, 'register raw webhook schema', () =>
    serde.register(valueSubject(topic), rawWebhookSchema(), { compatibility: 'BACKWARD_TRANSITIVE' }),
  );
  logger.info({ subject: schema.subject, schemaId: schema.id }, 'raw webhook schema registered');

  const partitions = await retryUntil(deadline, logger, 'read raw topic metadata', () => fetchPartitionCount(kafka, topic));
  // More producers than partitions would idle: partition p is written by producer p % producers.
  const producers = Array.from({ length: Math.min(config.producers, partitions) }, () => new DurableProducer(kafka));
  await retryUntil(deadline, logger, 'connect producers', () => Promise.all(producers.map((p) => p.connect())));
  metrics.producers.set(producers.length);
  logger.info({ topic, partitions, producers: producers.length }, 'producers connected');

  const publisher = new KafkaRawWebhookPublisher({ producers, topic, partitions, serde, schema, batch: config.batch, metrics });
  return {
    schema,
    deps: {
      publisher,
      verifier: new StaticSecretVerifier(config.auth),
      readiness: new CachedReadiness(new StackReadiness({ kafka, registry, topic, schema }), config.operations.readinessCacheMs),
      logger,
      metrics,
    },
    async close() {
      await publisher.close();
      await Promise.all(producers.map((p) => p.disconnect()));
    },
  };
}

async function retryUntil<T>(deadline: number, logger: Logger, what: string, fn: () => Promise<T>): Promise<T> {
  let delay = 250;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      const retryable = !isEventsError(err) || err.retryable;
      if (!retryable || Date.now() + delay > deadline) throw err;
      logger.warn({ err: { message: err instanceof Error ? err.message : String(err) }, retryInMs: delay }, `${what} failed; retrying`);
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, 5000);
    }
  }
}
