import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { shutdownTracing, startTracing } from '@livechat-pipeline/service-host';
import { simulateTraffic } from '@livechat-pipeline/traffic-simulator';
import { waitFor } from '@livechat-pipeline/testkit';
import { E2E_SECRET_KEY, postDeliveries, startChain, type RunningChain } from './support/chain.js';

/**
 * One webhook's trace, ingest → raw topic → normalizer → chat-events topic → transcripts → Postgres, exported over
 * OTLP/HTTP (JSON) to a receiver of our own: a node HTTP server that decodes what the exporter sends. The services
 * run in this process (test/support/chain.ts), so one SDK, started as runMain starts it, serves all three.
 */

interface OtlpSpan {
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId?: string;
  readonly name: string;
  readonly kind: number;
  readonly startTimeUnixNano: string;
  readonly endTimeUnixNano: string;
  readonly links?: readonly { readonly traceId: string; readonly spanId: string }[];
  readonly attributes?: readonly {
    readonly key: string;
    readonly value: { readonly stringValue?: string };
  }[];
  readonly status?: { readonly code?: number };
}
interface OtlpTraceRequest {
  readonly resourceSpans: readonly {
    readonly resource: { readonly attributes: readonly { key: string; value: { stringValue?: string } }[] };
    readonly scopeSpans: readonly { readonly spans: readonly OtlpSpan[] }[];
  }[];
}

const received: OtlpSpan[] = [];
const serviceNames = new Set<string>();
const contentTypes = new Set<string>();
let receiver: Server;
let chain: RunningChain;

beforeAll(async () => {
  receiver = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (c: Buffer) => chunks.push(c));
    request.on('end', () => {
      if (request.method !== 'POST' || request.url !== '/v1/traces') {
        response.writeHead(404).end();
        return;
      }
      contentTypes.add(request.headers['content-type'] ?? '');
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as OtlpTraceRequest;
      for (const rs of body.resourceSpans) {
        for (const a of rs.resource.attributes)
          if (a.key === 'service.name' && a.value.stringValue !== undefined)
            serviceNames.add(a.value.stringValue);
        for (const ss of rs.scopeSpans) received.push(...ss.spans);
      }
      response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  receiver.listen(0, '127.0.0.1');
  await new Promise((resolve) => receiver.once('listening', resolve));
  const { port } = receiver.address() as AddressInfo;
  const tracing = startTracing(
    { otlpEndpoint: `http://127.0.0.1:${port}`, serviceName: 'e2e-chain' },
    pino({ level: 'warn' }),
  );
  expect(tracing.enabled).toBe(true);
  chain = await startChain();
}, 120_000);

afterAll(async () => {
  await chain?.close();
  await shutdownTracing();
  await new Promise((resolve) => receiver?.close(resolve));
});

const ms = (s: OtlpSpan) =>
  (Number(BigInt(s.endTimeUnixNano) - BigInt(s.startTimeUnixNano)) / 1e6).toFixed(1);

describe('tracing across the chain', () => {
  it("one webhook's trace reaches the transcripts span and its Postgres transaction, with parents and links", async () => {
    const traffic = simulateTraffic({
      seed: 7,
      chats: 1,
      format: 'v3',
      duplicateRate: 0,
      reorderRate: 0,
      secretKey: E2E_SECRET_KEY,
    });
    const first = traffic.deliveries[0]!;
    const { statuses } = await postDeliveries(chain.ingestUrl, [
      { body: first.body as unknown as Record<string, unknown>, chatId: first.chatId },
    ]);
    expect(statuses).toEqual([200]);

    const server = await waitFor(() => received.find((s) => s.name === 'POST /webhooks/livechat'), {
      timeoutMs: 10_000,
      message: 'the ingest server span was not exported',
    });
    const traceId = server.traceId;
    const inTrace = () => received.filter((s) => s.traceId === traceId);
    // The transcripts consumer's batch span, told apart from any other postgres-consumer's by its group.
    const group = chain.transcriptsConfig.consumerName;
    const transcripts = await waitFor(
      () =>
        inTrace().find(
          (s) =>
            s.name === `${chain.topics.chatEvents} process` &&
            s.attributes?.some(
              (a) => a.key === 'messaging.consumer.group.name' && a.value.stringValue === group,
            ),
        ),
      { timeoutMs: 25_000, message: `no span of consumer group ${group} in trace ${traceId}` },
    );
    const transaction = await waitFor(
      () => inTrace().find((s) => s.name === 'postgres transaction' && s.parentSpanId === transcripts.spanId),
      { timeoutMs: 10_000, message: 'no Postgres transaction span under the transcripts span' },
    );

    const spans = inTrace();
    const produce = spans.find((s) => s.name === `${chain.topics.raw} publish`);
    const normalize = spans.find((s) => s.name === `${chain.topics.raw} process`);
    expect(produce?.parentSpanId).toBe(server.spanId);
    expect(normalize?.parentSpanId).toBe(produce?.spanId);
    expect(normalize?.links?.map((l) => l.spanId)).toEqual([produce?.spanId]);
    expect(transcripts.parentSpanId).toBe(normalize?.spanId);
    expect(transcripts.links?.map((l) => [l.traceId, l.spanId])).toContainEqual([traceId, normalize?.spanId]);
    expect(transaction.traceId).toBe(traceId);
    expect(
      [server, produce, normalize, transcripts, transaction].map((s) => s?.status?.code ?? 0),
    ).not.toContain(2);
    expect([...serviceNames]).toEqual(['e2e-chain']);
    expect([...contentTypes]).toEqual(['application/json']); // the exporter's JSON encoding

    // Each service's log line for this webhook carries the trace (the span it was written in).
    const line = (logs: readonly string[], msg: string) =>
      logs.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l['msg'] === msg);
    expect(line(chain.logs.ingest, 'webhook stored')).toMatchObject({
      trace_id: traceId,
      span_id: server.spanId,
    });
    expect(line(chain.logs.normalizer, 'raw record normalized')).toMatchObject({
      trace_id: traceId,
      span_id: normalize?.spanId,
    });
    expect(line(chain.logs.transcripts, 'batch committed')).toMatchObject({
      trace_id: traceId,
      span_id: transcripts.spanId,
    });

    // The closing note's "trace of one webhook".
    console.log(
      [server, produce, normalize, transcripts, transaction]
        .map((s) => `${s?.name ?? '?'}: ${s === undefined ? '?' : ms(s)} ms`)
        .join('\n'),
    );
    // The waits above (10 + 25 + 10 s) stay under this test's budget, so a missing span fails with their message.
  }, 60_000);
});
