import { createHash } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  ConfluentAvroSerde,
  SchemaRegistryClient,
  ensureTopic,
  rawWebhookSchema,
  topicSpecs,
  valueSubject,
} from '@livechat-pipeline/events';
import { Startup, isStartupError } from '@livechat-pipeline/service-host';
import type { RegisteredSchema } from '@livechat-pipeline/events';
import { PrivacyVault, migratePrivacy } from '@livechat-pipeline/privacy';
import pg from 'pg';
import type { Logger } from 'pino';
import { StaticSecretVerifier } from './auth/static-verifier.js';
import { createIngestVerifier } from './auth/tenant-registry-verifier.js';
import type { WebhookSecretVerifier } from './auth/verifier.js';
import type { IngestConfig } from './config.js';
import { DurableProducer, createKafka, fetchPartitionCount } from './kafka.js';
import { PartitionCountWatch } from './partition-watch.js';
import { IngestError } from './errors.js';
import type { IngestMetrics } from './metrics.js';
import { KafkaRawWebhookPublisher } from './publisher.js';
import type { RawWebhookPublisher } from './publisher.js';
import { CachedReadiness, SpoolingReadiness, StackReadiness } from './readiness.js';
import type { ReadinessProbe } from './readiness.js';
import { VaultRawBodySealer } from './privacy/raw-body-sealer.js';
import type { RawBodySealer } from './privacy/raw-body-sealer.js';
import { openSpool } from './spool/open.js';
import { SpoolingPublisher } from './spool/spooling-publisher.js';

/** What buildApp needs from the outside world. */
export interface IngestDeps {
  readonly publisher: RawWebhookPublisher;
  readonly verifier: WebhookSecretVerifier;
  /**
   * Privacy on (PRIVACY_KEYS): seals every record's body before it is published (to Kafka or the spool). Absent:
   * records are written as they are.
   */
  readonly sealer?: RawBodySealer;
  /**
   * Whether an authenticated delivery's tenant gets its own `ingest_tenant_webhooks_total` series (registered
   * tenants are bounded; the rest share one). Default: none has, all count as `_unregistered`.
   */
  readonly isRegisteredTenant?: (tenant: string) => boolean;
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
  /** The largest key + value (+ headers) of one raw record the ingest writes; larger ones are 413. */
  readonly maxRecordBytes: number;
  /** The spooling publisher when INGEST_SPOOL_DIR is set. */
  readonly spooling: SpoolingPublisher | undefined;
  /** Flushes queued writes and disconnects from Kafka. */
  close(): Promise<void>;
}

/**
 * Connects to the stack: creates the raw topic when missing (retention forever), registers the raw webhook
 * schema (BACKWARD_TRANSITIVE), reads the topic's partition count, connects the pool of idempotent producers and
 * builds the secret verifier (static secrets, plus the tenant registry when configured). Retries what can be
 * retried until INGEST_STARTUP_TIMEOUT_MS.
 */
