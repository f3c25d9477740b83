export function escapeHtml(s: string): string {
  return s.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c,
  );
}

/** A complete page; `body` must already be escaped. */
export function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:1.5rem;color:#1b1b1f;max-width:56rem}
h1{font-size:1.3rem}table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.35rem .5rem;border-bottom:1px solid #ddd;font-size:.9rem}
.status{display:inline-block;padding:.15rem .5rem;border-radius:.25rem;font-weight:600}.ok{background:#dcf5e3;color:#11632e}.off{background:#f5e0dc;color:#8a1c0c}
.button{display:inline-block;padding:.45rem .9rem;background:#ff5100;color:#fff;text-decoration:none;border-radius:.3rem;font-weight:600}
.muted{color:#666;font-size:.85rem}code{font-size:.85rem}
</style></head><body>
${body}
</body></html>`;
}

/** A page for an error a person sees (OAuth failures, not configured). */
export function errorPage(title: string, message: string, code: string, retry = true): string {
  return page(
    title,
    `<h1>${escapeHtml(title)}</h1><p>${escapeHtml(message)}</p><p class="muted">Error code: <code>${escapeHtml(code)}</code></p>` +
      (retry ? '<p><a class="button" href="/app/install" target="_top">Connect again</a></p>' : ''),
  );
}

/**
 * The headers of every HTML page the app sends (settings, sign-in hand-off, error pages): a CSP that allows no
 * resource but inline styles (and, with a nonce, that one page's inline script), framing only by
 * `frameAncestors` (LiveChat's Agent App), no caching, no referrer.
 */
export function htmlSecurityHeaders(
  frameAncestors: readonly string[],
  nonce?: string,
): Record<string, string> {
  const csp = [
    "default-src 'none'",
    "style-src 'unsafe-inline'",
    ...(nonce === undefined ? [] : [`script-src 'nonce-${nonce}'`]),
    "img-src 'self'",
    "base-uri 'none'",
    "form-action 'self'",
    `frame-ancestors ${frameAncestors.join(' ')}`,
  ].join('; ');
  return {
    'content-security-policy': csp,
    'cache-control': 'no-store',
    'referrer-policy': 'no-referrer',
    'x-content-type-options': 'nosniff',
    'content-type': 'text/html; charset=utf-8',
  };
}
