import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeLiveChat } from '../src/index.js';
import type { FakeLiveChat } from '../src/index.js';

const CLIENT = 'fake-client';
const SECRET = 'fake-client-secret';
const REDIRECT = 'http://127.0.0.1:9/app/oauth/callback';

describe('fake LiveChat behaves as SPEC.md documents', () => {
  let fake: FakeLiveChat;
  beforeAll(async () => {
    fake = await startFakeLiveChat({
      clients: [
        {
          clientId: CLIENT,
          clientSecret: SECRET,
          redirectUris: ['http://127.0.0.1:9/app'],
          ownerOrganizationId: 'dev-org',
        },
        {
          clientId: 'someone-else',
          clientSecret: 'x',
          redirectUris: ['http://127.0.0.1:9/'],
          ownerOrganizationId: 'other-org',
        },
      ],
      account: { accountId: 'a1', organizationId: 'org-1', licenseId: 1, email: 'a@example.com' },
      pats: [
        {
          accountId: 'pat-acct',
          token: 'pat-token',
          organizationId: 'dev-org',
          scopes: ['webhooks.configuration:rw'],
        },
        { accountId: 'ro-acct', token: 'ro-token', organizationId: 'dev-org', scopes: ['webhooks.state:ro'] },
      ],
    });
  });
  afterAll(async () => {
    await fake?.close();
  });

  const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;
  const api = async (method: string, body: unknown, authorization?: string) => {
    const res = await fetch(`${fake.apiUrl}/configuration/action/${method}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(authorization === undefined ? {} : { authorization }),
      },
      body: JSON.stringify(body),
    });
    return {
      status: res.status,
      json: (await res.json()) as Record<string, unknown> & { error?: { type: string } },
      headers: res.headers,
    };
  };
  const token = (params: Record<string, string>) =>
    fetch(`${fake.accountsUrl}/v2/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(params).toString(),
    }).then(async (r) => ({
      status: r.status,
      json: (await r.json()) as Record<string, unknown>,
    }));

  it('Configuration API: auth, scopes, owner_client_id, the 3-per-action limit, no secrets in list results', async () => {
    expect((await api('list_webhook_names', {})).status).toBe(200);
    expect((await api('list_webhooks', { owner_client_id: CLIENT })).status).toBe(401);
    expect((await api('list_webhooks', { owner_client_id: CLIENT }, basic('pat-acct', 'wrong'))).status).toBe(
      401,
    );
    expect(
      (await api('list_webhooks', { owner_client_id: CLIENT }, basic('ro-acct', 'ro-token'))).status,
    ).toBe(403);
    const pat = basic('pat-acct', 'pat-token');
    expect((await api('list_webhooks', { owner_client_id: 'someone-else' }, pat)).status).toBe(403);
    const reg = (n: number) =>
      api(
        'register_webhook',
        {
          owner_client_id: CLIENT,
          type: 'license',
          action: 'incoming_chat',
          secret_key: `s${n}`,
          url: `https://x.example.com/${n}`,
        },
        pat,
      );
    const ids: string[] = [];
    for (const n of [1, 2, 3]) {
      const r = await reg(n);
      expect(r.status).toBe(200);
      ids.push(r.json['id'] as string);
    }
    expect((await reg(4)).json.error?.type).toBe('limit_reached');
    expect(
      (
        await api(
          'register_webhook',
          {
            owner_client_id: CLIENT,
            type: 'license',
            action: 'incoming_chat',
            secret_key: 's',
            url: 'https://x',
            filters: { author_type: 'agent' },
          },
          pat,
        )
      ).status,
    ).toBe(400);
    const list = await api('list_webhooks', { owner_client_id: CLIENT }, pat);
    expect(JSON.stringify(list.json)).not.toContain('secret_key');
    expect(JSON.stringify(list.json)).not.toContain('"s1"');
    expect((await api('unregister_webhook', { owner_client_id: CLIENT, id: ids[0] }, pat)).status).toBe(200);
    expect((await api('unregister_webhook', { owner_client_id: CLIENT, id: ids[0] }, pat)).status).toBe(404);
    fake.injectFaults({ kind: 'status', status: 429, retryAfterSeconds: 7 });
    const limited = await api('list_webhooks', { owner_client_id: CLIENT }, pat);
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('7');
  });

  it('accounts: authorize page, single-use short-lived codes with PKCE S256, refresh, revoke', async () => {
    const verifier = 'v'.repeat(50);
    const challenge = createHash('sha256').update(verifier).digest('base64url');
    const page = await fetch(
      `${fake.accountsUrl}/?response_type=code&client_id=${CLIENT}&redirect_uri=${encodeURIComponent(REDIRECT)}&state=st&code_challenge=${challenge}&code_challenge_method=s256`,
    );
    const html = await page.text();
    const allow = /id="allow" href="([^"]+)"/.exec(html)![1]!.replace(/&amp;/g, '&');
    const decision = await fetch(new URL(allow, fake.accountsUrl), { redirect: 'manual' });
    const back = new URL(decision.headers.get('location')!);
    expect(back.searchParams.get('state')).toBe('st');
    const code = back.searchParams.get('code')!;
    const bad = await fetch(
      `${fake.accountsUrl}/?response_type=code&client_id=${CLIENT}&redirect_uri=${encodeURIComponent('https://evil.example.com/cb')}`,
    );
    expect(bad.status).toBe(400);

    const wrongVerifier = await token({
      grant_type: 'authorization_code',
      code,
      client_id: CLIENT,
      client_secret: SECRET,
      redirect_uri: REDIRECT,
      code_verifier: 'w'.repeat(50),
    });
    expect(wrongVerifier.json['error']).toBe('invalid_grant');
    // the failed attempt consumed the code
    const reused = await token({
      grant_type: 'authorization_code',
      code,
      client_id: CLIENT,
      client_secret: SECRET,
      redirect_uri: REDIRECT,
      code_verifier: verifier,
    });
    expect(reused.json['error_description']).toMatch(/already used/);

    const fresh = fake.issueCode({ clientId: CLIENT, redirectUri: REDIRECT, codeChallenge: challenge });
    expect(
      (
        await token({
          grant_type: 'authorization_code',
          code: fresh,
          client_id: CLIENT,
          client_secret: 'nope',
          redirect_uri: REDIRECT,
          code_verifier: verifier,
        })
      ).status,
    ).toBe(401);
    const fresh2 = fake.issueCode({ clientId: CLIENT, redirectUri: REDIRECT, codeChallenge: challenge });
    const ok = await token({
      grant_type: 'authorization_code',
      code: fresh2,
      client_id: CLIENT,
      client_secret: SECRET,
      redirect_uri: REDIRECT,
      code_verifier: verifier,
    });
    expect(ok.status).toBe(200);
    expect(ok.json).toMatchObject({ token_type: 'Bearer', organization_id: 'org-1', expires_in: 28800 });
    const refreshed = await token({
      grant_type: 'refresh_token',
      refresh_token: ok.json['refresh_token'] as string,
      client_id: CLIENT,
      client_secret: SECRET,
    });
    expect(refreshed.status).toBe(200);
    expect(refreshed.json['refresh_token']).toBe(ok.json['refresh_token']); // server-side apps: no rotation
    const revoke = await fetch(
      `${fake.accountsUrl}/v2/token?code=${encodeURIComponent(ok.json['refresh_token'] as string)}`,
      { method: 'DELETE' },
    );
    expect(revoke.status).toBe(200);
    expect(fake.tokenIsLive(refreshed.json['access_token'] as string)).toBe(false);
    expect(
      (
        await token({
          grant_type: 'refresh_token',
          refresh_token: ok.json['refresh_token'] as string,
          client_id: CLIENT,
          client_secret: SECRET,
        })
      ).json['error'],
    ).toBe('invalid_grant');
  });
});
