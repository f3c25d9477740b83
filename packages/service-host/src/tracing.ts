import { context, diag, DiagLogLevel, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, TracerProvider, type SpanExporter } from '@opentelemetry/sdk-trace';
import type { Logger } from 'pino';
import { z } from 'zod';
import { httpUrlVar, nameVar, readEnv, ServiceConfigError } from './env.js';

/**
 * Tracing is on only when `OTEL_EXPORTER_OTLP_ENDPOINT` is set: then the OpenTelemetry SDK is started once per
 * process (W3C trace-context propagation, async-local context, spans batched to `<endpoint>/v1/traces` over
 * OTLP/HTTP JSON). Unset, nothing is started: the API's no-op tracer and propagator stay in place, so spans cost
 * a function call and no `traceparent` header is ever written.
 */
export interface TracingConfig {
  /** `OTEL_EXPORTER_OTLP_ENDPOINT` without trailing slash; undefined = tracing off. */
  readonly otlpEndpoint: string | undefined;
  /** `OTEL_SERVICE_NAME`, default the service's own name. */
  readonly serviceName: string;
}

const tracingEnvSchema = z.object({
  OTEL_EXPORTER_OTLP_ENDPOINT: httpUrlVar().optional(),
  OTEL_SERVICE_NAME: nameVar.optional(),
});

/** The tracing variables of `env`; throws ServiceConfigError naming a bad one. */
export function tracingConfigFromEnv(env: NodeJS.ProcessEnv, service: string): TracingConfig {
  const result = readEnv(tracingEnvSchema, env);
  if (!result.ok)
    throw new ServiceConfigError(`invalid tracing configuration:\n  ${result.problems.join('\n  ')}`);
  return {
    otlpEndpoint: result.data.OTEL_EXPORTER_OTLP_ENDPOINT,
    serviceName: result.data.OTEL_SERVICE_NAME ?? service,
  };
}

export interface Tracing {
  readonly enabled: boolean;
  /** Exports the spans still buffered and stops the SDK (a no-op when tracing is off). */
  shutdown(): Promise<void>;
}

const OFF: Tracing = { enabled: false, shutdown: () => Promise.resolve() };
let started: Tracing | undefined;

/** Whether this process started the SDK (the log mixin adds trace ids only then). */
export function tracingEnabled(): boolean {
  return started?.enabled === true;
}

/**
 * Starts tracing for the process when `config.otlpEndpoint` is set (once: a second call returns the first
 * instance). `exporter` replaces the OTLP exporter in tests. The SDK's own problems (an unreachable collector)
 * are logged as warnings on `logger`, never thrown: tracing must not stop the service.
 */
export function startTracing(config: TracingConfig, logger: Logger, exporter?: SpanExporter): Tracing {
  if (started !== undefined) return started;
  if (config.otlpEndpoint === undefined && exporter === undefined) return OFF;
  diag.setLogger(
    {
      error: (message) => logger.warn({ otel: message }, 'tracing: export problem'),
      warn: (message) => logger.warn({ otel: message }, 'tracing: export problem'),
      info: () => {},
      debug: () => {},
      verbose: () => {},
    },
    DiagLogLevel.WARN,
  );
  const contextManager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(contextManager);
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ 'service.name': config.serviceName }),
    spanProcessors: [
      new BatchSpanProcessor({
        exporter:
          exporter ??
          new OTLPTraceExporter({ url: `${config.otlpEndpoint ?? ''}/v1/traces`, timeoutMillis: 5_000 }),
        scheduledDelayMillis: 500,
      }),
    ],
  });
  trace.setGlobalTracerProvider(provider);
  const tracing: Tracing = {
    enabled: true,
    shutdown: async () => {
      if (started !== tracing) return;
      started = undefined;
      try {
        await provider.shutdown(); // flushes what is buffered
      } finally {
        trace.disable();
        propagation.disable();
        context.disable();
        diag.disable();
      }
    },
  };
  started = tracing;
  logger.info({ otlp_endpoint: config.otlpEndpoint, service_name: config.serviceName }, 'tracing on');
  return tracing;
}

/** Flushes and stops the tracing this process started, if any (stopOnSignals calls it before exiting). */
export function shutdownTracing(): Promise<void> {
  return started === undefined ? Promise.resolve() : started.shutdown();
}

/** pino mixin: `trace_id` and `span_id` of the active span on a line written inside one (tracing on only). */
export function traceLogFields(): Record<string, string> {
  if (started === undefined) return {};
  const spanContext = trace.getActiveSpan()?.spanContext();
  if (spanContext === undefined || !trace.isSpanContextValid(spanContext)) return {};
  return { trace_id: spanContext.traceId, span_id: spanContext.spanId };
}
