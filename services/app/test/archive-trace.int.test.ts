import { trace } from '@opentelemetry/api';
import { afterAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { spanContextOf, withSpan } from '@livechat-pipeline/events';
import type { ArchiveRow } from '@livechat-pipeline/livechat-agent-api';
import { shutdownTracing, startTracing } from '@livechat-pipeline/service-host';
import { createTopic, readTopic, stackEndpoints, uniqueName } from '@livechat-pipeline/testkit';
import { KafkaArchiveSink } from '../src/archives/kafka-sink.js';

// Archive records (backfill, reconciliation) have no request behind them: each page written is a trace of its own,
// and its records carry that trace's `traceparent`, so the normalizer and the projections continue it.

type Exporter = NonNullable<Parameters<typeof startTracing>[2]>;
type Exported = Parameters<Exporter['export']>[0][number];
const exported: Exported[] = [];
const exporter: Exporter = {
  export: (spans, done) => {
    exported.push(...spans);
    done({ code: 0 });
  },
  shutdown: () => Promise.resolve(),
  forceFlush: () => Promise.resolve(),
};

afterAll(() => shutdownTracing());

const row: ArchiveRow = {
  id: 'C-traced',
  users: [{ id: 'cust', type: 'customer' }],
  thread: {
    id: 'T-traced',
    active: false,
    created_at: '2026-11-20T10:00:00.000000Z',
    events: [
      {
        id: 'T-traced_1',
        type: 'message',
        text: 'hello',
        author_id: 'cust',
        created_at: '2026-11-20T10:00:01.000000Z',
        visibility: 'all',
      },
    ],
  },
};

describe('archive writer tracing', () => {
  it('a page written starts its own trace (even inside another span) and its records carry its traceparent', async () => {
    startTracing({ otlpEndpoint: undefined, serviceName: 'app-test' }, pino({ level: 'silent' }), exporter);
    const topic = uniqueName('sink-traced');
    await createTopic(topic, 1);
    const stack = stackEndpoints();
    const sink = new KafkaArchiveSink(
      { brokers: stack.kafkaBrokers, clientId: 'sink-test', registryUrl: stack.schemaRegistryUrl, topic },
      pino({ level: 'silent' }),
    );
    let outerTrace = '';
    try {
      await withSpan(trace.getTracer('test'), 'outer job', {}, async (outer) => {
        outerTrace = outer.spanContext().traceId;
        const { rejected } = await sink.write('org-sink', [row], {
          method: 'list_archives',
          pageId: null,
          pageNumber: 1,
          readAt: new Date(),
        });
        expect(rejected).toEqual([]);
      });
    } finally {
      await sink.close();
    }
    const [record] = await readTopic(topic, { count: 1, timeoutMs: 30_000 });
    const carried = spanContextOf(record?.headers);
    expect(carried).toBeDefined();
    await shutdownTracing(); // flush
    const page = exported.find((s) => s.name === `${topic} publish archive`);
    expect(page).toBeDefined();
    expect(page?.parentSpanContext).toBeUndefined();
    expect(page?.spanContext().traceId).not.toBe(outerTrace);
    expect(carried).toMatchObject({
      traceId: page?.spanContext().traceId,
      spanId: page?.spanContext().spanId,
    });
  });
});
