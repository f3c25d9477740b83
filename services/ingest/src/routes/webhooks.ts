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

/** `POST /webhooks/livechat` and `POST /webhooks/livechat/:tenant`: parse → authenticate → redact → produce. */
export function registerWebhookRoutes(app: FastifyInstance, ctx: WebhookRouteContext): void {
  const handler = (request: FastifyRequest<WebhookRoute>, reply: FastifyReply) =>
    handleWebhook(ctx, request, reply);
  app.post<WebhookRoute>('/webhooks/livechat', handler);
  app.post<WebhookRoute>('/webhooks/livechat/:tenant', handler);
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

    // 3. redact, 4. produce
    const redactedBody = redactBody(webhook.body);
    const record = buildRawRecord({
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
    await withDeadline(deps.publisher.publish(record, deadlineAt), deadlineAt);
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
