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

/**
 * The bytes a record's headers add on the wire (names and values, plus about 2 bytes of Kafka's varint lengths
 * each); 0 without headers. For send budgets that must stay under a topic's max.message.bytes.
 */
export function headerBytes(headers: Readonly<IHeaders> | undefined): number {
  if (headers === undefined) return 0;
  let bytes = 0;
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    for (const one of Array.isArray(value) ? value : [value])
      bytes += Buffer.byteLength(name) + (typeof one === 'string' ? Buffer.byteLength(one) : one.length) + 2;
  }
  return bytes;
}

/** At most this many links per batch span (the SDK keeps 128 by default and would drop the rest anyway). */
export const MAX_TRACE_LINKS = 128;

/**
 * Links to the records' producing spans (one per record that carries one, duplicates dropped), for a batch span:
 * at most `max`; `dropped` counts the distinct producing spans after that which were not linked (many events of one
 * raw record share one span: counted once). Their `traceparent` is not parsed, only compared as text: a batch of
 * thousands costs 128 extractions, not thousands. Put it on the span as `livechat.links_dropped`.
 */
export function traceLinksOf(
  records: readonly { readonly headers?: IHeaders | undefined }[],
  max = MAX_TRACE_LINKS,
): { links: Link[]; dropped: number } {
  const seen = new Set<string>();
  const links: Link[] = [];
  let dropped = 0;
  for (const record of records) {
    if (links.length >= max) {
      const header = record.headers?.[TRACE_HEADERS.traceparent];
      const text = Array.isArray(header) ? header[0] : header;
      if (text === undefined) continue;
      // `00-<trace id>-<span id>-<flags>`: the ids as the linked ones are keyed (lower case per the spec).
      const [, traceId, spanId] = text.toString('utf8').split('-');
      const id = `${traceId}-${spanId}`;
      if (seen.has(id)) continue;
      seen.add(id);
      dropped++;
      continue;
    }
    const spanContext = spanContextOf(record.headers);
    if (spanContext === undefined) continue;
    const id = `${spanContext.traceId}-${spanContext.spanId}`;
    if (seen.has(id)) continue;
    seen.add(id);
    links.push({ context: spanContext });
  }
  return { links, dropped };
}

/**
 * Runs `fn` inside a new active span of `tracer` (child of `parent`, default the active context) and ends it when
 * `fn` settles; a throw marks the span as an error (markSpanFailed: the error's code and a bounded message) and is rethrown.
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

/** At most this many characters of an error's message go into a span's status (never a payload). */
export const SPAN_STATUS_MESSAGE_MAX_CHARS = 200;

/**
 * A span status message for `error`: its code (when it has one) and at most SPAN_STATUS_MESSAGE_MAX_CHARS of its
 * message. Error texts can quote data (a pg error quotes the value it refused): the cut keeps that bounded, as the
 * log lines and dead letters do.
 */
export function describeSpanError(error: unknown): string {
  const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
  const message = error instanceof Error ? error.message : String(error);
  const cut =
    message.length > SPAN_STATUS_MESSAGE_MAX_CHARS
      ? `${message.slice(0, SPAN_STATUS_MESSAGE_MAX_CHARS)}…`
      : message;
  return typeof code === 'string' || typeof code === 'number' ? `${String(code)}: ${cut}` : cut;
}

/** Marks `span` as failed: status ERROR with describeSpanError's text, `error.type` = the error's code. */
export function markSpanFailed(span: Span, error: unknown): void {
  const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
  span.setStatus({ code: SpanStatusCode.ERROR, message: describeSpanError(error) });
  if (typeof code === 'string') span.setAttribute('error.type', code);
}
