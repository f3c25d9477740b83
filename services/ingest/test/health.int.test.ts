import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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

  it('GET /healthz says the process is alive', async () => {
    const res = await ingest.app.inject({ method: 'GET', url: '/healthz' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'ok' });
  });

  it('GET /readyz checks Kafka, the registry and the schema', async () => {
    const res = await ingest.app.inject({ method: 'GET', url: '/readyz' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      status: 'ready',
      checks: [
        { name: 'kafka', ok: true },
        { name: 'schema_registry', ok: true },
        { name: 'schema', ok: true },
      ],
    });
  });

  it('GET /metrics exposes requests, produce latency, batch sizes and in-flight', async () => {
    expect((await postWebhook(ingest, fixture('v3.6-event_deleted'))).statusCode).toBe(200);
    const res = await ingest.app.inject({ method: 'GET', url: '/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    expect(res.body).toMatch(/ingest_http_requests_total\{route="\/webhooks\/livechat",method="POST",status="200"\} 1/);
    expect(res.body).toMatch(/ingest_produce_latency_seconds_count\{outcome="ok"\} 1/);
    expect(res.body).toMatch(/ingest_batch_records_count 1/);
    expect(res.body).toMatch(/ingest_in_flight_requests 0/);
    expect(res.body).toMatch(/ingest_webhooks_accepted_total\{format="v3"\} 1/);
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
      expect(described.resources[0]?.configEntries.find((e) => e.configName === 'retention.ms')?.configValue).toBe('-1');
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
