import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { ConfluentAvroSerde, SchemaRegistryClient } from '@livechat-pipeline/events';
import type { RawWebhook } from '@livechat-pipeline/events';
import { readTopic, stackEndpoints, testKafka, uniqueName } from '@livechat-pipeline/testkit';
import type { ReadMessage } from '@livechat-pipeline/testkit';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/app.js';
import type { IngestConfig } from '../../src/config.js';
import { createIngestDeps } from '../../src/deps.js';
import type { IngestRuntime } from '../../src/deps.js';
import { createLogger } from '../../src/logger.js';
import { createIngestMetrics } from '../../src/metrics.js';
import { createIngestOperationsServer } from '../../src/operations.js';
import { testConfig } from './env.js';
import { authHeadersFor } from './fixtures.js';
import type { JsonBody } from './fixtures.js';

export interface TestIngest {
  readonly app: FastifyInstance;
  readonly config: IngestConfig;
  readonly runtime: IngestRuntime;
  readonly topic: string;
  /** Every log line written so far, raw. */
  readonly logs: string[];
  /** Base URL of the ingest's operations server (/healthz, /readyz, /metrics), on a free loopback port. */
  readonly operationsUrl: string;
  close(): Promise<void>;
}

/** A real ingest (real Kafka, registry) on its own topic, with its log lines captured. */
export async function startTestIngest(env: NodeJS.ProcessEnv = {}): Promise<TestIngest> {
  const endpoints = stackEndpoints();
  const topic = env['RAW_WEBHOOK_TOPIC'] ?? uniqueName('ingest-raw');
  const config = testConfig({
    KAFKA_BROKERS: endpoints.kafkaBrokers.join(','),
    SCHEMA_REGISTRY_URL: endpoints.schemaRegistryUrl,
    RAW_WEBHOOK_TOPIC: topic,
    RAW_WEBHOOK_TOPIC_PARTITIONS: '3',
    INGEST_LOG_LEVEL: 'debug',
    ...env,
  });
  const logs: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      logs.push(chunk.toString('utf8'));
      done();
    },
  });
  const logger = createLogger(config, stream);
  const runtime = await createIngestDeps(config, logger, createIngestMetrics({ defaultMetrics: false }));
  const app = await buildApp(config, runtime.deps);
  const operations = createIngestOperationsServer({
    readiness: runtime.deps.readiness,
    metrics: runtime.deps.metrics,
    logger,
  });
  await new Promise<void>((resolve) => operations.listen(0, '127.0.0.1', resolve));
  const { port } = operations.address() as AddressInfo;
  return {
    app,
    config,
    runtime,
    topic,
    logs,
    operationsUrl: `http://127.0.0.1:${port}`,
    async close() {
      await new Promise<void>((resolve) => {
        operations.close(() => resolve());
        operations.closeAllConnections();
      });
      await app.close();
      await runtime.close();
    },
  };
}

export function postWebhook(
  ingest: TestIngest,
  body: JsonBody,
  options: { path?: string; headers?: Record<string, string> } = {},
) {
  return ingest.app.inject({
    method: 'POST',
    url: options.path ?? '/webhooks/livechat',
    headers: {
      'content-type': 'application/json',
      'user-agent': 'LiveChat-Webhooks/test',
      ...authHeadersFor(body),
      ...options.headers,
    },
    payload: JSON.stringify(body),
  });
}

export interface DecodedRecord {
  readonly key: string;
  readonly partition: number;
  readonly schemaId: number;
  readonly value: RawWebhook;
  readonly raw: Buffer;
}

/** Reads `count` records of the topic and decodes them through the registry (as the normalizer will). */
export async function readRawRecords(topic: string, count: number): Promise<DecodedRecord[]> {
  const messages = await readTopic(topic, { count, timeoutMs: 30_000 });
  return decodeAll(messages);
}

export async function decodeAll(messages: ReadMessage[]): Promise<DecodedRecord[]> {
  const serde = new ConfluentAvroSerde(
    new SchemaRegistryClient({ baseUrl: stackEndpoints().schemaRegistryUrl }),
  );
  const out: DecodedRecord[] = [];
  for (const m of messages) {
    if (m.value === null) throw new Error('tombstone in the raw topic');
    const decoded = await serde.decode<RawWebhook>(m.value);
    out.push({
      key: m.key?.toString('utf8') ?? '',
      partition: m.partition,
      schemaId: decoded.schemaId,
      value: decoded.value,
      raw: m.value,
    });
  }
  return out;
}

/**
 * How many records the topic holds: the sum of its partitions' end offsets minus their start offsets, read from
 * the broker. Exact once every write that was answered 200 has been acknowledged (acks=-1 moves the high
 * watermark before the acknowledgement; the idempotent producer writes no control records), so "nothing was
 * written" needs no waiting.
 */
export async function topicRecordCount(topic: string): Promise<number> {
  const admin = testKafka('ingest-test-offsets').admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    return offsets.reduce((sum, p) => sum + Number(BigInt(p.high) - BigInt(p.low)), 0);
  } finally {
    await admin.disconnect();
  }
}
