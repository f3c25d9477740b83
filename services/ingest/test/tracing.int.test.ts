import { SpanStatusCode } from '@opentelemetry/api';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';
import { shutdownTracing, startTracing } from '@livechat-pipeline/service-host';
import { readTopic, waitFor } from '@livechat-pipeline/testkit';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testConfig } from './support/env.js';
import { fixture } from './support/fixtures.js';
import { postWebhook, startTestIngest, type TestIngest } from './support/harness.js';

// The ingest's SERVER span: the sender (not authenticated yet) never decides the trace id or whether it is
// recorded; every answer, a body parser's refusal included, has a span with its status code; only 5xx is an error.
// One SDK per process (this file), spans kept by an exporter of our own.

const spans: ReadableSpan[] = [];
const exporter: SpanExporter = {
  export: (batch, done) => {
    spans.push(...batch);
    done({ code: 0 });
  },
  shutdown: () => Promise.resolve(),
};
const CALLER_TRACE = '0af7651916cd43dd8448eb211c80319c';
const CALLER_SPAN = 'b7ad6b7169203331';
const unsampled = `00-${CALLER_TRACE}-${CALLER_SPAN}-00`;
const sampled = `00-${CALLER_TRACE}-${CALLER_SPAN}-01`;

let ingest: TestIngest;
let trusting: TestIngest;
beforeAll(async () => {
  startTracing({ otlpEndpoint: undefined, serviceName: 'ingest-test' }, pino({ level: 'silent' }), exporter);
  ingest = await startTestIngest();
  trusting = await startTestIngest({ INGEST_TRUST_TRACEPARENT: 'true' });
}, 60_000);
afterAll(async () => {
  await ingest?.close();
  await trusting?.close();
  await shutdownTracing();
});

/** The server spans (at least `n`) of answers with this status code. */
function serverSpan(status: number, n = 1): Promise<ReadableSpan[]> {
  return waitFor(
    () => {
      const found = spans.filter((s) => s.attributes['http.response.status_code'] === status);
      return found.length >= n ? found : undefined;
    },
    { timeoutMs: 10_000, message: `no server span with status ${status}` },
  );
}

/** The ingest's JSON log lines. */
function logLines(of: TestIngest): Record<string, unknown>[] {
  return of.logs
    .join('')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe('ingest server span', () => {
  it('INGEST_TRUST_TRACEPARENT is validated (a boolean, default false)', () => {
    expect(testConfig().http.trustTraceparent).toBe(false);
    expect(() => testConfig({ INGEST_TRUST_TRACEPARENT: 'sometimes' })).toThrow(/INGEST_TRUST_TRACEPARENT/);
  });

  it("a sender's unsampled traceparent is only a link: the webhook is traced in a fresh, recorded trace", async () => {
    const res = await postWebhook(ingest, fixture('v3.6-incoming_event-file'), {
      headers: { traceparent: unsampled },
    });
    expect(res.statusCode).toBe(200);
    const [server] = await serverSpan(200);
    expect(server!.spanContext().traceId).not.toBe(CALLER_TRACE);
    expect(server!.spanContext().traceFlags & 1).toBe(1);
    expect(server!.parentSpanContext).toBeUndefined();
    expect(server!.links.map((l) => [l.context.traceId, l.context.spanId])).toEqual([
      [CALLER_TRACE, CALLER_SPAN],
    ]);
    expect(server!.attributes['http.route']).toBe('/webhooks/livechat');
    expect(server!.status.code).toBe(SpanStatusCode.UNSET);
    // The raw record continues the ingest's own trace, sampled.
    const [record] = await readTopic(ingest.topic, { count: 1, timeoutMs: 10_000 });
    const traceparent = record?.headers?.['traceparent']?.toString();
    expect(traceparent).toMatch(new RegExp(`^00-${server!.spanContext().traceId}-[0-9a-f]{16}-01$`));
  });

  it('INGEST_TRUST_TRACEPARENT=true continues the sender trace (a trusted proxy in front)', async () => {
    const res = await postWebhook(trusting, fixture('v3.6-incoming_event-file'), {
      headers: { traceparent: sampled },
    });
    expect(res.statusCode).toBe(200);
    const server = await waitFor(
      () => spans.find((s) => s.kind === 1 && s.spanContext().traceId === CALLER_TRACE),
      { timeoutMs: 10_000, message: 'no server span in the caller trace' },
    );
    expect(server.parentSpanContext?.spanId).toBe(CALLER_SPAN);
    expect(server.links).toEqual([]);
  });

  it("refusals have a span with their status code (the body parser's too) and are not errors", async () => {
    const unauthenticated = await postWebhook(ingest, fixture('v3.6-incoming_event-file'), {
      headers: { 'content-type': 'application/json', traceparent: sampled },
      path: '/webhooks/livechat/some-tenant',
    });
    expect(unauthenticated.statusCode).toBeGreaterThanOrEqual(400);
    const wrongType = await ingest.app.inject({
      method: 'POST',
      url: '/webhooks/livechat',
      headers: { 'content-type': 'text/plain' },
      payload: 'hello',
    });
    expect(wrongType.statusCode).toBe(415);
    const notJson = await ingest.app.inject({
      method: 'POST',
      url: '/webhooks/livechat',
      headers: { 'content-type': 'application/json' },
      payload: '{"a":',
    });
    expect(notJson.statusCode).toBe(400);
    const tooLarge = await ingest.app.inject({
      method: 'POST',
      url: '/webhooks/livechat',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ pad: 'x'.repeat(ingest.config.http.bodyLimitBytes) }),
    });
    expect(tooLarge.statusCode).toBe(413);
    for (const status of [unauthenticated.statusCode, 415, 400, 413]) {
      const [span] = await serverSpan(status);
      expect(span!.status.code, `status ${status}`).toBe(SpanStatusCode.UNSET);
      expect(span!.name).toMatch(/^POST \/webhooks\/livechat/);
    }
    // An unauthenticated sender's traceparent is not linked (the link is added only once it is authenticated).
    const [refusedSpan] = await serverSpan(unauthenticated.statusCode);
    expect(refusedSpan!.links).toEqual([]);
    // The error handler's `request refused` line (written outside the handler) carries the request's trace ids.
    const [notJsonSpan] = await serverSpan(400);
    const refused = logLines(ingest).filter((l) => l['msg'] === 'request refused' && l['status'] === 400);
    expect(refused).toHaveLength(1);
    expect(refused[0]!['trace_id']).toBe(notJsonSpan!.spanContext().traceId);
    expect(refused[0]!['span_id']).toBe(notJsonSpan!.spanContext().spanId);
  });

  it("a 5xx's `request failed` line carries the request's trace ids", async () => {
    const broken = await startTestIngest();
    try {
      // The raw topic's producer is gone: the publish fails, the answer is a 5xx.
      await broken.runtime.close();
      const answer = await postWebhook(broken, fixture('v3.6-incoming_event-file'));
      expect(answer.statusCode).toBeGreaterThanOrEqual(500);
      const [span] = await serverSpan(answer.statusCode);
      const failed = logLines(broken).filter((l) => l['msg'] === 'request failed');
      expect(failed).toHaveLength(1);
      expect(failed[0]!['trace_id']).toBe(span!.spanContext().traceId);
    } finally {
      await broken.app.close();
    }
  });
});
