import { ROOT_CONTEXT, SpanStatusCode, context, propagation, trace } from '@opentelemetry/api';
import type {
  Context,
  Link,
  Span,
  SpanContext,
  SpanOptions,
  TextMapGetter,
  Tracer,
} from '@opentelemetry/api';
import type { IHeaders } from 'kafkajs';

/**
 * The trace context of a Kafka record travels in its headers as W3C Trace Context (`traceparent`, and `tracestate`
 * when there is one): part of the wire contract, so every producer and consumer reads and writes them the same way.
 * These helpers go through the OpenTelemetry API's global propagator: with tracing off (no SDK started, see
 * service-host's startTracing) the propagator is a no-op, so no header is added and nothing is extracted.
 */
export const TRACE_HEADERS = { traceparent: 'traceparent', tracestate: 'tracestate' } as const;

/**
 * The trace headers of `ctx` (default: the active context) for a record to be produced, or undefined when there is
 * nothing to propagate (tracing off, or no span in the context).
 */
export function traceHeaders(ctx: Context = context.active()): Record<string, string> | undefined {
  const carrier: Record<string, string> = {};
  propagation.inject(ctx, carrier);
  return carrier[TRACE_HEADERS.traceparent] === undefined ? undefined : carrier;
}

const kafkaHeaderGetter: TextMapGetter<IHeaders | undefined> = {
  keys: (carrier) => Object.keys(carrier ?? {}),
  get: (carrier, key) => {
    const value = carrier?.[key];
    const first = Array.isArray(value) ? value[0] : value;
    return first === undefined ? undefined : first.toString('utf8');
  },
};

/** The context a record's headers carry (ROOT_CONTEXT plus the remote span, when they carry a valid one). */
export function traceContextOf(headers: IHeaders | undefined): Context {
  return propagation.extract(ROOT_CONTEXT, headers, kafkaHeaderGetter);
}

/** The remote span context a record's headers carry, or undefined (no or malformed `traceparent`, tracing off). */
export function spanContextOf(headers: IHeaders | undefined): SpanContext | undefined {
  const spanContext = trace.getSpanContext(traceContextOf(headers));
  return spanContext !== undefined && trace.isSpanContextValid(spanContext) ? spanContext : undefined;
}

/** Links to the records' producing spans (one per record that carries one, duplicates dropped), for a batch span. */
export function traceLinksOf(records: readonly { readonly headers?: IHeaders | undefined }[]): Link[] {
  const seen = new Set<string>();
  const links: Link[] = [];
  for (const record of records) {
    const spanContext = spanContextOf(record.headers);
    if (spanContext === undefined) continue;
    const id = `${spanContext.traceId}-${spanContext.spanId}`;
    if (seen.has(id)) continue;
    seen.add(id);
    links.push({ context: spanContext });
  }
  return links;
}

/**
 * Runs `fn` inside a new active span of `tracer` (child of `parent`, default the active context) and ends it when
 * `fn` settles; a throw marks the span as an error (the error's code and message, never data) and is rethrown.
 */
export async function withSpan<T>(
  tracer: Tracer,
  name: string,
  options: SpanOptions,
  fn: (span: Span) => Promise<T>,
  parent: Context = context.active(),
): Promise<T> {
  return tracer.startActiveSpan(name, options, parent, async (span) => {
    try {
      return await fn(span);
    } catch (error) {
      markSpanFailed(span, error);
      throw error;
    } finally {
      span.end();
    }
  });
}

/** Marks `span` as failed with the error's code (when it has one) and message. */
export function markSpanFailed(span: Span, error: unknown): void {
  const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
  span.setStatus({
    code: SpanStatusCode.ERROR,
    message: error instanceof Error ? error.message : String(error),
  });
  if (typeof code === 'string') span.setAttribute('error.type', code);
}
