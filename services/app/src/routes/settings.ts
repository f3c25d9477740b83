import type { Tenant, WebhookRegistration } from '@livechat-pipeline/tenant-registry';
import type { FastifyInstance } from 'fastify';
import type { AppDeps } from '../deps.js';
import { escapeHtml, page } from '../http/html.js';

const fmt = (d: Date | null) =>
  d === null
    ? ''
    : d
        .toISOString()
        .replace('T', ' ')
        .replace(/\.\d{3}Z$/, ' UTC');

function webhooksTable(rows: readonly WebhookRegistration[]): string {
  if (rows.length === 0) return '<p id="webhooks-empty">No webhooks are registered yet.</p>';
  const body = rows
    .map(
      (r) =>
        `<tr data-webhook-id="${escapeHtml(r.id)}"><td>${escapeHtml(r.action)}</td><td><code>${escapeHtml(r.url)}</code></td><td>${escapeHtml(fmt(r.createdAt))}</td><td>${r.status === 'retiring' ? 'being replaced' : 'active'}</td></tr>`,
    )
    .join('\n');
  return `<table id="webhooks"><thead><tr><th>Action</th><th>URL</th><th>Since</th><th>State</th></tr></thead><tbody>
${body}
</tbody></table>`;
}

function connected(
  tenant: Tenant,
  tokenState: string,
  rows: readonly WebhookRegistration[],
  notice: string,
): string {
  const last =
    tenant.lastWebhookAt === null
      ? 'unknown <span class="muted">(none recorded yet: the ingest records it when it accepts a delivery with a registered secret)</span>'
      : escapeHtml(fmt(tenant.lastWebhookAt));
  return `<h1>LiveChat pipeline</h1>
<p>Status: <span id="status" class="status ok">Connected</span></p>
${notice}
<table><tbody>
<tr><th>Organization</th><td id="organization">${escapeHtml(tenant.organizationId)}</td></tr>
<tr><th>Licence</th><td id="license">${escapeHtml(tenant.licenseId ?? 'unknown (recorded by the install webhook)')}</td></tr>
<tr><th>Connected since</th><td>${escapeHtml(fmt(tenant.installedAt))}</td></tr>
<tr><th>Access</th><td id="token-state">${escapeHtml(tokenState)}</td></tr>
<tr><th>Last webhook</th><td id="last-webhook">${last}</td></tr>
</tbody></table>
<h2>Webhooks</h2>
${webhooksTable(rows)}
<p><a id="connect" class="button" href="/app/install" target="_top">Reconnect</a></p>`;
}

function disconnected(reason: string): string {
  return `<h1>LiveChat pipeline</h1>
<p>Status: <span id="status" class="status off">Not connected</span></p>
<p>${escapeHtml(reason)}</p>
<p><a id="connect" class="button" href="/app/install" target="_top">Connect</a></p>`;
}

/**
 * GET /app/settings: the page inside the Agent App. Server-rendered; the tenant comes only from the browser
 * session the OAuth flow set; framed only by APP_FRAME_ANCESTORS.
 */
export function registerSettingsRoute(app: FastifyInstance, deps: AppDeps): void {
  const csp = [
    "default-src 'none'",
    "style-src 'unsafe-inline'",
    "img-src 'self'",
    "base-uri 'none'",
    "form-action 'self'",
    `frame-ancestors ${deps.config.frameAncestors.join(' ')}`,
  ].join('; ');
  app.get('/app/settings', async (request, reply) => {
    reply
      .header('content-security-policy', csp)
      .header('cache-control', 'no-store')
      .header('referrer-policy', 'no-referrer')
      .header('x-content-type-options', 'nosniff');
    reply.type('text/html; charset=utf-8');
    const tenant = await deps.sessions.tenantOf(request);
    if (tenant === null || tenant.status !== 'active') {
      const reason =
        deps.oauth === null
          ? 'This app is not configured with LiveChat credentials yet.'
          : 'Connect this licence to LiveChat pipeline to start receiving chat webhooks.';
      return reply.send(page('LiveChat pipeline', disconnected(reason)));
    }
    const stored = await deps.registry.getTokens(tenant.id);
    const tokenState =
      stored === null
        ? 'no tokens: reconnect'
        : stored.accessExpiresAt.getTime() > Date.now()
          ? `valid until ${fmt(stored.accessExpiresAt)} (refreshed automatically)`
          : 'expired: refreshing';
    const rows = await deps.registry.liveRegistrations(tenant.clientId);
    const notice =
      (request.query as Record<string, unknown>)['notice'] === 'sync_failed'
        ? '<p id="notice" class="status off">Connected, but registering the webhooks failed; it is retried at the next connect or by an operator (pnpm livechat webhooks sync).</p>'
        : '';
    return reply.send(page('LiveChat pipeline', connected(tenant, tokenState, rows, notice)));
  });
}
