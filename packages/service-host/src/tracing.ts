import { context, diag, DiagLogLevel, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  TracerProvider,
  type Sampler,
  type SpanExporter,
} from '@opentelemetry/sdk-trace';
import { accessSync, constants } from 'node:fs';
import type { Logger } from 'pino';
import { z } from 'zod';
import { LOG_LEVELS, httpUrlVar, nameVar, readEnv, ServiceConfigError, type LogLevel } from './env.js';

/**
 * Tracing is on only when `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set: then the
 * OpenTelemetry SDK is started once per process (W3C trace-context propagation, async-local context, spans sampled
 * by `OTEL_TRACES_SAMPLER` and batched to `<endpoint>/v1/traces` over OTLP/HTTP JSON). Unset, nothing is started:
 * the API's no-op tracer and propagator stay in place, so spans cost a function call and no `traceparent` header
 * is ever written.
 */
export interface TracingConfig {
  /** `OTEL_EXPORTER_OTLP_ENDPOINT` without trailing slash (spans go to `<it>/v1/traces`); undefined = not set. */
  readonly otlpEndpoint: string | undefined;
  /** `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`: the full URL spans are sent to, used as is (wins over otlpEndpoint). */
  readonly tracesEndpoint?: string | undefined;
  /** `OTEL_SERVICE_NAME`, default the service's own name. */
  readonly serviceName: string;
  /** `OTEL_TRACES_SAMPLER` (default parentbased_always_on) and its ratio `OTEL_TRACES_SAMPLER_ARG` (default 1). */
  readonly sampler?: { readonly name: TracesSamplerName; readonly ratio: number };
  /** The level of tracing's own log lines: the service's own level variable (unknown or unset: info). */
  readonly logLevel?: LogLevel;
  /** Variables set but ignored (a warn line each at start), e.g. a sampler ratio with a sampler that takes none. */
  readonly ignored?: readonly string[];
}

export const TRACES_SAMPLERS = [
  'always_on',
  'always_off',
  'traceidratio',
  'parentbased_always_on',
  'parentbased_always_off',
  'parentbased_traceidratio',
] as const;
export type TracesSamplerName = (typeof TRACES_SAMPLERS)[number];

/** An OTLP endpoint: an http(s) URL without credentials (they would end up in log lines; use the headers). */
const otlpUrlVar = () =>
  httpUrlVar().refine((u) => {
    const url = new URL(u);
    return url.username === '' && url.password === '';
  }, 'must not contain credentials (user:password@); put them in OTEL_EXPORTER_OTLP_HEADERS');

/** A file the exporter reads at start (a CA, a client certificate or key): it must be readable, or the start stops. */
const readableFileVar = () =>
  z
    .string()
    .trim()
    .refine((path) => {
      try {
        accessSync(path, constants.R_OK);
        return true;
      } catch {
        return false;
      }
    }, 'must be a readable file');

const headersVar = () =>
  z
    .string()
    .regex(/^\s*[^=,\s]+\s*=[^,]*(,\s*[^=,\s]+\s*=[^,]*)*$/, 'must be key=value pairs separated by commas');
const compressionVar = () => z.enum(['gzip', 'none'], { message: 'must be gzip or none' });
/** Only OTLP over HTTP with JSON is exported (the exporter in use); grpc or protobuf would send JSON to the wrong port. */
const protocolVar = () =>
  z.enum(['http/json'], { message: 'must be http/json (the only protocol this exporter speaks)' });

const endpointEnvSchema = z.object({
  OTEL_SDK_DISABLED: z
    .enum(['true', 'false'], { message: 'must be true or false' })
    .transform((v) => v === 'true')
    .optional(),
  OTEL_EXPORTER_OTLP_ENDPOINT: otlpUrlVar().optional(),
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: otlpUrlVar().optional(),
});

/** Checked only when tracing is on: a service with tracing off never reads them. */
const tracingEnvSchema = z.object({
  OTEL_SERVICE_NAME: nameVar.optional(),
  OTEL_TRACES_SAMPLER: z
    .enum(TRACES_SAMPLERS, { message: `must be one of ${TRACES_SAMPLERS.join(', ')}` })
    .default('parentbased_always_on'),
  // Read by the OTLP exporter itself; checked here so a typo stops the start instead of being ignored.
  OTEL_EXPORTER_OTLP_COMPRESSION: compressionVar().optional(),
  OTEL_EXPORTER_OTLP_TRACES_COMPRESSION: compressionVar().optional(),
  OTEL_EXPORTER_OTLP_HEADERS: headersVar().optional(),
  OTEL_EXPORTER_OTLP_TRACES_HEADERS: headersVar().optional(),
  OTEL_EXPORTER_OTLP_PROTOCOL: protocolVar().optional(),
  OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: protocolVar().optional(),
  OTEL_EXPORTER_OTLP_CERTIFICATE: readableFileVar().optional(),
  OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE: readableFileVar().optional(),
  OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE: readableFileVar().optional(),
  OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE: readableFileVar().optional(),
  OTEL_EXPORTER_OTLP_CLIENT_KEY: readableFileVar().optional(),
  OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY: readableFileVar().optional(),
});

