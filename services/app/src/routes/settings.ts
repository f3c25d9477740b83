import { randomBytes } from 'node:crypto';
import type { CrmConnection, Tenant, WebhookRegistration } from '@livechat-pipeline/tenant-registry';
import { mintDashboardLink } from '@livechat-pipeline/dashboard';
import type { FastifyInstance } from 'fastify';
import { canReadChats } from '../archives/jobs.js';
import type { ArchiveWalk } from '../archives/store.js';
import type { AppDeps } from '../deps.js';
import { errorPage, escapeHtml, htmlSecurityHeaders, page } from '../http/html.js';

const fmt = (d: Date | null) =>
  d === null
    ? ''
    : d
        .toISOString()
        .replace('T', ' ')
        .replace(/\.\d{3}Z$/, ' UTC');

function webhooksTable(rows: readonly WebhookRegistration[]): string {
  if (rows.length === 0)
    return '<p id="webhooks-empty">No webhooks are registered yet: they are registered in the background after connecting (reload in a moment). If this stays, an operator can run <code>pnpm livechat webhooks sync</code>.</p>';
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

/** The tenant's HubSpot connection as crm-sync last saw it. */
function crmState(c: CrmConnection | null): { text: string; broken: boolean } {
  if (c === null)
    return { text: 'not set up (an operator sets a token: pnpm livechat hubspot set-token)', broken: false };
  if (c.status === 'broken')
    return {
      text: `broken since ${fmt(c.since)}: HubSpot refused the token; chats wait until a new token is set`,
      broken: true,
    };
  if (c.status === 'paused')
    return {
      text: `paused since ${fmt(c.since)}: HubSpot's daily API limit is reached; it resumes after the reset`,
      broken: false,
    };
  return { text: c.status === 'ok' ? 'connected' : 'token set, not used yet', broken: false };
}

/** The tenant's latest history backfill: in progress (with its progress), done, or failed (why). */
export function backfillState(walk: ArchiveWalk | null, days: number, canRead: boolean): string {
  if (!canRead)
    return 'not possible: the access granted does not include reading chats (chats--all:ro or chats--access:ro); reconnect after the app asks for it';
  if (walk === null)
    return days === 0
      ? 'off (APP_BACKFILL_DAYS=0)'
      : 'not started yet (it starts in the background after connecting)';
  const range = `${fmt(walk.since)} to ${fmt(walk.until)}`;
  const beyond = walk.restricted > 0 ? `, ${walk.restricted} beyond your plan's history` : '';
  if (walk.status === 'done')
    return `done ${fmt(walk.finishedAt)}: ${walk.threads} threads from ${range}${beyond}`;
  if (walk.status === 'failed')
    return `failed ${fmt(walk.finishedAt)} (${walk.errorCode ?? 'unknown'}): ${walk.errorMessage ?? ''}`;
  const estimate =
    walk.foundChats !== null && walk.foundChats > 0
      ? ` of about ${walk.foundChats} (${Math.min(99, Math.floor((walk.threads / walk.foundChats) * 100))}%)`
      : '';
  return `in progress: ${walk.threads} threads${estimate} read from ${range}${beyond}, last page ${fmt(walk.updatedAt)}`;
}

function connected(
  tenant: Tenant,
  tokenState: string,
  rows: readonly WebhookRegistration[],
  crm: CrmConnection | null = null,
  dashboardLink: string | null = null,
  backfill = '',
  backfillFailed = false,
): string {
  const hubspot = crmState(crm);
  const last =
    tenant.lastWebhookAt === null
      ? 'unknown <span class="muted">(none recorded yet: the ingest records it when it accepts a delivery with a registered secret)</span>'
      : escapeHtml(fmt(tenant.lastWebhookAt));
  return `<h1>LiveChat pipeline</h1>
<p>Status: <span id="status" class="status ok">Connected</span></p>
<table><tbody>
<tr><th>Organization</th><td id="organization">${escapeHtml(tenant.organizationId)}</td></tr>
<tr><th>Licence</th><td id="license">${escapeHtml(tenant.licenseId ?? 'unknown (recorded by the install webhook)')}</td></tr>
<tr><th>Connected since</th><td>${escapeHtml(fmt(tenant.installedAt))}</td></tr>
<tr><th>Access</th><td id="token-state">${escapeHtml(tokenState)}</td></tr>
<tr><th>Last webhook</th><td id="last-webhook">${last}</td></tr>
<tr><th>HubSpot</th><td id="crm-state"${hubspot.broken ? ' class="status off"' : ''}>${escapeHtml(hubspot.text)}</td></tr>
<tr><th>History backfill</th><td id="backfill-state"${backfillFailed ? ' class="status off"' : ''}>${escapeHtml(backfill)}</td></tr>
</tbody></table>
<h2>Webhooks</h2>
${webhooksTable(rows)}
<p>${dashboardLink === null ? '' : `<a id="open-dashboard" class="button" href="${escapeHtml(dashboardLink)}" target="_blank" rel="noopener noreferrer">Open the dashboard</a> `}<a id="connect" class="button" href="/app/install" target="_top">Reconnect</a></p>`;
}

function disconnected(reason: string): string {
  return `<h1>LiveChat pipeline</h1>
<p>Status: <span id="status" class="status off">Not connected</span></p>
<p>${escapeHtml(reason)}</p>
<p><a id="connect" class="button" href="/app/install" target="_top">Connect</a></p>`;
}

/**
 * In LiveChat's iframe the page's cookies live in a partition of their own (CHIPS: keyed by LiveChat's site),
 * so a session made at the top level is not visible here. Inside a frame, Connect therefore opens the sign-in
 * in a pop-up (LiveChat's accounts page cannot be framed); when it is done the pop-up posts a one-time code to
 * this frame (same origin only), which trades it for a session cookie of its own partition. At the top level
 * the link simply navigates.
 */
const FRAME_SCRIPT = `(function () {
  var link = document.getElementById('connect');
  if (window.top === window || link === null) return;
  link.addEventListener('click', function (event) {
    event.preventDefault();
    var popup = window.open('/app/install?mode=popup', 'lcp_connect', 'popup,width=520,height=720');
    if (popup === null) window.open(link.href, '_top');
  });
  window.addEventListener('message', function (event) {
    var d = event.data;
    if (event.origin !== window.location.origin || d === null || typeof d !== 'object') return;
    if (d.type !== 'lcp-connected' || typeof d.code !== 'string') return;
    window.location.assign('/app/session/claim?code=' + encodeURIComponent(d.code));
  });
})();`;

/**
 * A signed link to the api's dashboard for this tenant, minted with each render (valid 5 minutes, once). It is put
 * in the page rather than minted by a route on click because inside LiveChat's iframe the app's session cookie is
 * partitioned: a new top-level tab of the app would not carry it.
 */
function dashboardLink(deps: AppDeps, tenant: Tenant): string | null {
  if (deps.config.dashboard === null) return null;
  return mintDashboardLink(
    deps.config.dashboard.url,
    deps.config.dashboard.linkSecret,
    tenant.organizationId,
  );
}

const script = (nonce: string, code: string) => `<script nonce="${nonce}">${code}</script>`;

/**
 * GET /app/settings: the page inside the Agent App. Server-rendered; the tenant comes only from the browser
 * session the OAuth flow set (in this cookie partition); framed only by APP_FRAME_ANCESTORS.
 * GET /app/session/claim?code=: trades a sign-in pop-up's one-time code for a session of this partition.
 */
export function registerSettingsRoute(app: FastifyInstance, deps: AppDeps): void {
  app.get('/app/settings', async (request, reply) => {
    const nonce = randomBytes(16).toString('base64');
    reply.headers(htmlSecurityHeaders(deps.config.frameAncestors, nonce));
    const tenant = await deps.sessions.tenantOf(request);
    if (tenant === null || tenant.status !== 'active') {
      const reason =
        deps.oauth === null
          ? 'This app is not configured with LiveChat credentials yet.'
          : 'Connect this licence to LiveChat pipeline to start receiving chat webhooks.';
      return reply.send(page('LiveChat pipeline', disconnected(reason) + script(nonce, FRAME_SCRIPT)));
    }
    const stored = await deps.registry.getTokens(tenant.id);
    const tokenState =
      stored === null
        ? 'no tokens: reconnect'
        : stored.accessExpiresAt.getTime() > Date.now()
          ? `valid until ${fmt(stored.accessExpiresAt)} (refreshed automatically)`
          : 'expired: refreshing';
    const rows = await deps.registry.liveRegistrations(tenant.clientId);
    const crm = await deps.registry.getCrmConnection(tenant.id);
    const [walk] = await deps.archives.store.recentWalks(tenant.organizationId, 'backfill', 1);
    const canRead = stored === null || canReadChats(stored.scope);
    const backfill = backfillState(walk ?? null, deps.config.archives.backfillDays, canRead);
    return reply.send(
      page(
        'LiveChat pipeline',
        connected(
          tenant,
          tokenState,
          rows,
          crm,
          dashboardLink(deps, tenant),
          backfill,
          walk?.status === 'failed' || !canRead,
        ) + script(nonce, FRAME_SCRIPT),
      ),
    );
  });

  app.get('/app/session/claim', async (request, reply) => {
    reply.headers(htmlSecurityHeaders(deps.config.frameAncestors));
    const code = (request.query as Record<string, unknown>)['code'];
    const tenant = typeof code === 'string' ? await deps.sessions.claim(reply, code) : null;
    if (tenant === null) {
      request.log.info({ code: 'APP_SESSION_HANDOFF_INVALID' }, 'session hand-off refused');
      return reply
        .code(400)
        .send(
          errorPage(
            'This sign-in has expired',
            'The sign-in could not be handed to this page (unknown, used or expired code). Connect again.',
            'APP_SESSION_HANDOFF_INVALID',
          ),
        );
    }
    return reply.redirect('/app/settings', 303);
  });
}

/** The pop-up's last page: hands a one-time code to the settings iframe that opened it, then closes. */
export function handoffPage(code: string, nonce: string): string {
  const body = `<h1>LiveChat pipeline</h1>
<p id="handoff" data-code="${escapeHtml(code)}">Connected. You can close this window.</p>
<p><a class="button" href="/app/settings">Open the settings</a></p>`;
  const js = `(function () {
  var code = document.getElementById('handoff').getAttribute('data-code');
  if (!window.opener) return;
  window.opener.postMessage({ type: 'lcp-connected', code: code }, window.location.origin);
  window.close();
})();`;
  return page('LiveChat pipeline', body + script(nonce, js));
}
