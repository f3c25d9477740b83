import { trace } from '@opentelemetry/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServiceLogger, shutdownTracing, startTracing } from '@livechat-pipeline/service-host';
import { waitFor } from '@livechat-pipeline/testkit';
import { readStoredOffset, type PostgresConsumer } from '@livechat-pipeline/postgres-consumer';
import { counterFixture, produceEvents, startCounter, type CounterFixture } from './support.js';
import type { CounterEvent } from '../examples/counter-consumer.js';

// With tracing on, a batch's span covers what the runtime reports about the batch (so those log lines carry its
// trace ids), and the dead letters' produce is a producer span of its own under the Postgres transaction.

type Exporter = NonNullable<Parameters<typeof startTracing>[2]>;
type ExportedSpan = Parameters<Exporter['export']>[0][number];

const spans: ExportedSpan[] = [];
const exporter: Exporter = {
  export: (batch, done) => {
    spans.push(...batch);
    done({ code: 0 });
  },
  shutdown: () => Promise.resolve(),
};

describe('batch span', () => {
  let fixture: CounterFixture;
  let consumer: PostgresConsumer<CounterEvent> | undefined;

  beforeAll(async () => {
    startTracing(
      { otlpEndpoint: undefined, serviceName: 'consumer-test' },
      createServiceLogger({ service: 'consumer-test', level: 'silent' }),
      exporter,
    );
    fixture = await counterFixture('trace', 1);
  });
  afterAll(async () => {
    await consumer?.stop();
    await shutdownTracing();
    await fixture.cleanup();
  });

  it('runtime events of a batch are reported inside its span; dead letters are produced in a span of their own', async () => {
    const reported: { type: string; spanId: string | undefined }[] = [];
    consumer = startCounter(fixture, {
      onEvent: (event) =>
        reported.push({ type: event.type, spanId: trace.getActiveSpan()?.spanContext().spanId }),
    });
    await consumer.start();
    const dlq = consumer.options.deadLetterTopic;
    await produceEvents(fixture.topic, [
      { id: 'e1', key: 'a' },
      { id: 'p1', key: 'a', poison: true },
    ]);
    const position = { consumer: fixture.name, topic: fixture.topic, partition: 0 };
    await waitFor(async () => (await readStoredOffset(fixture.pool, fixture.name, position)) === 2n, {
      timeoutMs: 20_000,
      message: 'offset past the poison record',
    });
    await consumer.stop();
    consumer = undefined;
    await shutdownTracing(); // flushes

    const publish = spans.find((s) => s.name === `${dlq} publish`);
    const transaction = spans.find(
      (s) =>
        s.name === 'postgres transaction' && s.spanContext().spanId === publish?.parentSpanContext?.spanId,
    );
    const batch = spans.find(
      (s) =>
        s.name === `${fixture.topic} process` &&
        s.spanContext().spanId === transaction?.parentSpanContext?.spanId,
    );
    expect(publish?.attributes['messaging.batch.message_count']).toBe(1);
    expect(batch?.attributes['messaging.consumer.group.name']).toBe(fixture.name);
    const batchSpanId = batch?.spanContext().spanId;
    expect(batchSpanId).toBeDefined();
    expect(reported.find((r) => r.type === 'dead-lettered')?.spanId).toBe(batchSpanId);
    // Every committed batch (the records may come in more than one) is reported inside its own span.
    const batchSpanIds = spans
      .filter((s) => s.name === `${fixture.topic} process`)
      .map((s) => s.spanContext().spanId);
    const committed = reported.filter((r) => r.type === 'batch-committed');
    expect(committed.length).toBeGreaterThan(0);
    for (const r of committed) expect(batchSpanIds).toContain(r.spanId);
  });
});