const samplerArgSchema = z.object({
  OTEL_TRACES_SAMPLER_ARG: z
    .string()
    .trim()
    .regex(/^(0(\.\d+)?|1(\.0+)?|\.\d+)$/, 'must be a ratio between 0 and 1 (e.g. 0.1)')
    .transform(Number)
    .optional(),
});

function refuse(problems: readonly string[]): never {
  throw new ServiceConfigError(`invalid tracing configuration:\n  ${problems.join('\n  ')}`);
}

/**
 * The level of tracing's own lines: the service's own level variable (`logLevelVariable`, default LOG_LEVEL), read
 * leniently. The service's configuration validates it (or does not read it at all): tracing never stops a start
 * for it, and a value it does not know is `info`.
 */
function tracingLogLevel(env: NodeJS.ProcessEnv, logLevelVariable: string): LogLevel {
  const value = env[logLevelVariable]?.trim();
  return LOG_LEVELS.find((level) => level === value) ?? 'info';
}

/**
 * The tracing variables of `env`; throws ServiceConfigError naming a bad one (never its value: it may be secret).
 * Only the endpoints (and OTEL_SDK_DISABLED) are read while tracing is off; the rest is checked once it is on.
 */
export function tracingConfigFromEnv(
  env: NodeJS.ProcessEnv,
  service: string,
  logLevelVariable = 'LOG_LEVEL',
): TracingConfig {
  const logLevel = tracingLogLevel(env, logLevelVariable);
  const endpoints = readEnv(endpointEnvSchema, env);
  if (!endpoints.ok) refuse(endpoints.problems);
  const { OTEL_SDK_DISABLED, OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT } =
    endpoints.data;
  const off = { otlpEndpoint: undefined, serviceName: service, logLevel };
  if (OTEL_SDK_DISABLED === true) return off;
  if (OTEL_EXPORTER_OTLP_ENDPOINT === undefined && OTEL_EXPORTER_OTLP_TRACES_ENDPOINT === undefined)
    return off;

  const result = readEnv(tracingEnvSchema, env);
  if (!result.ok) refuse(result.problems);
  const e = result.data;
  const ignored: string[] = [];
  let ratio = 1;
  if (e.OTEL_TRACES_SAMPLER.endsWith('traceidratio')) {
    const arg = readEnv(samplerArgSchema, env);
    if (!arg.ok) refuse(arg.problems);
    ratio = arg.data.OTEL_TRACES_SAMPLER_ARG ?? 1;
  } else if (env['OTEL_TRACES_SAMPLER_ARG'] !== undefined && env['OTEL_TRACES_SAMPLER_ARG'].trim() !== '') {
    // The spec says to ignore it (an operator may inject it for every service): a warn line, not a refusal.
    ignored.push(`OTEL_TRACES_SAMPLER_ARG (OTEL_TRACES_SAMPLER=${e.OTEL_TRACES_SAMPLER} takes no ratio)`);
  }
  return {
    otlpEndpoint: OTEL_EXPORTER_OTLP_ENDPOINT,
    ...(OTEL_EXPORTER_OTLP_TRACES_ENDPOINT === undefined
      ? {}
      : { tracesEndpoint: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT }),
    serviceName: e.OTEL_SERVICE_NAME ?? service,
    sampler: { name: e.OTEL_TRACES_SAMPLER, ratio },
    logLevel,
    ...(ignored.length === 0 ? {} : { ignored }),
  };
}

function samplerOf(config: TracingConfig): Sampler {
  const { name, ratio } = config.sampler ?? { name: 'parentbased_always_on', ratio: 1 };
  switch (name) {
    case 'always_on':
      return new AlwaysOnSampler();
    case 'always_off':
      return new AlwaysOffSampler();
    case 'traceidratio':
      return new TraceIdRatioBasedSampler(ratio);
    case 'parentbased_always_on':
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(ratio) });
  }
}

