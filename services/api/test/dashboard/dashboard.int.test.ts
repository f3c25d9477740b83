import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { pino } from 'pino';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintDashboardLink } from '@livechat-pipeline/dashboard';
import { createTestDatabase, type TestDatabase } from '@livechat-pipeline/testkit';
import { buildApi } from '../../src/app.js';
import { loadApiConfig } from '../../src/config.js';
import { createApiDeps, type ApiDeps } from '../../src/deps.js';
import { DashboardSessionStore } from '../../src/dashboard/store.js';

const LINK_SECRET = 'dashboard-link-secret-for-the-server-test-0123';
const SESSION_SECRET = 'dashboard-session-secret-for-the-server-test';
const FORM = 'application/x-www-form-urlencoded';

/**
 * The dashboard's server side on the real Postgres, as several api processes behind a proxy run it: two apis on
 * one database and one session secret. The pages only name the bundle's files, so a manifest is enough here.
 */
describe('dashboard sessions across api processes', () => {
  let db: TestDatabase;
  let assetsDir: string;
  let tenant: string;
  let key: string;
  const apis: { deps: ApiDeps; app: FastifyInstance }[] = [];

  const startApi = async (env: Record<string, string> = {}) => {
    const deps = await createApiDeps(
      loadApiConfig({
        DATABASE_URL: db.url,
        API_LOG_LEVEL: 'silent',
        DASHBOARD_SESSION_SECRET: SESSION_SECRET,
        DASHBOARD_LINK_SECRET: LINK_SECRET,
        DASHBOARD_ASSETS_DIR: assetsDir,
        ...env,
      }),
      pino({ level: 'silent' }),
    );
    const app = await buildApi(deps);
    apis.push({ deps, app });
    return { deps, app };
  };

  const cookieOf = (setCookie: string | string[] | undefined): string => {
    const header = Array.isArray(setCookie) ? setCookie[0]! : setCookie!;
    return header.split(';')[0]!;
  };

  const signIn = async (app: FastifyInstance): Promise<string> => {
    const res = await app.inject({
      method: 'POST',
      url: '/dashboard/sign-in',
      headers: { 'content-type': FORM, 'sec-fetch-site': 'same-origin' },
      payload: `api_key=${encodeURIComponent(key)}`,
    });
    expect(res.statusCode).toBe(303);
    return cookieOf(res.headers['set-cookie']);
  };

  const linkPath = (t: string) => {
    const u = new URL(mintDashboardLink('http://127.0.0.1', LINK_SECRET, t));
    return `${u.pathname}${u.search}`;
  };

  beforeAll(async () => {
    db = await createTestDatabase('dashboard');
    assetsDir = await mkdtemp(path.join(tmpdir(), 'dashboard-assets-'));
    const files = ['app-AAAAAAAA.js', 'style-AAAAAAAA.css', 'icon.svg'];
    for (const f of files) await writeFile(path.join(assetsDir, f), '');
    await writeFile(
      path.join(assetsDir, 'manifest.json'),
      JSON.stringify({ js: files[0], css: files[1], icon: files[2], files }),
    );
    const { deps } = await startApi();
    tenant = 'org-dashboard-test';
    key = (await deps.keys.create({ tenant, name: 'dashboard test' })).key;
  });

  afterAll(async () => {
    for (const { app, deps } of apis) {
      await app.close();
      await deps.close();
    }
    await db?.drop();
    if (assetsDir !== undefined) await rm(assetsDir, { recursive: true, force: true });
  });

  it('a link from the app opens one session, whichever process it reaches', async () => {
    const a = apis[0]!.app;
    const { app: b } = await startApi();
    const link = linkPath(tenant);
    const first = await a.inject({ url: link });
    expect(first.statusCode).toBe(200);
    // a shorter life than a key's session: nothing to revoke it by but the tenant
    expect(first.headers['set-cookie']).toContain('Max-Age=3600;');
    const again = await b.inject({ url: link });
    expect([again.statusCode, again.headers['set-cookie']]).toEqual([410, undefined]);
    expect(again.body).toContain('DASHBOARD_LINK_USED');
  });

  it('a signed-out cookie is refused by every process', async () => {
    const a = apis[0]!.app;
    const { app: b } = await startApi();
    const cookie = await signIn(a);
    expect((await b.inject({ url: '/v1/chats?limit=1', headers: { cookie } })).statusCode).not.toBe(401);
    const out = await a.inject({
      method: 'POST',
      url: '/dashboard/sign-out',
      headers: { cookie, 'content-type': FORM, 'sec-fetch-site': 'same-origin' },
      payload: '',
    });
    expect(out.statusCode).toBe(303);
    expect((await b.inject({ url: '/v1/chats?limit=1', headers: { cookie } })).statusCode).toBe(401);
    expect((await a.inject({ url: '/v1/chats?limit=1', headers: { cookie } })).statusCode).toBe(401);
  });

  it("revoking a tenant's sessions ends those opened from a link (and by key); new ones work", async () => {
    const { app, deps } = apis[0]!;
    const fromLink = cookieOf((await app.inject({ url: linkPath(tenant) })).headers['set-cookie']);
    const byKey = await signIn(app);
    const status = async (cookie: string) =>
      (await app.inject({ url: '/dashboard/groups?from=2026-01-01&to=2026-01-31', headers: { cookie } }))
        .statusCode;
    expect(await status(fromLink)).not.toBe(401);
    await new DashboardSessionStore(deps.pool, deps.sql.api).revokeTenant(tenant);
    expect(await status(fromLink)).toBe(401);
    expect(await status(byKey)).toBe(401);
    expect(await status(await signIn(app))).not.toBe(401);
  });

  it('signs in behind a TLS-terminating proxy (API_TRUST_PROXY): the https origin matches, the cookie is Secure', async () => {
    const { app } = await startApi({ API_TRUST_PROXY: 'true' });
    const res = await app.inject({
      method: 'POST',
      url: '/dashboard/sign-in',
      headers: {
        'content-type': FORM,
        host: 'dashboard.example',
        origin: 'https://dashboard.example',
        'x-forwarded-proto': 'https',
      },
      payload: `api_key=${encodeURIComponent(key)}`,
    });
    expect(res.statusCode).toBe(303);
    expect(res.headers['set-cookie']).toMatch(/; Secure$/);
    // a browser's Sec-Fetch-Site: same-origin is enough, whatever scheme this process sees
    const plain = apis[0]!.app;
    const sameOrigin = await plain.inject({
      method: 'POST',
      url: '/dashboard/sign-in',
      headers: {
        'content-type': FORM,
        host: 'dashboard.example',
        origin: 'https://dashboard.example',
        'sec-fetch-site': 'same-origin',
      },
      payload: `api_key=${encodeURIComponent(key)}`,
    });
    expect(sameOrigin.statusCode).toBe(303);
    const crossSite = await plain.inject({
      method: 'POST',
      url: '/dashboard/sign-in',
      headers: { 'content-type': FORM, origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' },
      payload: `api_key=${encodeURIComponent(key)}`,
    });
    expect(crossSite.statusCode).toBe(403);
  });

  it('/dashboard/groups refuses missing, malformed and impossible dates with 400', async () => {
    const { app } = apis[0]!;
    const cookie = await signIn(app);
    for (const q of [
      '',
      'from=2026-01-01',
      'from=2026-02-31&to=2026-03-01',
      'from=garbage&to=2026-03-01',
      'from=2026-03-02&to=2026-03-01',
      'from=2020-01-01&to=2026-03-01',
    ]) {
      const res = await app.inject({ url: `/dashboard/groups?${q}`, headers: { cookie } });
      expect([q, res.statusCode, res.json<{ code: string }>().code]).toEqual([q, 400, 'API_BAD_PARAMETER']);
    }
  });

  it('a database that does not answer is a 503, not a sign-out, for the API and the page', async () => {
    const { app } = await startApi({ API_STATEMENT_TIMEOUT_MS: '300' });
    const cookie = await signIn(app);
    const locker = new pg.Client({ connectionString: db.url });
    await locker.connect();
    try {
      await locker.query('begin');
      await locker.query('lock table api.api_keys, api.dashboard_signed_out in access exclusive mode');
      const api = await app.inject({ url: '/v1/chats?limit=1', headers: { cookie } });
      expect([api.statusCode, api.json<{ code: string }>().code]).toEqual([503, 'API_UNAVAILABLE']);
      const page = await app.inject({ url: '/dashboard', headers: { cookie } });
      expect(page.statusCode).toBe(503);
      expect(page.headers['content-type']).toMatch(/^text\/html/);
      expect(page.headers['retry-after']).toBe('5');
      expect(page.body).toContain('DASHBOARD_UNAVAILABLE');
      // and the sign-in form, whose key cannot be checked now, says the same (not "key not accepted")
      const signInNow = await app.inject({
        method: 'POST',
        url: '/dashboard/sign-in',
        headers: { 'content-type': FORM, 'sec-fetch-site': 'same-origin' },
        payload: `api_key=${encodeURIComponent(key)}`,
      });
      expect([signInNow.statusCode, signInNow.headers['content-type']]).toEqual([
        503,
        'text/html; charset=utf-8',
      ]);
      expect(signInNow.body).toContain('DASHBOARD_UNAVAILABLE');
    } finally {
      await locker.query('rollback');
      await locker.end();
    }
    expect((await app.inject({ url: '/dashboard', headers: { cookie } })).statusCode).toBe(200);
  });
});
