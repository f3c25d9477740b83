import { ROOT_CONTEXT, context, propagation, trace } from '@opentelemetry/api';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';
import {
  MAX_TRACE_LINKS,
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
  droppedSpansLog,
  exportProblemLog,
  shutdownTracing,
  startTracing,
  tracingConfigFromEnv,
  tracingEnabled,
  type TracesSamplerName,
} from '../src/index.js';
import { tracesUrlOf } from '../src/tracing.js';

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
    expect(tracingConfigFromEnv({}, 'ingest')).toEqual({
      otlpEndpoint: undefined,
      serviceName: 'ingest',
      logLevel: 'info',
    });
    expect(
      tracingConfigFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: '  ' }, 'ingest').otlpEndpoint,
    ).toBeUndefined();
    expect(
      tracingConfigFromEnv(
        { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/', OTEL_SERVICE_NAME: 'ingest-eu' },
        'ingest',
      ),
    ).toMatchObject({ otlpEndpoint: 'http://collector:4318', serviceName: 'ingest-eu' });
    expect(() => tracingConfigFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' }, 'ingest')).toThrow(
      ServiceConfigError,
    );
    expect(() => tracingConfigFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: 'ftp://x' }, 'ingest')).toThrow(
      /OTEL_EXPORTER_OTLP_ENDPOINT: must be an http\(s\) URL/,
    );
  });
});

