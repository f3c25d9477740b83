import {
  ROOT_CONTEXT,
  SpanKind,
  context,
  propagation,
  trace,
  type Context,
  type Span,
  type SpanContext,
} from '@opentelemetry/api';
import { markSpanFailed, traceHeaders, withSpan } from '@livechat-pipeline/events';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AuthCredentials } from '../auth/verifier.js';
import type { IngestConfig } from '../config.js';
import { withDeadline } from '../deadline.js';
import type { IngestDeps } from '../deps.js';
import { IngestError } from '../errors.js';
import type { IngestMetrics } from '../metrics.js';
import { buildRawRecord } from '../raw-record.js';
import { redactBody } from '../redact.js';
import { parseTenantLabel, resolveTenant } from '../tenant.js';
import { tenantMetricLabel } from '../tenant-metric.js';
import { classifyWebhook } from '../webhook.js';

export interface WebhookRouteContext {
  readonly config: IngestConfig;
  readonly deps: IngestDeps;
  readonly metrics: IngestMetrics;
}

interface WebhookRoute {
  Params: { tenant?: string };
  Body: unknown;
}

const tracer = trace.getTracer('@livechat-pipeline/ingest');

/**
 * One SERVER span per request to a webhook route, from `onRequest` to `onResponse`, so a request the body parser
 * refuses (400, 413, 415) has one too. The sender is not authenticated when the span starts, so by default its
 * `traceparent` is only a link, added once it is authenticated: the span starts a trace of its own (recorded or not by our sampler, never by the
 * sender's flags). INGEST_TRUST_TRACEPARENT=true (a trusted proxy in front) makes it the parent instead.
 */
const spans = new WeakMap<
  FastifyRequest,
  { span: Span; error?: unknown; callerLink?: SpanContext | undefined }
>();

/**
 * Links the request's span to the sender's `traceparent` (when it sent a valid one) once the sender is
 * authenticated: an unauthenticated request (401, a parser's refusal) never carries a link a sender chose.
 */
function linkAuthenticatedCaller(request: FastifyRequest): void {
  const entry = spans.get(request);
  if (entry?.callerLink === undefined) return;
  entry.span.addLink({ context: entry.callerLink });
  entry.callerLink = undefined;
}

/**
 * The context of a webhook request's server span (ROOT_CONTEXT when it has none: tracing off, another route), for
 * code Fastify runs outside the handler's context: the error handler's `request failed` / `request refused` lines
 * are written inside it, so they carry the request's trace ids.
 */
export function requestTraceContext(request: FastifyRequest): Context {
  const entry = spans.get(request);
  return entry === undefined ? ROOT_CONTEXT : trace.setSpan(ROOT_CONTEXT, entry.span);
}

function serverSpanHooks(config: IngestConfig) {
  const end = (request: FastifyRequest, reply: FastifyReply) => {
    const entry = spans.get(request);
    if (entry === undefined) return;
    spans.delete(request);
    const status = reply.statusCode;
    entry.span.setAttribute('http.response.status_code', status);
    // Semantic conventions: a server span is an error only for a 5xx; a sender's 4xx is the sender's problem.
    if (status >= 500) markSpanFailed(entry.span, entry.error ?? `HTTP ${status}`);
    entry.span.end();
  };
  return {
    onRequest: (request: FastifyRequest, _reply: FastifyReply, done: () => void) => {
      const route = request.routeOptions.url ?? '/webhooks/livechat';
      const callerContext = propagation.extract(ROOT_CONTEXT, request.headers);
      const caller = trace.getSpanContext(callerContext);
      const validCaller = caller !== undefined && trace.isSpanContextValid(caller) ? caller : undefined;
      const trusted = config.http.trustTraceparent;
      const span = tracer.startSpan(
        `POST ${route}`,
        {
          kind: SpanKind.SERVER,
          attributes: { 'http.request.method': 'POST', 'http.route': route },
        },
        trusted ? callerContext : ROOT_CONTEXT,
      );
      spans.set(request, { span, callerLink: trusted ? undefined : validCaller });
      done();
    },
    onError: (request: FastifyRequest, _reply: FastifyReply, error: unknown, done: () => void) => {
      const entry = spans.get(request);
      if (entry !== undefined) {
        entry.error = error;
        const code = (error as { code?: unknown }).code;
        if (typeof code === 'string') entry.span.setAttribute('error.type', code);
      }
      done();
    },
    onResponse: (request: FastifyRequest, reply: FastifyReply, done: () => void) => {
      end(request, reply);
      done();
    },
    onRequestAbort: (request: FastifyRequest, done: () => void) => {
      const entry = spans.get(request);
      if (entry !== undefined) {
        spans.delete(request);
        entry.span.setAttribute('livechat.request_aborted', true);
        entry.span.end();
      }
      done();
    },
    /** The request's span as the active context (ROOT_CONTEXT when there is none, e.g. tracing off). */
    contextOf: requestTraceContext,
    spanOf: (request: FastifyRequest) => spans.get(request)?.span,
  };
}

/**
 * `POST /webhooks/livechat` and `POST /webhooks/livechat/:tenant`: parse → authenticate → redact → seal (privacy
 * on) → produce.
 */
export function registerWebhookRoutes(app: FastifyInstance, ctx: WebhookRouteContext): void {
  const hooks = serverSpanHooks(ctx.config);
  const handler = (request: FastifyRequest<WebhookRoute>, reply: FastifyReply) =>
    context.with(hooks.contextOf(request), async () => {
      const answer = await handleWebhook(ctx, request, reply);
      hooks.spanOf(request)?.setAttribute('livechat.event_id', answer.event_id);
      return answer;
    });
  const options = {
    onRequest: hooks.onRequest,
    onError: hooks.onError,
    onResponse: hooks.onResponse,
    onRequestAbort: hooks.onRequestAbort,
  };
  app.post<WebhookRoute>('/webhooks/livechat', options, handler);
  app.post<WebhookRoute>('/webhooks/livechat/:tenant', options, handler);
}

