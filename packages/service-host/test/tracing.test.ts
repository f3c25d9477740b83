import { ROOT_CONTEXT, context, propagation, trace } from '@opentelemetry/api';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';
import {
  spanContextOf,
  traceContextOf,
  traceHeaders,
  traceLinksOf,
  withSpan,
} from '@livechat-pipeline/events';
import type { Logger } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import {
  ServiceConfigError,
  createServiceLogger,
  shutdownTracing,
  startTracing,
  tracingConfigFromEnv,
  tracingEnabled,
} from '../src/index.js';

// One file, one process: the OpenTelemetry globals are set once. The "off" tests run before tracing is started.
function capturingLogger(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const logger = createServiceLogger(
    { service: 'test', level: 'info' },
    { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) },
  );
  return { logger, lines };
}

const tracer = () => trace.getTracer('tracing-test');

/** Keeps what it is given (the SDK's in-memory exporter forgets everything on shutdown). */
function collectingExporter(): SpanExporter & { spans: ReadableSpan[] } {
  const spans: ReadableSpan[] = [];
  return {
    spans,
    export: (batch, done) => {
      spans.push(...batch);
      done({ code: 0 });
    },
    shutdown: () => Promise.resolve(),
  };
}

afterAll(() => shutdownTracing());

describe('tracing configuration', () => {
  it('is off when OTEL_EXPORTER_OTLP_ENDPOINT is unset or blank, and names a bad endpoint', () => {
    expect(tracingConfigFromEnv({}, 'ingest')).toEqual({ otlpEndpoint: undefined, serviceName: 'ingest' });
    expect(
      tracingConfigFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: '  ' }, 'ingest').otlpEndpoint,
    ).toBeUndefined();
    expect(
      tracingConfigFromEnv(
        { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/', OTEL_SERVICE_NAME: 'ingest-eu' },
        'ingest',
      ),
    ).toEqual({ otlpEndpoint: 'http://collector:4318', serviceName: 'ingest-eu' });
    expect(() => tracingConfigFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' }, 'ingest')).toThrow(
      ServiceConfigError,
    );
    expect(() => tracingConfigFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: 'ftp://x' }, 'ingest')).toThrow(
      /OTEL_EXPORTER_OTLP_ENDPOINT: must be an http\(s\) URL/,
    );
  });
});

describe('tracing off (no endpoint)', () => {
  it('starts nothing: no recording spans, no trace headers, no trace ids in log lines', async () => {
    const { logger, lines } = capturingLogger();
    const tracing = startTracing({ otlpEndpoint: undefined, serviceName: 'test' }, logger);
    expect(tracing.enabled).toBe(false);
    expect(tracingEnabled()).toBe(false);
    await withSpan(tracer(), 'work', {}, (span) => {
      expect(span.isRecording()).toBe(false);
      expect(traceHeaders()).toBeUndefined();
      logger.info('inside');
      return Promise.resolve();
    });
    // Even a valid incoming traceparent is not extracted: the propagator is the API's no-op.
    const headers = { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' };
    expect(spanContextOf(headers)).toBeUndefined();
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toHaveProperty('trace_id');
    await tracing.shutdown();
  });
});

describe('tracing on', () => {
  const exporter = collectingExporter();
  const { logger, lines } = capturingLogger();

  it('records spans, writes traceparent headers that extract to the same span, and links batches', async () => {
    const tracing = startTracing({ otlpEndpoint: undefined, serviceName: 'test' }, logger, exporter);
    expect(tracing.enabled).toBe(true);
    expect(startTracing({ otlpEndpoint: undefined, serviceName: 'other' }, logger)).toBe(tracing);

    let produced: Record<string, string> | undefined;
    let producer: { traceId: string; spanId: string } | undefined;
    await withSpan(tracer(), 'publish', {}, (span) => {
      produced = traceHeaders();
      producer = span.spanContext();
      return Promise.resolve();
    });
    expect(produced?.traceparent).toBe(`00-${producer?.traceId}-${producer?.spanId}-01`);

    // Kafka hands headers back as Buffers.
    const received = { traceparent: Buffer.from(produced?.traceparent ?? '') };
    expect(spanContextOf(received)).toMatchObject({ traceId: producer?.traceId, spanId: producer?.spanId });
    await withSpan(
      tracer(),
      'process',
      { links: traceLinksOf([{ headers: received }, { headers: received }, { headers: {} }]) },
      () => Promise.resolve(),
      traceContextOf(received),
    );
    expect(spanContextOf({ traceparent: 'not-a-traceparent' })).toBeUndefined();
    expect(spanContextOf(undefined)).toBeUndefined();
    // Outside any span there is nothing to propagate.
    expect(traceHeaders(ROOT_CONTEXT)).toBeUndefined();

    await shutdownTracing(); // flushes the batch processor into the exporter
    const spans = exporter.spans;
    const publish = spans.find((s) => s.name === 'publish');
    const process = spans.find((s) => s.name === 'process');
    expect(process?.spanContext().traceId).toBe(publish?.spanContext().traceId);
    expect(process?.parentSpanContext?.spanId).toBe(publish?.spanContext().spanId);
    expect(process?.links.map((l) => l.context.spanId)).toEqual([publish?.spanContext().spanId]);
    expect(process?.resource.attributes['service.name']).toBe('test');
    // After shutdown the globals are back to no-ops.
    expect(tracingEnabled()).toBe(false);
    expect(propagation.fields()).toEqual([]);
  });

  it('puts trace_id and span_id on log lines written inside a span, only there', async () => {
    lines.length = 0;
    const tracing = startTracing({ otlpEndpoint: undefined, serviceName: 'test' }, logger, exporter);
    let ids: { traceId: string; spanId: string } | undefined;
    await withSpan(tracer(), 'logging', {}, async (span) => {
      ids = span.spanContext();
      await new Promise((resolve) => setImmediate(resolve)); // the context survives an await
      logger.info('inside');
    });
    logger.info('outside');
    await tracing.shutdown();
    const inside = lines.find((l) => l['msg'] === 'inside');
    const outside = lines.find((l) => l['msg'] === 'outside');
    expect(inside).toMatchObject({ trace_id: ids?.traceId, span_id: ids?.spanId });
    expect(outside).not.toHaveProperty('trace_id');
    expect(context.active()).toBe(ROOT_CONTEXT);
  });
});