export async function createIngestDeps(
  config: IngestConfig,
  logger: Logger,
  metrics: IngestMetrics,
  startup: Startup = new Startup({ timeoutMs: config.startupTimeoutMs, logger }),
): Promise<IngestRuntime> {
  // The spool first: a second process on the same directory is refused before it touches anything.
  const spool = config.spool === undefined ? undefined : await openSpool(config, logger, metrics);
  const kafka = createKafka(config, logger);
  const registry = new SchemaRegistryClient({ baseUrl: config.registry.url });
  const serde = new ConfluentAvroSerde(registry);
  const topic = config.rawTopic.name;
  // One batch (or one maximal body) must fit into a broker record batch.
  const topicMaxMessageBytes = Math.max(config.http.bodyLimitBytes, config.batch.maxBytes) + 256 * 1024;
  // A record alone in a batch: the batch's and the record's own framing take well under 512 bytes.
  const maxRecordBytes = topicMaxMessageBytes - 512;
  const spec = topicSpecs.rawWebhook({
    topic,
    partitions: config.rawTopic.partitions,
    replicationFactor: config.kafka.replicationFactor,
    minInsyncReplicas: config.kafka.minInsyncReplicas,
    allowSingleInsyncReplica: config.kafka.allowSingleInsyncReplica,
    maxMessageBytes: topicMaxMessageBytes,
  });
  // With the spool on and the topic seen before (its partition count kept in the spool directory), Kafka gets a
  // short start-up budget: when it is down the ingest starts anyway, spooling, and drains once Kafka is back.
  const known = spool === undefined ? undefined : await readKnownTopic(config);
  if (spool !== undefined && known !== undefined && known.topic !== topic && !spool.idle) {
    // Spooled records do not name their topic: they belong to the one the spool was filled for.
    await spool.close();
    throw new IngestError(
      'INGEST_SPOOL_TOPIC_MISMATCH',
      `INGEST_SPOOL_TOPIC_MISMATCH: the spool in ${config.spool?.dir ?? ''} holds ${spool.records} records for the topic ${known.topic}, but RAW_WEBHOOK_TOPIC is ${topic}: start once with RAW_WEBHOOK_TOPIC=${known.topic} to drain it, or give this topic a spool directory of its own`,
    );
  }
  const knownTopic = known?.topic === topic ? known : undefined;
  const kafkaStartup =
    knownTopic === undefined ? startup : new Startup({ timeoutMs: KAFKA_STARTUP_WITH_SPOOL_MS, logger });
  let kafkaDownAtStart = false;
  try {
    const created = await kafkaStartup.step(`ensure topic ${topic}`, () => {
      const ensured = ensureTopic(kafka, spec, { brokers: config.kafka.brokers });
      // One attempt may take longer than the short budget (an unanswered connection, kafkajs's own retries).
      return knownTopic === undefined ? ensured : withinMs(ensured, kafkaStartup.remainingMs);
    });
    logger.info(
      { topic, created },
      created ? 'raw topic created' : 'raw topic exists with the settings needed',
    );
  } catch (err) {
    if (knownTopic === undefined || !isStartupError(err) || err.code !== 'SERVICE_STARTUP_TIMEOUT') throw err;
    kafkaDownAtStart = true;
  }

  const subject = valueSubject(topic);
  const fingerprint = createHash('sha256').update(rawWebhookSchema().text).digest('hex');
  // The schema id kept from an earlier start, when it is this very schema: the registry gets a short budget too.
  const knownSchema =
    knownTopic?.schema?.subject === subject && knownTopic.schema.fingerprint === fingerprint
      ? knownTopic.schema
      : undefined;
  const registryStartup =
    knownSchema === undefined ? startup : new Startup({ timeoutMs: KAFKA_STARTUP_WITH_SPOOL_MS, logger });
  let schema: RegisteredSchema;
  try {
    schema = await registryStartup.step(`register schema ${subject}`, () => {
      const registered = serde.register(subject, rawWebhookSchema(), {
        compatibility: 'BACKWARD_TRANSITIVE',
      });
      return knownSchema === undefined ? registered : withinMs(registered, registryStartup.remainingMs);
    });
    logger.info({ subject: schema.subject, schemaId: schema.id }, 'raw webhook schema registered');
  } catch (err) {
    if (knownSchema === undefined || !isStartupError(err) || err.code !== 'SERVICE_STARTUP_TIMEOUT')
      throw err;
    schema = { subject, id: knownSchema.id, type: rawWebhookSchema().type };
    logger.warn(
      { subject, schemaId: schema.id },
      'schema registry unreachable at start-up: using the schema id kept from an earlier start (same schema)',
    );
  }

  let partitions: number;
  if (kafkaDownAtStart && knownTopic !== undefined) {
    partitions = knownTopic.partitions;
    logger.warn(
      { topic, partitions },
      'Kafka unreachable at start-up: starting with the spool (the partition count kept from an earlier start); webhooks are spooled until Kafka is back',
    );
  } else {
    partitions = await startup.step(`read topic metadata ${topic}`, () => fetchPartitionCount(kafka, topic));
    if (config.spool !== undefined) {
      await writeKnownTopic(config, { topic, partitions, schema: { subject, id: schema.id, fingerprint } });
    }
  }
  // More producers than partitions would idle: partition p is written by producer p % producers.
  const producers = Array.from(
    { length: Math.min(config.producers, partitions) },
    () => new DurableProducer(kafka),
  );
  if (!kafkaDownAtStart) {
    await startup.step('connect producers', () => Promise.all(producers.map((p) => p.connect())));
    logger.info({ topic, partitions, producers: producers.length }, 'producers connected');
  } // else each producer connects at its first send
  metrics.producers.set(producers.length);

  // The static secrets, plus the app's tenant registry when it is configured: built once, here.
  const verifier = await startup.step('connect to the tenant registry', () =>
    createIngestVerifier(config, new StaticSecretVerifier(config.auth), logger),
  );
  const privacy = await openPrivacy(config, logger, metrics, startup);

  const direct = new KafkaRawWebhookPublisher({
    producers,
    topic,
    partitions,
    serde,
    schema,
    batch: config.batch,
    maxRecordBytes,
    metrics,
  });
  const partitionWatch = new PartitionCountWatch({
    kafka,
    topic,
    intervalMs: config.rawTopic.refreshMs,
    target: direct,
    producers,
    logger,
    report: (count) => metrics.rawTopicPartitions.set(count),
    onGrown: (count) =>
      writeKnownTopic(config, { topic, partitions: count, schema: { subject, id: schema.id, fingerprint } }),
  });
  partitionWatch.start();
  const spooling =
    spool === undefined || config.spool === undefined
      ? undefined
      : new SpoolingPublisher({
          direct,
          spool,
          serde,
          schema,
          spoolAfterMs: config.spool.afterMs,
          maxRecordBytes,
          drainMaxRecords: config.batch.maxRecords,
          // A drain batch must fit a broker record batch of the raw topic like a direct one.
          drainMaxBytes: config.batch.maxBytes,
          logger,
          metrics: metrics.spool,
          spoolTraceHeaders: config.spool.traceHeaders,
          ...(kafkaDownAtStart ? { spoolFromStart: 'kafka unreachable at start-up' } : {}),
        });
  const publisher: RawWebhookPublisher = spooling ?? direct;
  const stackReadiness = new StackReadiness({ kafka, registry, topic, schema });
  return {
    schema,
    maxRecordBytes,
    deps: {
      publisher,
      verifier: verifier.verifier,
      ...(privacy === undefined ? {} : { sealer: privacy.sealer }),
      isRegisteredTenant: (tenant) => verifier.isRegisteredTenant(tenant),
      readiness: new CachedReadiness(
        spooling === undefined ? stackReadiness : new SpoolingReadiness(stackReadiness, spooling),
        config.operations.readinessCacheMs,
      ),
      logger,
      metrics,
    },
    spooling,
    async close() {
      await partitionWatch.stop();
      if (spooling !== undefined) {
        // The spool first: what is queued is fsynced and the lock released. Kafka may be down, so the drain send
        // in flight and the producers get a bounded wait only (spooled records are re-sent at the next start).
        await spooling.close();
        await boundedWait(
          (async () => {
            await direct.close();
            await Promise.all(producers.map((p) => p.disconnect()));
          })(),
          SPOOLING_STOP_KAFKA_WAIT_MS,
        );
      } else {
        await direct.close();
        await Promise.all(producers.map((p) => p.disconnect()));
      }
      await verifier.close();
      await privacy?.close();
    },
  };
}

