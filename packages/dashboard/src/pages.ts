/**
 * The dashboard's server-rendered pages. They hold no inline script or style (the api serves them with a CSP of
 * `script-src 'self'; style-src 'self'`): the behaviour is the bundled app.js, the look app.css.
 */
export interface AssetNames {
  readonly js: string;
  readonly css: string;
  readonly icon: string;
}

export function escapeHtml(s: string): string {
  return s.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c,
  );
}

/** The Content-Security-Policy of every dashboard page. */
export const DASHBOARD_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

function layout(assets: AssetNames, title: string, body: string, withScript: boolean): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<link rel="icon" href="/dashboard/assets/${assets.icon}" type="image/svg+xml">
<link rel="stylesheet" href="/dashboard/assets/${assets.css}">
${withScript ? `<script type="module" src="/dashboard/assets/${assets.js}"></script>\n` : ''}</head>
<body>
${body}
</body>
</html>`;
}

/** The sign-in form; `error` is shown above it (a refused key, an expired session or link). */
export function signInPage(assets: AssetNames, error: string | null = null): string {
  const alert =
    error === null ? '' : `<p id="sign-in-error" class="alert" role="alert">${escapeHtml(error)}</p>`;
  return layout(
    assets,
    'Sign in · LiveChat pipeline dashboard',
    `<main class="sign-in">
<h1>LiveChat pipeline dashboard</h1>
${alert}
<form method="post" action="/dashboard/sign-in" class="card">
<label for="api-key">API key</label>
<input id="api-key" name="api_key" type="password" autocomplete="current-password" required spellcheck="false" autofocus>
<p class="hint">A key of your organization (an operator creates one with <code>pnpm api-keys create --tenant &lt;id&gt;</code>). It is not stored in the browser: the sign-in lasts as a session.</p>
<button type="submit">Sign in</button>
</form>
</main>`,
    false,
  );
}

/** Where a valid link from the LiveChat app lands: the session is set; a same-site step opens the dashboard. */
export function linkLandingPage(assets: AssetNames): string {
  return layout(
    assets,
    'Signed in · LiveChat pipeline dashboard',
    `<main class="sign-in">
<h1>LiveChat pipeline dashboard</h1>
<p id="link-signed-in">You are signed in. <a id="open-dashboard" href="/dashboard">Open the dashboard</a></p>
</main>`,
    true,
  );
}

export function errorPage(assets: AssetNames | null, title: string, message: string, code: string): string {
  const body = `<main class="sign-in">
<h1>${escapeHtml(title)}</h1>
<p class="alert" role="alert">${escapeHtml(message)}</p>
<p class="hint">Code: <code id="error-code">${escapeHtml(code)}</code></p>
<p><a href="/dashboard">Sign in</a></p>
</main>`;
  if (assets === null) {
    return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head><body>${body}</body></html>`;
  }
  return layout(assets, title, body, false);
}

/** The dashboard's frame: the bundle fills each section from the API. */
/** `timeZone`: the tenant's (IANA), whose days the filters, presets and chat list use. */
export function dashboardPage(assets: AssetNames, tenant: string, timeZone = 'UTC'): string {
  const section = (id: string, title: string, inner: string, wide = false) =>
    `<section id="${id}" class="panel${wide ? ' wide' : ''}" aria-labelledby="${id}-title">
<h2 id="${id}-title">${title}</h2>
${inner}
</section>`;
  const chart = (id: string, label: string) =>
    `<div class="chart"><canvas id="${id}-canvas" role="img" aria-label="${escapeHtml(label)}"></canvas></div>
<details class="data"><summary>Data</summary><div class="table-scroll" id="${id}-table"></div></details>`;
  return layout(
    assets,
    'LiveChat pipeline dashboard',
    `<a class="skip" href="#chats">Skip to the chat list</a>
<header class="top">
<h1>Support dashboard</h1>
<p class="tenant">Organization <span id="tenant" data-time-zone="${escapeHtml(timeZone)}">${escapeHtml(tenant)}</span></p>
<form method="post" action="/dashboard/sign-out" class="sign-out"><button type="submit" id="sign-out">Sign out</button></form>
</header>
<form id="filters" class="filters" aria-label="Filters">
<label>From <input type="date" id="filter-from" name="from" required></label>
<label>To <input type="date" id="filter-to" name="to" required></label>
<label>Group <select id="filter-group" name="group"><option value="">All groups</option></select></label>
<div class="presets" role="group" aria-label="Quick ranges">
<button type="button" data-days="7">7 days</button><button type="button" data-days="30">30 days</button><button type="button" data-days="90">90 days</button>
</div>
<button type="submit" id="apply">Apply</button>
</form>
<p id="status" class="status" role="status" aria-live="polite">Loading…</p>
<main class="grid">
${section('kpis', 'At a glance', '<dl id="kpi-list" class="kpis"></dl>', true)}
${section('daily', 'Chats per day', chart('daily', 'Chats per day (bar chart; the data table follows)'))}
${section('heatmap', 'Chats per hour of the week', '<div class="table-scroll" id="heatmap-table"></div><p class="hint">Local time of the organization. Darker is busier.</p>')}
${section('response', 'First response time', chart('response', 'First response time per day, median and 90th percentile'))}
${section('duration', 'Chat duration', chart('duration', 'Average chat duration per day'))}
${section('ratings', 'Ratings', `<p id="ratings-share" class="share"></p>${chart('ratings', 'Good and bad ratings per day')}`)}
${section('queue', 'Queue', `<p id="queue-summary" class="share"></p>${chart('queue', 'Queued chats, chats that left the queue, and the median wait per day')}`)}
${section('agents', 'Agents', '<div class="table-scroll" id="agents-table"></div><p class="hint">Ranked by the lower bound of the Wilson score of their ratings, as LiveChat’s Ranking report.</p>', true)}
${section('tags', 'Tags', chart('tags', 'Chats per tag'))}
${section(
  'chats',
  'Chats',
  `<form id="chat-search" class="search" role="search">
<label for="chat-q">Search messages</label>
<input id="chat-q" name="q" type="search" maxlength="200">
<button type="submit">Search</button>
</form>
<div class="table-scroll" id="chats-table"></div>
<p><button type="button" id="chats-more" hidden>More chats</button></p>`,
  true,
)}
</main>
<dialog id="transcript" aria-labelledby="transcript-title">
<div class="dialog-head"><h2 id="transcript-title">Transcript</h2><button type="button" id="transcript-close">Close</button></div>
<div id="transcript-meta"></div>
<div id="transcript-body"></div>
</dialog>`,
    true,
  );
}
