import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomToken, s256 } from './ids.js';
import {
  basicCredentials,
  bearerToken,
  escapeHtml,
  parseParams,
  readBody,
  redirect,
  sendHtml,
  sendJson,
} from './http-util.js';
import type { FakeAccount, FakeClient } from './state.js';
import type { FakeWorld } from './world.js';

/** Scheme and host exact; the path may extend the configured one; no query or fragment (SPEC §5). */
export function redirectUriAllowed(client: FakeClient, candidate: string): boolean {
  let url: URL;
  try {
    url = new URL(candidate);
  } catch {
    return false;
  }
  if (url.search !== '' || url.hash !== '') return false;
  return client.redirectUris.some((allowed) => {
    const a = new URL(allowed);
    return a.protocol === url.protocol && a.host === url.host && url.pathname.startsWith(a.pathname);
  });
}

function oauthError(res: ServerResponse, status: number, error: string, description: string): void {
  sendJson(res, status, { error, error_description: description });
}

/** GET / : the authorize page with an Allow and a Deny link. Invalid clients or redirect URIs never redirect. */
export function authorizePage(world: FakeWorld, url: URL, res: ServerResponse): void {
  const q = url.searchParams;
  const client = world.client(q.get('client_id') ?? '');
  const redirectUri = q.get('redirect_uri') ?? '';
  if (client === undefined)
    return sendHtml(res, 400, '<!doctype html><title>Error</title><h1>Unknown client_id</h1>');
  if (!redirectUriAllowed(client, redirectUri))
    return sendHtml(
      res,
      400,
      '<!doctype html><title>Error</title><h1>redirect_uri is not allowed for this app</h1>',
    );
  if (q.get('response_type') !== 'code')
    return redirect(
      res,
      `${redirectUri}?error=unsupported_response_type&state=${encodeURIComponent(q.get('state') ?? '')}`,
    );
  const method = (q.get('code_challenge_method') ?? 'plain').toLowerCase();
  if (method !== 's256' && method !== 'plain')
    return redirect(
      res,
      `${redirectUri}?error=invalid_request&state=${encodeURIComponent(q.get('state') ?? '')}`,
    );
  const txn = randomToken();
  world.pendingAuthorizations.set(txn, {
    clientId: client.clientId,
    redirectUri,
    codeChallenge: q.get('code_challenge'),
    codeChallengeMethod: method === 's256' ? 'S256' : 'plain',
    account: world.options.account,
    state: q.get('state'),
  });
  const acct = world.options.account;
  sendHtml(
    res,
    200,
    `<!doctype html><html><head><meta charset="utf-8"><title>Fake LiveChat – authorize</title></head><body>
<h1>Allow access?</h1>
<p>The application <b>${escapeHtml(client.clientId)}</b> asks for access to licence ${acct.licenseId} as ${escapeHtml(acct.email)}.</p>
<p><a id="allow" href="/authorize/decision?txn=${encodeURIComponent(txn)}&amp;allow=1">Allow</a>
 <a id="deny" href="/authorize/decision?txn=${encodeURIComponent(txn)}&amp;allow=0">Deny</a></p>
</body></html>`,
  );
}

/** GET /authorize/decision : redirects to redirect_uri with code+state (or error=access_denied). */
export function authorizeDecision(world: FakeWorld, url: URL, res: ServerResponse): void {
  const txn = url.searchParams.get('txn') ?? '';
  const pending = world.pendingAuthorizations.get(txn);
  if (pending === undefined)
    return sendHtml(
      res,
      400,
      '<!doctype html><title>Error</title><h1>This authorization request has expired</h1>',
    );
  world.pendingAuthorizations.delete(txn);
  const target = new URL(pending.redirectUri);
  if (pending.state !== null) target.searchParams.set('state', pending.state);
  if (url.searchParams.get('allow') !== '1') {
    target.searchParams.set('error', 'access_denied');
    return redirect(res, target.toString());
  }
  const code = randomToken('code-');
  world.codes.set(code, {
    clientId: pending.clientId,
    redirectUri: pending.redirectUri,
    codeChallenge: pending.codeChallenge,
    codeChallengeMethod: pending.codeChallengeMethod,
    account: pending.account,
    expiresAt: world.now() + (world.options.codeTtlMs ?? 120_000),
    used: false,
  });
  target.searchParams.set('code', code);
  redirect(res, target.toString());
}

/** Issues a code for the configured account without the browser page (tests of the callback). */
export function issueCode(
  world: FakeWorld,
  input: { clientId: string; redirectUri: string; codeChallenge: string },
): string {
  const code = randomToken('code-');
  world.codes.set(code, {
    clientId: input.clientId,
    redirectUri: input.redirectUri,
    codeChallenge: input.codeChallenge,
    codeChallengeMethod: 'S256',
    account: world.options.account,
    expiresAt: world.now() + (world.options.codeTtlMs ?? 120_000),
    used: false,
  });
  return code;
}

function issueTokens(
  world: FakeWorld,
  clientId: string,
  account: FakeAccount,
  scopes: readonly string[],
  refresh?: string,
) {
  const ttl = world.options.accessTokenTtlSeconds ?? 28_800;
  const refreshToken = refresh ?? randomToken();
  if (refresh === undefined)
    world.refreshTokens.set(refreshToken, { token: refreshToken, clientId, account, scopes, revoked: false });
  const access = randomToken('dal:');
  world.accessTokens.set(access, {
    token: access,
    clientId,
    account,
    scopes,
    expiresAt: world.now() + ttl * 1000,
    refreshToken,
    revoked: false,
  });
  return {
    access_token: access,
    account_id: account.accountId,
    expires_in: ttl,
    organization_id: account.organizationId,
    refresh_token: refreshToken,
    scope: scopes.join(','),
    token_type: 'Bearer',
  };
}