/**
 * With PRIVACY_KEYS set: the key store's pool (INGEST_PRIVACY_POOL_SIZE, bounded waits so that a hung Postgres
 * answers 503 rather than holding requests), its schema migrated (advisory-locked, idempotent) and the sealer.
 */
async function openPrivacy(
  config: IngestConfig,
  logger: Logger,
  metrics: IngestMetrics,
  startup: Startup,
): Promise<{ sealer: RawBodySealer; close(): Promise<void> } | undefined> {
  const privacy = config.privacy;
  if (privacy === undefined) return undefined;
  const pool = new pg.Pool({
    connectionString: privacy.databaseUrl,
    max: privacy.poolSize,
    connectionTimeoutMillis: privacy.connectTimeoutMs,
    query_timeout: privacy.queryTimeoutMs,
    statement_timeout: privacy.queryTimeoutMs,
  });
  // An idle connection dropped by Postgres must not crash the ingest (the next look-up reconnects, or fails: 503).
  pool.on('error', (err) =>
    logger.warn({ err: { message: err.message } }, 'privacy key store connection lost'),
  );
  try {
    // The migration runs on a connection of its own without the look-ups' timeouts: a statement slower than
    // INGEST_PRIVACY_QUERY_TIMEOUT_MS (an index on a large table, a wait for another starter's advisory lock) must
    // not fail the start for good; INGEST_STARTUP_TIMEOUT_MS bounds the step, and ending the pool frees the lock.
    const migrationPool = new pg.Pool({
      connectionString: privacy.databaseUrl,
      max: 1,
      connectionTimeoutMillis: privacy.connectTimeoutMs,
    });
    migrationPool.on('error', () => undefined); // an idle connection lost: the next query fails instead
    const applied = await startup
      .step(`migrate the privacy key store (schema ${privacy.keys.schema})`, () =>
        migratePrivacy(migrationPool, { schema: privacy.keys.schema }),
      )
      .finally(() => void migrationPool.end().catch(() => undefined));
    logger.info(
      { schema: privacy.keys.schema, applied, activeKeyId: privacy.keys.activeKeyId },
      'privacy on: raw bodies are sealed with per-chat data keys',
    );
  } catch (err) {
    await pool.end().catch(() => undefined);
    throw err;
  }
  const vault = new PrivacyVault(pool, privacy.keys);
  // The series exists from the start at 0: increase() ignores a series' first sample, so an alert on the first
  // outage would miss it otherwise.
  metrics.privacy.sealFailures.inc({ code: 'PRIVACY_KEY_UNAVAILABLE' }, 0);
  metrics.privacy.sealFailures.inc({ code: 'DEADLINE_EXCEEDED' }, 0);
  metrics.privacy.sealFailures.inc({ code: 'SEAL_QUEUE_FULL' }, 0);
  return {
    sealer: new VaultRawBodySealer({ keys: vault, metrics: metrics.privacy }),
    close: () => pool.end(),
  };
}