/** The URL spans are sent to, or undefined (tracing off). */
export function tracesUrlOf(config: TracingConfig): string | undefined {
  if (config.tracesEndpoint !== undefined) return config.tracesEndpoint;
  return config.otlpEndpoint === undefined ? undefined : `${config.otlpEndpoint}/v1/traces`;
}

/** How often, at most, an export problem (a collector down) is logged; the ones in between are counted. */
export const EXPORT_PROBLEM_LOG_INTERVAL_MS = 60_000;

/**
 * A warn line for the SDK's export problems: the first at once, then at most one per `intervalMs` with the number
 * of problems not logged since (`suppressed`), so a collector that is down does not write a line per export.
 */
export function exportProblemLog(
  logger: Logger,
  intervalMs = EXPORT_PROBLEM_LOG_INTERVAL_MS,
  now: () => number = () => performance.now(),
): (message: string) => void {
  let lastAt: number | undefined;
  let suppressed = 0;
  return (message) => {
    const at = now();
    if (lastAt !== undefined && at - lastAt < intervalMs) {
      suppressed++;
      return;
    }
    logger.warn({ otel: message.slice(0, 500), suppressed }, 'tracing: export problem');
    lastAt = at;
    suppressed = 0;
  };
}

/** The batch span processor's warning when its queue (2,048 spans) was full: spans were dropped, not exported. */
const DROPPED_SPANS = /^Dropped (\d+) spans because maxQueueSize reached/;

/**
 * A warn line for spans dropped on a full queue (more spans than the exporter sends): the first at once, then at
 * most one per `intervalMs`, each with the spans dropped since the last line (`dropped`) and since start
 * (`dropped_total`), so a sustained overload is visible with its size. Returns false for any other message.
 */
export function droppedSpansLog(
  logger: Logger,
  intervalMs = EXPORT_PROBLEM_LOG_INTERVAL_MS,
  now: () => number = () => performance.now(),
): (message: string) => boolean {
  let lastAt: number | undefined;
  let dropped = 0;
  let total = 0;
  return (message) => {
    const match = DROPPED_SPANS.exec(message);
    if (match === null) return false;
    const count = Number(match[1]);
    dropped += count;
    total += count;
    const at = now();
    if (lastAt !== undefined && at - lastAt < intervalMs) return true;
    logger.warn({ dropped, dropped_total: total }, 'tracing: spans dropped (span queue full)');
    lastAt = at;
    dropped = 0;
    return true;
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

/** Span attribute values are cut at this many characters (the SDK's default is no limit). */
export const SPAN_ATTRIBUTE_MAX_CHARS = 1024;

/**
 * Starts tracing for the process when `config.otlpEndpoint` (or `tracesEndpoint`) is set (once: a second call returns the first
 * instance). `exporter` replaces the OTLP exporter in tests. The SDK's own problems (an unreachable collector)
 * are logged as warnings on `logger`, never thrown: tracing must not stop the service.
 */
export function startTracing(config: TracingConfig, logger: Logger, exporter?: SpanExporter): Tracing {
  if (started !== undefined) return started;
  if (tracesUrlOf(config) === undefined && exporter === undefined) return OFF;
  const exportProblem = exportProblemLog(logger);
  const droppedSpans = droppedSpansLog(logger);
  diag.setLogger(
    {
      error: (message) => exportProblem(message),
      warn: (message) => {
        if (!droppedSpans(message)) exportProblem(message);
      },
      info: () => {},
      debug: () => {},
      verbose: () => {},
    },
    DiagLogLevel.WARN,
  );
  const contextManager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(contextManager);
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  const tracesUrl = tracesUrlOf(config);
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ 'service.name': config.serviceName }),
    sampler: samplerOf(config),
    // An attribute is never a payload: long values (an error text quoting data) are cut.
    spanLimits: { attributeValueLengthLimit: SPAN_ATTRIBUTE_MAX_CHARS },
    spanProcessors: [
      new BatchSpanProcessor({
        exporter: exporter ?? new OTLPTraceExporter({ url: tracesUrl ?? '', timeoutMillis: 5_000 }),
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
  // The collector's origin only: a path or query could carry a token (credentials in the URL are refused).
  logger.info(
    {
      otlp_endpoint: tracesUrl === undefined ? undefined : new URL(tracesUrl).origin,
      service_name: config.serviceName,
      sampler: config.sampler?.name ?? 'parentbased_always_on',
    },
    'tracing on',
  );
  for (const variable of config.ignored ?? []) logger.warn({ variable }, 'tracing: variable ignored');
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
