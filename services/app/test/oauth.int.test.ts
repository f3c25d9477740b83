import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TokenCipher } from '../src/crypto/token-cipher.js';
import { createStateCipher, openState } from '../src/oauth/state-cookie.js';
import {
  CANARY,
  CLIENT_ID,
  ORG,
  connectViaHttp,
  dumpSchemaText,
  startAppHarness,
} from './support/harness.js';
import type { AppHarness } from './support/harness.js';

describe('OAuth install (PKCE) against the fake LiveChat, real Postgres', () => {
  let h: AppHarness;
  let skewMs = 0;

  beforeAll(async () => {
    h = await startAppHarness({ fake: { now: () => Date.now() + skewMs, accessTokenTtlSeconds: 600 } });
  });
  afterAll(async () => {
    await h?.close();
  });

  const tenantCount = async () =>
    Number((await h.pool.query<{ n: string }>('select count(*) as n from app.tenants')).rows[0]!.n);
  const tokenCount = async () =>
    Number((await h.pool.query<{ n: string }>('select count(*) as n from app.tokens')).rows[0]!.n);

  it('redirects to the authorize endpoint with PKCE S256 and a state bound to an HttpOnly cookie', async () => {
    const res = await fetch(`${h.baseUrl}/app/install`, { redirect: 'manual' });
    expect(res.status).toBe(302);
    const location = new URL(res.headers.get('location')!);
    expect(`${location.origin}`).toBe(h.fake.accountsUrl);
    expect(location.searchParams.get('response_type')).toBe('code');
    expect(location.searchParams.get('client_id')).toBe(CLIENT_ID);
    expect(location.searchParams.get('redirect_uri')).toBe(`${h.baseUrl}/app/oauth/callback`);
    expect(location.searchParams.get('code_challenge_method')).toBe('S256');
    expect(location.searchParams.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const state = location.searchParams.get('state')!;
    const cookie = res.headers.get('set-cookie')!;
    expect(cookie).toMatch(/^lcp_oauth=/);
    expect(cookie).toContain('HttpOnly');
    expect(cookie).not.toContain(state); // sealed, not readable
    // sealed with a key derived from the token key (HKDF), not with the token key itself
    const sealed = cookie.split(';')[0]!.slice('lcp_oauth='.length);
    expect(openState(createStateCipher(h.config.tokenKeys), sealed)?.state).toBe(state);
    expect(openState(new TokenCipher(h.config.tokenKeys), sealed)).toBeNull();
  });

  it('refuses a callback with a wrong or missing state, and stores nothing', async () => {
    const install = await fetch(`${h.baseUrl}/app/install`, { redirect: 'manual' });
    const cookie = install.headers.get('set-cookie')!.split(';')[0]!;
    const wrong = await fetch(`${h.baseUrl}/app/oauth/callback?code=abc&state=not-the-state`, {
      headers: { cookie },
    });
    expect(wrong.status).toBe(400);
    expect(wrong.headers.get('content-type')).toContain('text/html');
    expect(await wrong.text()).toContain('APP_OAUTH_STATE_INVALID');
    const state = new URL(install.headers.get('location')!).searchParams.get('state')!;
    const noCookie = await fetch(
      `${h.baseUrl}/app/oauth/callback?code=abc&state=${encodeURIComponent(state)}`,
    );
    expect(noCookie.status).toBe(400);
    const denied = await fetch(
      `${h.baseUrl}/app/oauth/callback?error=access_denied&state=${encodeURIComponent(state)}`,
      { headers: { cookie } },
    );
    expect(denied.status).toBe(403);
    expect(await tenantCount()).toBe(0);
  });

  it('refuses an expired code and a refused exchange with a page, and stores nothing', async () => {
    const install = await fetch(`${h.baseUrl}/app/install`, { redirect: 'manual' });
    const cookie = install.headers.get('set-cookie')!.split(';')[0]!;
    const loc = new URL(install.headers.get('location')!);
    const code = h.fake.issueCode({
      clientId: CLIENT_ID,
      redirectUri: `${h.baseUrl}/app/oauth/callback`,
      codeChallenge: loc.searchParams.get('code_challenge')!,
    });
    skewMs = 10 * 60_000; // the code is "a few minutes" old
    try {
      const res = await fetch(
        `${h.baseUrl}/app/oauth/callback?code=${encodeURIComponent(code)}&state=${encodeURIComponent(loc.searchParams.get('state')!)}`,
        { headers: { cookie } },
      );
      expect(res.status).toBe(400);
      const html = await res.text();
      expect(html).toContain('APP_OAUTH_CODE_REJECTED');
      expect(html).toContain('expired');
    } finally {
      skewMs = 0;
    }
    // a code issued for another PKCE challenge (wrong verifier) is refused too
    const install2 = await fetch(`${h.baseUrl}/app/install`, { redirect: 'manual' });
    const cookie2 = install2.headers.get('set-cookie')!.split(';')[0]!;
    const loc2 = new URL(install2.headers.get('location')!);
    const foreign = h.fake.issueCode({
      clientId: CLIENT_ID,
      redirectUri: `${h.baseUrl}/app/oauth/callback`,
      codeChallenge: 'x'.repeat(43),
    });
    const res2 = await fetch(
      `${h.baseUrl}/app/oauth/callback?code=${encodeURIComponent(foreign)}&state=${encodeURIComponent(loc2.searchParams.get('state')!)}`,
      { headers: { cookie: cookie2 } },
    );
    expect(res2.status).toBe(400);
    expect(await res2.text()).toContain('code_verifier');
    expect(await tenantCount()).toBe(0);
    expect(await tokenCount()).toBe(0);
  });

  it('connects: stores the tenant and its tokens encrypted, registers webhooks, shows the settings page; a reused code is refused', async () => {
    const flow = await connectViaHttp(h);
    expect(flow.callbackStatus).toBe(303);
    expect(flow.location).toBe('/app/settings');
    expect(flow.sessionCookie).toMatch(/^lcp_session=/);

    const tenants = await h.pool.query<{ organization_id: string; status: string }>(
      'select organization_id, status from app.tenants',
    );
    expect(tenants.rows).toEqual([{ organization_id: ORG, status: 'active' }]);
    const tokens = await h.pool.query<{ key_id: string; access_token_enc: Buffer }>(
      'select key_id, access_token_enc from app.tokens',
    );
    expect(tokens.rows[0]!.key_id).toBe('k2');
    const issued = h.fake.issuedAccessTokens();
    expect(issued.length).toBeGreaterThan(0);
    expect(tokens.rows[0]!.access_token_enc.toString('latin1')).not.toContain(issued.at(-1)!);

    // webhooks registered (in the background) at the fake for APP_PUBLIC_URL/webhooks/livechat, one per action
    await h.deps.backgroundSync!.idle();
    const remote = h.fake.webhooks();
    expect(remote.length).toBe(h.config.webhooks.length);
    expect(new Set(remote.map((w) => w.url))).toEqual(new Set([`${h.baseUrl}/webhooks/livechat`]));
    expect(new Set(remote.map((w) => w.secret_key)).size).toBe(remote.length); // each its own secret

    const settings = await fetch(`${h.baseUrl}/app/settings`, { headers: { cookie: flow.sessionCookie! } });
    const html = await settings.text();
    expect(settings.headers.get('content-security-policy')).toContain(
      'frame-ancestors https://my.livechatinc.com https://*.livechat.com https://*.text.com',
    );
    expect(html).toContain('Connected');
    expect(html).toContain(ORG);
    for (const w of remote) expect(html).toContain(w.action);

    // no session, no tenant data
    const anonymous = await (await fetch(`${h.baseUrl}/app/settings`)).text();
    expect(anonymous).toContain('Not connected');
    expect(anonymous).not.toContain(ORG);

    // replaying the same code (with a fresh state) is refused
    const install = await fetch(`${h.baseUrl}/app/install`, { redirect: 'manual' });
    const cookie = install.headers.get('set-cookie')!.split(';')[0]!;
    const state = new URL(install.headers.get('location')!).searchParams.get('state')!;
    const replay = await fetch(
      `${h.baseUrl}/app/oauth/callback?code=${encodeURIComponent(flow.code)}&state=${encodeURIComponent(state)}`,
      { headers: { cookie } },
    );
    expect(replay.status).toBe(400);
    expect(await replay.text()).toContain('already used');
  });

  it('refreshes access tokens before they expire: on use and from the refresher loop', async () => {
    const tenant = (await h.deps.registry.findTenant(CLIENT_ID, ORG))!;
    const tokens = h.deps.oauth!.tokens;
    const before = h.fake.issuedAccessTokens().length;
    // 600 s tokens with a 900 s margin: every use refreshes
    const access = await tokens.accessToken(tenant.id);
    expect(h.fake.issuedAccessTokens().length).toBe(before + 1);
    expect(h.fake.tokenIsLive(access)).toBe(true);
    expect(await tokens.refreshDue()).toBe(1);
    expect(h.fake.issuedAccessTokens().length).toBe(before + 2);
  });

  it('leaks no canary: client secret, PAT, tokens and webhook secrets are in no log line and no column', async () => {
    const secrets = [
      CANARY.clientSecret,
      CANARY.pat,
      CANARY.lifecyclePassword,
      ...h.fake.issuedAccessTokens(),
      ...h.fake.webhooks().map((w) => w.secret_key),
    ];
    const refreshTokens = h.fake.issuedRefreshTokens();
    expect(refreshTokens.length).toBeGreaterThan(0);
    const logs = h.logs.join('');
    const columns = await dumpSchemaText(h.pool);
    expect(logs.length).toBeGreaterThan(0);
    for (const s of [...secrets, ...refreshTokens]) {
      expect(logs).not.toContain(s);
      expect(columns).not.toContain(s);
    }
  });
});