/** Waits for `work` at most `ms` (it keeps running; its failure is ignored). */
async function boundedWait(work: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    work.catch(() => undefined),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms);
    }),
  ]);
  clearTimeout(timer);
}

/**
 * How long a stop waits for Kafka (the batchers' last sends, the producers' disconnect) once the spool is closed:
 * every request was answered before (app.close), so nothing waits on these sends; Kafka may be down.
 */
const SPOOLING_STOP_KAFKA_WAIT_MS = 1000;

/** Kafka's (and the registry's) start-up budget when the spool can take webhooks without them (seen before). */
const KAFKA_STARTUP_WITH_SPOOL_MS = 2000;
const KNOWN_TOPIC_FILE = 'raw-topic.json';

interface KnownTopic {
  readonly topic: string;
  readonly partitions: number;
  /** The raw schema's registered id, with the SHA-256 of the schema text it was registered for. */
  readonly schema?: { readonly subject: string; readonly id: number; readonly fingerprint: string };
}

/**
 * The raw topic's partition count and the schema id as read at an earlier start, kept in the spool directory: a
 * start while Kafka or the registry is down can still spool.
 */
async function readKnownTopic(config: IngestConfig): Promise<KnownTopic | undefined> {
  if (config.spool === undefined) return undefined;
  try {
    const known = JSON.parse(await readFile(path.join(config.spool.dir, KNOWN_TOPIC_FILE), 'utf8')) as {
      topic?: unknown;
      partitions?: unknown;
      schema?: { subject?: unknown; id?: unknown; fingerprint?: unknown };
    };
    if (typeof known.topic === 'string' && typeof known.partitions === 'number' && known.partitions >= 1) {
      const schema = known.schema;
      return {
        topic: known.topic,
        partitions: known.partitions,
        ...(typeof schema?.subject === 'string' &&
        typeof schema.id === 'number' &&
        typeof schema.fingerprint === 'string'
          ? { schema: { subject: schema.subject, id: schema.id, fingerprint: schema.fingerprint } }
          : {}),
      };
    }
  } catch {
    // first start with this directory
  }
  return undefined;
}

async function writeKnownTopic(config: IngestConfig, known: KnownTopic): Promise<void> {
  if (config.spool === undefined) return;
  const file = path.join(config.spool.dir, KNOWN_TOPIC_FILE);
  await writeFile(`${file}.tmp`, JSON.stringify(known));
  await rename(`${file}.tmp`, file);
}

/** `work`, or a (transient) rejection after `ms`. */
function withinMs<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    work,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