describe('tracing configuration: sampler, exporter variables, log level', () => {
  const problemOf = (env: NodeJS.ProcessEnv) => {
    try {
      tracingConfigFromEnv(env, 'crm-sync');
    } catch (error) {
      return error instanceof ServiceConfigError ? error.message : String(error);
    }
    return undefined;
  };
  const base = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' };

  it('reads OTEL_TRACES_SAMPLER and its ratio, and names a bad one', () => {
    expect(
      tracingConfigFromEnv(
        { ...base, OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.1' },
        'x',
      ).sampler,
    ).toEqual({ name: 'parentbased_traceidratio', ratio: 0.1 });
    for (const name of ['always_on', 'always_off', 'traceidratio', 'parentbased_always_on'])
      expect(tracingConfigFromEnv({ ...base, OTEL_TRACES_SAMPLER: name }, 'x').sampler?.name).toBe(name);
    expect(problemOf({ ...base, OTEL_TRACES_SAMPLER: 'sometimes' })).toMatch(
      /OTEL_TRACES_SAMPLER: must be one of/,
    );
    expect(
      problemOf({ ...base, OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '1.5' }),
    ).toMatch(/OTEL_TRACES_SAMPLER_ARG: must be a ratio between 0 and 1/);
  });

  it('ignores OTEL_TRACES_SAMPLER_ARG with a sampler that takes no ratio (as the spec says), with a warn line', () => {
    const config = tracingConfigFromEnv(
      { ...base, OTEL_TRACES_SAMPLER: 'parentbased_always_on', OTEL_TRACES_SAMPLER_ARG: 'whatever' },
      'x',
    );
    expect(config.sampler).toEqual({ name: 'parentbased_always_on', ratio: 1 });
    expect(config.ignored).toEqual([
      'OTEL_TRACES_SAMPLER_ARG (OTEL_TRACES_SAMPLER=parentbased_always_on takes no ratio)',
    ]);
  });

  it('checks nothing but the endpoints while tracing is off (OTEL_SDK_DISABLED=true turns it off)', () => {
    const injected = {
      OTEL_TRACES_SAMPLER: 'jaeger_remote',
      OTEL_TRACES_SAMPLER_ARG: 'endpoint=http://jaeger:14250',
      OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
      OTEL_EXPORTER_OTLP_HEADERS: 'garbage',
      OTEL_EXPORTER_OTLP_CERTIFICATE: '/nonexistent/ca.pem',
    };
    expect(tracingConfigFromEnv(injected, 'x')).toEqual({
      otlpEndpoint: undefined,
      serviceName: 'x',
      logLevel: 'info',
    });
    expect(tracesUrlOf(tracingConfigFromEnv({ ...base, ...injected, OTEL_SDK_DISABLED: 'true' }, 'x'))).toBe(
      undefined,
    );
    expect(problemOf({ ...base, OTEL_SDK_DISABLED: 'yes' })).toMatch(
      /OTEL_SDK_DISABLED: must be true or false/,
    );
    expect(problemOf({ ...base, ...injected })).toMatch(/OTEL_TRACES_SAMPLER: must be one of/);
  });

  it('checks the exporter variables and their …_TRACES_… forms once tracing is on', () => {
    expect(problemOf({ ...base, OTEL_EXPORTER_OTLP_TRACES_HEADERS: 'garbage' })).toMatch(
      /OTEL_EXPORTER_OTLP_TRACES_HEADERS: must be key=value pairs/,
    );
    expect(problemOf({ ...base, OTEL_EXPORTER_OTLP_TRACES_COMPRESSION: 'zip' })).toMatch(
      /OTEL_EXPORTER_OTLP_TRACES_COMPRESSION: must be gzip or none/,
    );
    expect(problemOf({ ...base, OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' })).toMatch(
      /OTEL_EXPORTER_OTLP_PROTOCOL: must be http\/json/,
    );
    expect(problemOf({ ...base, OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/protobuf' })).toMatch(
      /OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: must be http\/json/,
    );
    expect(problemOf({ ...base, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' })).toBeUndefined();
    expect(problemOf({ ...base, OTEL_EXPORTER_OTLP_CERTIFICATE: '/nonexistent/ca.pem' })).toMatch(
      /OTEL_EXPORTER_OTLP_CERTIFICATE: must be a readable file/,
    );
    expect(problemOf({ ...base, OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY: '/nonexistent/key.pem' })).toMatch(
      /OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY: must be a readable file/,
    );
    expect(problemOf({ ...base, OTEL_EXPORTER_OTLP_CERTIFICATE: import.meta.filename })).toBeUndefined();
  });

  it('refuses credentials in the endpoint without echoing them, and checks the headers shape without echoing them', () => {
    const withUser = problemOf({ OTEL_EXPORTER_OTLP_ENDPOINT: 'https://user:s3cr3t-token@collector:4318' });
    expect(withUser).toMatch(/OTEL_EXPORTER_OTLP_ENDPOINT: must not contain credentials/);
    expect(withUser).not.toContain('s3cr3t-token');
    const badHeaders = problemOf({ ...base, OTEL_EXPORTER_OTLP_HEADERS: 'Bearer s3cr3t-token' });
    expect(badHeaders).toMatch(/OTEL_EXPORTER_OTLP_HEADERS: must be key=value pairs/);
    expect(badHeaders).not.toContain('s3cr3t-token');
    expect(
      problemOf({ ...base, OTEL_EXPORTER_OTLP_HEADERS: 'authorization=Bearer x,x-team=a' }),
    ).toBeUndefined();
    expect(problemOf({ ...base, OTEL_EXPORTER_OTLP_COMPRESSION: 'zip' })).toMatch(
      /OTEL_EXPORTER_OTLP_COMPRESSION: must be gzip or none/,
    );
  });

  it('honours OTEL_EXPORTER_OTLP_TRACES_ENDPOINT set alone (the full URL, used as is)', () => {
    const config = tracingConfigFromEnv(
      { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://collector:4318/custom/traces' },
      'x',
    );
    expect(tracesUrlOf(config)).toBe('http://collector:4318/custom/traces');
    expect(tracesUrlOf(tracingConfigFromEnv(base, 'x'))).toBe('http://collector:4318/v1/traces');
    expect(tracesUrlOf(tracingConfigFromEnv({}, 'x'))).toBeUndefined();
  });

  it("takes the level from the service's own variable only, and never refuses a start for it", () => {
    expect(tracingConfigFromEnv({ LOG_LEVEL: 'error' }, 'crm-sync').logLevel).toBe('error');
    expect(
      tracingConfigFromEnv({ INGEST_LOG_LEVEL: 'warn', LOG_LEVEL: 'debug' }, 'ingest', 'INGEST_LOG_LEVEL')
        .logLevel,
    ).toBe('warn');
    // A shared LOG_LEVEL=INFO (upper case) that the ingest never reads does not stop it; a level tracing does not
    // know is info (the service's own configuration refuses it where the service reads it).
    expect(problemOf({ ...base, LOG_LEVEL: 'INFO' })).toBeUndefined();
    expect(tracingConfigFromEnv({ ...base, LOG_LEVEL: 'loud' }, 'ingest', 'INGEST_LOG_LEVEL').logLevel).toBe(
      'info',
    );
    expect(tracingConfigFromEnv({ LOG_LEVEL: 'loud' }, 'crm-sync').logLevel).toBe('info');
  });

  it('logs export problems once, then at most once a minute with the count in between', () => {
    const { logger, lines } = capturingLogger();
    let now = 0;
    const log = exportProblemLog(logger, 60_000, () => now);
    for (let i = 0; i < 10; i++) log(`export failed ${i}`);
    now = 59_999;
    log('still failing');
    expect(lines).toHaveLength(1);
    now = 60_000;
    log('and again');
    expect(lines.map((l) => [l['msg'], l['otel'], l['suppressed']])).toEqual([
      ['tracing: export problem', 'export failed 0', 0],
      ['tracing: export problem', 'and again', 10],
    ]);
  });

  it("counts the batch processor's dropped spans: a line at once, then at most one a minute with the sums", () => {
    const { logger, lines } = capturingLogger();
    let now = 0;
    const log = droppedSpansLog(logger, 60_000, () => now);
    // The SDK's own text (BatchSpanProcessorBase, when its queue was full).
    expect(log('Dropped 5 spans because maxQueueSize reached')).toBe(true);
    now = 30_000;
    expect(log('Dropped 100 spans because maxQueueSize reached')).toBe(true);
    expect(log('Export failed: ECONNREFUSED')).toBe(false);
    now = 60_000;
    expect(log('Dropped 7 spans because maxQueueSize reached')).toBe(true);
    expect(lines.map((l) => [l['msg'], l['dropped'], l['dropped_total']])).toEqual([
      ['tracing: spans dropped (span queue full)', 5, 5],
      ['tracing: spans dropped (span queue full)', 107, 112],
    ]);
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
      { links: traceLinksOf([{ headers: received }, { headers: received }, { headers: {} }]).links },
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

  it('cuts status messages (code + 200 characters) and long attribute values (1024), logs the endpoint origin only', async () => {
    exporter.spans.length = 0;
    lines.length = 0;
    const tracing = startTracing(
      { otlpEndpoint: 'https://collector.example:4318/tenant/s3cr3t-path', serviceName: 'test' },
      logger,
      exporter,
    );
    const failure = Object.assign(new Error(`invalid input syntax for type uuid: "${'p'.repeat(5000)}"`), {
      code: 'HANDLER_FAILED',
    });
    await expect(
      withSpan(tracer(), 'failing', {}, (span) => {
        span.setAttribute('livechat.big', 'a'.repeat(5000));
        return Promise.reject(failure);
      }),
    ).rejects.toBe(failure);
    // 300 distinct producing spans: 128 links, the other 172 counted.
    const records = Array.from({ length: 300 }, (_, i) => ({
      headers: {
        traceparent: `00-${'1'.repeat(16)}${i.toString(16).padStart(16, '0')}-${'2'.repeat(16)}-01`,
      },
    }));
    const { links, dropped } = traceLinksOf(records);
    expect([links.length, dropped]).toEqual([MAX_TRACE_LINKS, 300 - MAX_TRACE_LINKS]);
    // Many events of one raw record share its span: a span already linked, or already counted, is not counted again.
    const repeated = traceLinksOf([...records, ...records, records[0]!, records[299]!]);
    expect([repeated.links.length, repeated.dropped]).toEqual([MAX_TRACE_LINKS, 300 - MAX_TRACE_LINKS]);
    await tracing.shutdown();
    const failing = exporter.spans.find((s) => s.name === 'failing');
    expect(failing?.status.message).toBe(`HANDLER_FAILED: ${failure.message.slice(0, 200)}…`);
    expect(failing?.attributes['error.type']).toBe('HANDLER_FAILED');
    expect(String(failing?.attributes['livechat.big']).length).toBe(1024);
    const on = lines.find((l) => l['msg'] === 'tracing on');
    expect(on?.['otlp_endpoint']).toBe('https://collector.example:4318');
    expect(JSON.stringify(lines)).not.toContain('s3cr3t');
  });

  it('samples by OTEL_TRACES_SAMPLER: always_off records nothing, a ratio of 0 follows a sampled parent only when parent-based', async () => {
    const recording = async (name: TracesSamplerName, withSampledParent = false) => {
      const tracing = startTracing(
        { otlpEndpoint: undefined, serviceName: 'test', sampler: { name, ratio: 0 } },
        logger,
        exporter,
      );
      // The propagator is installed by startTracing: extract again under it.
      const ctx = withSampledParent
        ? traceContextOf({
            traceparent: Buffer.from('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'),
          })
        : ROOT_CONTEXT;
      const span = tracer().startSpan('sampled?', {}, ctx);
      const result = span.isRecording();
      span.end();
      await tracing.shutdown();
      return result;
    };
    expect(await recording('always_off')).toBe(false);
    expect(await recording('always_on')).toBe(true);
    expect(await recording('traceidratio')).toBe(false);
    expect(await recording('traceidratio', true)).toBe(false);
    expect(await recording('parentbased_traceidratio')).toBe(false);
    expect(await recording('parentbased_traceidratio', true)).toBe(true);
    expect(await recording('parentbased_always_on')).toBe(true);
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
