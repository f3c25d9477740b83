import type { AddressInfo } from 'node:net';
import { SchemaRegistryClient } from '@livechat-pipeline/events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKafka } from '../src/kafka.js';
import { createIngestOperationsServer } from '../src/operations.js';
import { CachedReadiness, StackReadiness } from '../src/readiness.js';
import { fixture } from './support/fixtures.js';
import { postWebhook, startTestIngest } from './support/harness.js';
import type { TestIngest } from './support/harness.js';

describe('operations endpoints', () => {
  let ingest: TestIngest;
  beforeAll(async () => {
    ingest = await startTestIngest();
  });
  afterAll(async () => {
    await ingest.close();
  });

  it('the webhook port keeps only the webhooks and /healthz (for load balancers)', async () => {
    const res = await ingest.app.inject({ method: 'GET', url: '/healthz' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'ok' });
    for (const url of ['/readyz', '/metrics']) {
      const off = await ingest.app.inject({ method: 'GET', url });
      expect(off.statusCode, url).toBe(404);
      expect(off.json<{ code: string }>().code).toBe('INGEST_NOT_FOUND');
    }
  });

  it('the operations server answers /healthz and /readyz (Kafka, the registry and the schema)', async () => {
    expect((await fetch(`${ingest.operationsUrl}/healthz`)).status).toBe(200);
    const res = await fetch(`${ingest.operationsUrl}/readyz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      ok: true,
      status: 'ready',
      checks: [
        { name: 'kafka', ok: true },
        { name: 'schema_registry', ok: true },
        { name: 'schema', ok: true },
      ],
    });
    expect(ingest.runtime.deps.readiness).toBeInstanceOf(CachedReadiness);
  });

  it('GET /metrics (operations server) exposes requests, produce latency, batch sizes and in-flight', async () => {
    expect((await postWebhook(ingest, fixture('v3.6-event_deleted'))).statusCode).toBe(200);
    const res = await fetch(`${ingest.operationsUrl}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    const body = await res.text();
    expect(body).toMatch(
      /ingest_http_requests_total\{route="\/webhooks\/livechat",method="POST",status="200"\} 1/,
    );
    expect(body).toMatch(/ingest_produce_latency_seconds_count\{outcome="ok"\} 1/);
    expect(body).toMatch(/ingest_batch_records_count 1/);
    expect(body).toMatch(/ingest_in_flight_requests 0/);
    expect(body).toMatch(/ingest_webhooks_accepted_total\{format="v3"\} 1/);
  });

  it('a burst of /readyz opens at most one Kafka admin connection per cache period', async () => {
    const { config, runtime } = ingest;
    let checks = 0;
    const stack = new StackReadiness({
      kafka: createKafka(config, runtime.deps.logger),
      registry: new SchemaRegistryClient({ baseUrl: config.registry.url }),
      topic: ingest.topic,
      schema: runtime.schema,
    });
    // Each StackReadiness.check opens one admin connection; count the checks.
    const counted = { check: () => (checks++, stack.check()) };
    const server = createIngestOperationsServer({
      readiness: new CachedReadiness(counted, 60_000),
      metrics: runtime.deps.metrics,
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const answers = await Promise.all(Array.from({ length: 50 }, () => fetch(`${base}/readyz`)));
      expect(answers.map((a) => a.status)).toEqual(Array(50).fill(200));
      const again = await Promise.all(Array.from({ length: 20 }, () => fetch(`${base}/readyz`)));
      expect(again.every((a) => a.status === 200)).toBe(true);
      expect(checks).toBe(1);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it("a failed check answers 503 with which check failed, never the broker's or registry's error text", async () => {
    const { config, runtime } = ingest;
    const unreachable = new StackReadiness({
      kafka: createKafka(
        { ...config, kafka: { ...config.kafka, brokers: ['127.0.0.1:1'] } },
        runtime.deps.logger,
      ),
      registry: new SchemaRegistryClient({ baseUrl: 'http://127.0.0.1:1/apis/ccompat/v7' }),
      topic: ingest.topic,
      schema: runtime.schema,
      timeoutMs: 1000,
    });
    const report = await unreachable.check();
    expect(report.checks.find((c) => c.name === 'kafka')?.detail).toBeDefined(); // the reason exists, for the log
    const server = createIngestOperationsServer({
      readiness: { check: async () => report },
      metrics: runtime.deps.metrics,
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/readyz`);
      expect(res.status).toBe(503);
      const body = await res.text();
      expect(JSON.parse(body)).toEqual({
        ok: false,
        status: 'not_ready',
        checks: [
          { name: 'kafka', ok: false },
          { name: 'schema_registry', ok: false },
          { name: 'schema', ok: true },
        ],
      });
      for (const c of report.checks) if (c.detail !== undefined) expect(body).not.toContain(c.detail);
      expect(body).not.toMatch(/ECONNREFUSED|connect|127\.0\.0\.1/);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('sets up the raw topic with retention forever and the subject as BACKWARD_TRANSITIVE', async () => {
    const { testKafka, stackEndpoints } = await import('@livechat-pipeline/testkit');
    const admin = testKafka('ingest-health-test').admin();
    await admin.connect();
    try {
      const described = await admin.describeConfigs({
        includeSynonyms: false,
        resources: [{ type: 2, name: ingest.topic, configNames: ['retention.ms'] }],
      });
      expect(
        described.resources[0]?.configEntries.find((e) => e.configName === 'retention.ms')?.configValue,
      ).toBe('-1');
      const meta = await admin.fetchTopicMetadata({ topics: [ingest.topic] });
      expect(meta.topics[0]?.partitions).toHaveLength(3);
    } finally {
      await admin.disconnect();
    }
    const res = await fetch(`${stackEndpoints().schemaRegistryUrl}/config/${ingest.topic}-value`);
    const body = (await res.json()) as { compatibilityLevel?: string; compatibility?: string };
    expect(body.compatibilityLevel ?? body.compatibility).toBe('BACKWARD_TRANSITIVE');
  });
});