/** POST /v2/token : authorization_code (PKCE checked, single-use codes) and refresh_token grants. */
export async function tokenEndpoint(
  world: FakeWorld,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const params = parseParams(await readBody(req), req.headers['content-type']);
  if (params === null) return oauthError(res, 400, 'invalid_request', 'body is neither JSON nor form data');
  const str = (k: string) =>
    typeof params[k] === 'string'
      ? (params[k] as string)
      : typeof params[k] === 'number'
        ? String(params[k])
        : undefined;
  const basic = basicCredentials(req.headers.authorization);
  const clientId = str('client_id') ?? basic?.[0];
  const clientSecret = str('client_secret') ?? basic?.[1];
  const client = world.client(clientId ?? '');
  if (client === undefined || clientSecret !== client.clientSecret)
    return oauthError(res, 401, 'invalid_client', 'client authentication failed');
  const grant = str('grant_type');
  if (grant === 'authorization_code') {
    const code = world.codes.get(str('code') ?? '');
    if (code === undefined || code.clientId !== client.clientId)
      return oauthError(res, 400, 'invalid_grant', 'code is invalid');
    if (code.used) return oauthError(res, 400, 'invalid_grant', 'code was already used');
    code.used = true; // single-use, even when the rest fails
    if (code.expiresAt <= world.now()) return oauthError(res, 400, 'invalid_grant', 'code has expired');
    if (str('redirect_uri') !== code.redirectUri)
      return oauthError(res, 400, 'invalid_grant', 'redirect_uri does not match');
    if (code.codeChallenge !== null) {
      const verifier = str('code_verifier');
      if (verifier === undefined) return oauthError(res, 400, 'invalid_grant', 'code_verifier is required');
      const expected = code.codeChallengeMethod === 'S256' ? s256(verifier) : verifier;
      if (expected !== code.codeChallenge)
        return oauthError(res, 400, 'invalid_grant', 'code_verifier does not match the code_challenge');
    }
    return sendJson(res, 200, issueTokens(world, client.clientId, code.account, world.grantedScopes));
  }
  if (grant === 'refresh_token') {
    const rt = world.refreshTokens.get(str('refresh_token') ?? '');
    if (rt === undefined || rt.revoked || rt.clientId !== client.clientId)
      return oauthError(res, 400, 'invalid_grant', 'refresh token is invalid or revoked');
    if (world.options.rotateRefreshTokens === true) {
      rt.revoked = true;
      return sendJson(res, 200, issueTokens(world, client.clientId, rt.account, rt.scopes));
    }
    return sendJson(res, 200, issueTokens(world, client.clientId, rt.account, rt.scopes, rt.token));
  }
  return oauthError(
    res,
    400,
    'unsupported_grant_type',
    'grant_type must be authorization_code or refresh_token',
  );
}

/** DELETE /v2/token : revokes the Bearer access token, or with ?code= a refresh token and its access tokens. */
export function revokeEndpoint(world: FakeWorld, url: URL, req: IncomingMessage, res: ServerResponse): void {
  const bearer = bearerToken(req.headers.authorization);
  const code = url.searchParams.get('code');
  if (bearer !== null) {
    const at = world.accessTokens.get(bearer);
    if (at === undefined) return oauthError(res, 401, 'invalid_token', 'unknown token');
    at.revoked = true;
    return sendJson(res, 200, {});
  }
  if (code !== null) {
    const rt = world.refreshTokens.get(code);
    if (rt === undefined) return oauthError(res, 400, 'invalid_grant', 'unknown refresh token');
    rt.revoked = true;
    for (const at of world.accessTokens.values()) if (at.refreshToken === rt.token) at.revoked = true;
    return sendJson(res, 200, {});
  }
  oauthError(res, 400, 'invalid_request', 'a Bearer token or ?code= is required');
}

/** GET /v2/info : describes a live access token. */
export function infoEndpoint(world: FakeWorld, req: IncomingMessage, res: ServerResponse): void {
  const at = validAccessToken(world, bearerToken(req.headers.authorization));
  if (at === undefined) return oauthError(res, 401, 'invalid_token', 'token is invalid, expired or revoked');
  sendJson(res, 200, {
    access_token: at.token,
    account_id: at.account.accountId,
    client_id: at.clientId,
    expires_in: Math.max(0, Math.floor((at.expiresAt - world.now()) / 1000)),
    organization_id: at.account.organizationId,
    scope: at.scopes.join(','),
    token_type: 'Bearer',
  });
}

export function validAccessToken(world: FakeWorld, token: string | null) {
  if (token === null) return undefined;
  const at = world.accessTokens.get(token);
  if (at === undefined || at.revoked || at.expiresAt <= world.now()) return undefined;
  return at;
}

/**
 * GET /v2/accounts/{account_id} with the account's PAT (Basic): the account and its organization (what a PAT acts
 * for). Another account's id, or wrong credentials: 401/403.
 */
export function accountEndpoint(
  world: FakeWorld,
  accountId: string,
  req: IncomingMessage,
  res: ServerResponse,
): void {
  const basic = basicCredentials(req.headers.authorization);
  const pat = (world.options.pats ?? []).find(
    (p) => basic !== null && p.accountId === basic[0] && p.token === basic[1],
  );
  if (pat === undefined) return oauthError(res, 401, 'invalid_token', 'credentials are invalid');
  if (pat.accountId !== accountId) return oauthError(res, 403, 'forbidden', 'another account');
  sendJson(res, 200, { account_id: pat.accountId, organization_id: pat.organizationId });
}