async function handleWebhook(
  ctx: WebhookRouteContext,
  request: FastifyRequest<WebhookRoute>,
  reply: FastifyReply,
): Promise<{ status: 'stored'; event_id: string }> {
  const { config, deps, metrics } = ctx;
  const deadlineAt = performance.now() - reply.elapsedTime + config.http.requestDeadlineMs;
  const receivedAtMicros = deps.clockMicros?.() ?? Date.now() * 1000;
  metrics.inFlightRequests.inc();
  try {
    // 1. parse / validate (the body is already parsed by the JSON parser)
    const pathTenant = parseTenantLabel(request.params.tenant);
    const webhook = classifyWebhook(request.body);

    // 2. one tenant per delivery, then authenticate against that tenant's credentials only
    let tenant;
    try {
      tenant = resolveTenant(webhook.bodyTenant, pathTenant);
    } catch (err) {
      metrics.authFailures.inc({ format: webhook.format, reason: 'tenant_mismatch' });
      request.log.warn(
        {
          format: webhook.format,
          action: forLog(webhook.action),
          tenant: webhook.bodyTenant,
          path_tenant: pathTenant,
          reason: 'tenant_mismatch',
        },
        'webhook authentication failed',
      );
      throw err;
    }
    const credentials: AuthCredentials =
      webhook.format === 'v3'
        ? { format: 'v3', secretKey: webhook.secretKey }
        : { format: 'v2', authorization: request.headers.authorization };
    // A registry look-up (a miss) is under the request's deadline too: a hung Postgres answers 503, never hangs.
    const result = await withDeadline(
      Promise.resolve(deps.verifier.verify(credentials, { tenant: tenant.tenant, action: webhook.action })),
      deadlineAt,
      'the tenant registry did not answer before the request deadline',
    );
    if (!result.ok) {
      metrics.authFailures.inc({ format: webhook.format, reason: result.reason });
      request.log.warn(
        {
          format: webhook.format,
          action: forLog(webhook.action),
          tenant: forLog(tenant.tenant),
          reason: result.reason,
        },
        'webhook authentication failed',
      );
      throw new IngestError(
        'INGEST_UNAUTHENTICATED',
        webhook.format === 'v3'
          ? 'the secret_key is missing or not accepted'
          : 'HTTP Basic credentials are missing, malformed or not accepted',
        { details: { reason: result.reason } },
      );
    }

    linkAuthenticatedCaller(request);

    // 3. redact, 4. seal (privacy on), 5. produce
    const redactedBody = redactBody(webhook.body);
    const plain = buildRawRecord({
      webhook,
      redactedBody,
      tenant,
      receivedAtMicros,
      request: {
        contentLength: parseContentLength(request.headers['content-length']),
        userAgent: request.headers['user-agent'] ?? null,
        remoteAddress: request.ip ?? null,
      },
    });
    // Sealed before it is published, so neither Kafka nor the spool ever holds the body in clear.
    const record =
      deps.sealer === undefined
        ? plain
        : await withDeadline(deps.sealer.seal(plain, redactedBody), deadlineAt).catch((err: unknown) => {
            // A key store too slow for the deadline is a key store unavailable: the same code and 503, and it is
            // counted (the sealer counts only look-ups that fail, and a slow one may succeed late).
            if (!(err instanceof IngestError && err.code === 'INGEST_DEADLINE_EXCEEDED')) throw err;
            metrics.privacy.sealFailures.inc({ code: 'DEADLINE_EXCEEDED' });
            throw new IngestError(
              'INGEST_PRIVACY_KEY_UNAVAILABLE',
              'the privacy key store did not answer before the request deadline; nothing was written, retry',
            );
          });
    // The producer span's context travels in the record's headers (`traceparent`), spooled or not.
    await withSpan(
      tracer,
      `${config.rawTopic.name} publish`,
      { kind: SpanKind.PRODUCER, attributes: { 'messaging.destination.name': config.rawTopic.name } },
      () => {
        const headers = traceHeaders();
        return withDeadline(
          deps.publisher.publish(headers === undefined ? record : { ...record, headers }, deadlineAt),
          deadlineAt,
        );
      },
    );
    metrics.webhooksAccepted.inc({ format: webhook.format });
    metrics.tenantWebhooks.inc({ tenant: tenantMetricLabel(tenant.tenant, deps.isRegisteredTenant) });
    request.log.info(
      {
        event_id: record.value.event_id,
        format: webhook.format,
        action: forLog(webhook.action),
        tenant: forLog(record.value.tenant),
      },
      'webhook stored',
    );
    return { status: 'stored', event_id: record.value.event_id };
  } finally {
    metrics.inFlightRequests.dec();
  }
}

function parseContentLength(value: string | undefined): number | null {
  if (value === undefined || !/^\d+$/.test(value)) return null;
  return Number(value);
}

/** The longest value from a body that goes into a log line (ids and actions are validated shorter already). */
const LOG_FIELD_MAX = 200;

/** A body-derived log field, truncated: a hostile body never makes a long log line. */
function forLog(value: string | null): string | null {
  return value === null || value.length <= LOG_FIELD_MAX ? value : `${value.slice(0, LOG_FIELD_MAX)}…`;
}
