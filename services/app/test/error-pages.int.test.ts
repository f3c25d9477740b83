import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAppHarness } from './support/harness.js';
import type { AppHarness } from './support/harness.js';

const FRAME_ANCESTORS = 'https://my.livechatinc.com https://agent.example.com';

/** CSP directives by name (the nonce'd script-src of the settings page left out: error pages run no script). */
function directives(csp: string | null): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of (csp ?? '').split(';')) {
    const [name, ...values] = part.trim().split(/\s+/);
    if (name !== undefined && name !== '' && name !== 'script-src') out.set(name, values.join(' '));
  }
  return out;
}

describe('app error pages carry the settings page CSP and frame-ancestors', () => {
  let h: AppHarness;
  let settingsCsp: Map<string, string>;

  beforeAll(async () => {
    h = await startAppHarness({ env: { APP_FRAME_ANCESTORS: FRAME_ANCESTORS } });
    const settings = await fetch(`${h.baseUrl}/app/settings`);
    expect(settings.status).toBe(200);
    settingsCsp = directives(settings.headers.get('content-security-policy'));
    expect(settingsCsp.get('frame-ancestors')).toBe(FRAME_ANCESTORS);
    expect(settingsCsp.get('default-src')).toBe("'none'");
  });
  afterAll(async () => {
    await h?.close();
  });

  const expectSameHeaders = async (res: Response, status: number, code: string) => {
    expect(res.status).toBe(status);
    expect(directives(res.headers.get('content-security-policy'))).toEqual(settingsCsp);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    expect(res.headers.get('content-type')).toContain('text/html');
    const body = await res.text();
    expect(body).toContain(code);
    expect(body).not.toMatch(/<script/i);
  };

  it('OAuth callback refusals (400), an unknown page (404), a refused hand-off (400)', async () => {
    await expectSameHeaders(
      await fetch(`${h.baseUrl}/app/oauth/callback?code=abc&state=x`),
      400,
      'APP_OAUTH_STATE_INVALID',
    );
    await expectSameHeaders(await fetch(`${h.baseUrl}/app/no-such-page?<b>`), 404, 'APP_NOT_FOUND');
    await expectSameHeaders(
      await fetch(`${h.baseUrl}/app/session/claim?code=nope`),
      400,
      'APP_SESSION_HANDOFF_INVALID',
    );
  });

  it('an unexpected failure of the settings page (500) is a page with the same headers, no details', async () => {
    await h.pool.query('alter table app.sessions rename to sessions_away');
    try {
      const res = await fetch(`${h.baseUrl}/app/settings`, {
        headers: { cookie: `lcp_session=${'a'.repeat(43)}` },
      });
      await expectSameHeaders(res.clone(), 500, 'APP_INTERNAL');
      expect(await res.text()).not.toContain('sessions');
    } finally {
      await h.pool.query('alter table app.sessions_away rename to sessions');
    }
  });

  it('the install page when the app is not configured (503)', async () => {
    const bare = await startAppHarness({
      env: {
        APP_FRAME_ANCESTORS: FRAME_ANCESTORS,
        LIVECHAT_CLIENT_ID: '',
        LIVECHAT_CLIENT_SECRET: '',
        APP_TOKEN_KEYS: '',
      },
    });
    try {
      await expectSameHeaders(await fetch(`${bare.baseUrl}/app/install`), 503, 'APP_NOT_CONFIGURED');
    } finally {
      await bare.close();
    }
  });
});
