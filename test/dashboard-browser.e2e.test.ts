import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { chromium } from 'playwright-core';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildApi, createApiDeps, loadApiConfig, type ApiDeps } from '@livechat-pipeline/api';
import { mintDashboardLink } from '@livechat-pipeline/dashboard';
import { createApiTestBed, type ApiTestBed } from './support/api-bed.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** Screenshots a person can look at (git-ignored). */
const SCREENSHOT_DIR = path.join(ROOT, 'test-results', 'dashboard');
const LINK_SECRET = 'dashboard-link-secret-for-the-browser-test-0123';

/**
 * The dashboard in Debian's chromium (playwright-core) on the real stack: two tenants' simulated traffic projected
 * by the transcripts and analytics projections' own writers, the api with its dashboard on a loopback port.
 */
describe('dashboard in a real browser', () => {
  let bed: ApiTestBed;
  let deps: ApiDeps;
  let api: FastifyInstance;
  let base: string;
  let browser: BrowserContext;
  let profile: string;
  let range: { from: string; to: string };
  /** The instant tenant A's first day starts (its time zone, by Postgres): the chat list's lower bound. */
  let rangeStart: string;
  let assetsDir: string;

  /** The api's own answer for tenant A (Bearer key), to compare with what the page shows. */
  const apiGet = async <T>(url: string, key = bed.keys[0]): Promise<T> => {
    const res = await api.inject({ url, headers: { authorization: `Bearer ${key}` } });
    expect(res.statusCode, url).toBe(200);
    return res.json<T>();
  };

  /** A page whose console errors and uncaught exceptions are collected (the list must stay empty). */
  const watched = async (context: {
    newPage(): Promise<Page>;
  }): Promise<{ page: Page; errors: string[] }> => {
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(`${page.url()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => errors.push(`${page.url()}: ${e.message}`));
    return { page, errors };
  };

  const signIn = async (page: Page, key: string): Promise<void> => {
    await page.goto(`${base}/dashboard`);
    await page.fill('#api-key', key);
    await page.click('button[type=submit]');
  };

  const loaded = (page: Page) => page.waitForSelector('body[data-loaded]', { timeout: 20_000 });

  /**
   * Each case starts from its own session (a sign-in through the api, its cookie put in the browser), so a case
   * runs alone (`-t`) and a failing one does not fail the next.
   */
  const signedIn = async (key = bed.keys[0]): Promise<void> => {
    const res = await api.inject({
      method: 'POST',
      url: '/dashboard/sign-in',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'same-origin' },
      payload: `api_key=${encodeURIComponent(key)}`,
    });
    expect(res.statusCode).toBe(303);
    const value = /lcp_dashboard=([^;]+)/.exec(String(res.headers['set-cookie']))![1]!;
    await browser.clearCookies();
    await browser.addCookies([
      { name: 'lcp_dashboard', value, url: base, httpOnly: true, sameSite: 'Strict' },
    ]);
  };

  beforeAll(async () => {
    // the sources as they are, built into a directory of this test (a running api's dist is left alone;
    // what `pnpm build:dashboard` runs; pnpm itself may not be on PATH in a fresh clone's bootstrap)
    assetsDir = await mkdtemp(path.join(tmpdir(), 'dashboard-assets-'));
    execFileSync(
      path.join(ROOT, 'node_modules', '.bin', 'tsx'),
      ['packages/dashboard/src/build.ts', assetsDir],
      { cwd: ROOT, stdio: 'ignore' },
    );
    bed = await createApiTestBed({ seed: 1616, chats: 24 });
    // the bed's own api has no link secret: a second api on the same database, as `npm start` runs it
    deps = await createApiDeps(
      loadApiConfig({
        DATABASE_URL: bed.db.url,
        DASHBOARD_LINK_SECRET: LINK_SECRET,
        DASHBOARD_ASSETS_DIR: assetsDir,
        // a locked table answers 503 soon (the outage case)
        API_STATEMENT_TIMEOUT_MS: '2500',
        API_LOG_LEVEL: 'silent',
      }),
      pino({ level: 'silent' }),
    );
    api = await buildApi(deps);
    base = await api.listen({ host: '127.0.0.1', port: 0 });
    const { rows } = await bed.pool.query<{ from: string; to: string }>(
      `select min(day)::text as from, max(day)::text as to from analytics.local_thread_facts where tenant = $1`,
      [bed.tenantIds[0]],
    );
    range = rows[0]!;
    const { rows: start } = await bed.pool.query<{ start: string }>(
      `select to_char((($2::date)::timestamp at time zone coalesce(
                (select time_zone from analytics.tenant_settings where tenant = $1), 'UTC')) at time zone 'UTC',
              'YYYY-MM-DD"T"HH24:MI:SS"Z"') as start`,
      [bed.tenantIds[0], range.from],
    );
    rangeStart = start[0]!.start;
    await mkdir(SCREENSHOT_DIR, { recursive: true });
    profile = await mkdtemp(path.join(tmpdir(), 'dashboard-chromium-'));
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: '/usr/bin/chromium',
      headless: true,
      viewport: { width: 1280, height: 900 },
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--no-first-run',
        '--disable-background-networking',
      ],
    });
  });

  afterAll(async () => {
    await browser?.close();
    await api?.close();
    await deps?.close();
    await bed?.close();
    if (profile !== undefined) await rm(profile, { recursive: true, force: true });
    if (assetsDir !== undefined) await rm(assetsDir, { recursive: true, force: true });
  });

  it('refuses a wrong key on the sign-in page, saying so', async () => {
    await browser.clearCookies();
    const page = await browser.newPage();
    await signIn(page, 'lcp_0123456789abcdef_wrongwrongwrongwrongwrongwrongwrongwrongwro');
    await expect(page.locator('#sign-in-error').textContent()).resolves.toBe(
      'That API key was not accepted.',
    );
    await expect(page.locator('#api-key').count()).resolves.toBe(1);
    await page.close();
  });

  it('refuses a form posted from another site, and a forged or expired link', async () => {
    const crossSite = await api.inject({
      method: 'POST',
      url: '/dashboard/sign-in',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'https://evil.example' },
      payload: `api_key=${encodeURIComponent(bed.keys[0])}`,
    });
    expect(crossSite.statusCode).toBe(403);
    expect(crossSite.headers['set-cookie']).toBeUndefined();
    expect(crossSite.body).toContain('DASHBOARD_CROSS_SITE');

    const link = new URL(mintDashboardLink(base, LINK_SECRET, bed.tenantIds[0]));
    link.searchParams.set('tenant', bed.tenantIds[1]);
    const forged = await api.inject({ url: `${link.pathname}${link.search}` });
    expect([forged.statusCode, forged.headers['set-cookie']]).toEqual([400, undefined]);
    const old = new URL(mintDashboardLink(base, LINK_SECRET, bed.tenantIds[0], Date.now() - 301_000));
    const expired = await api.inject({ url: `${old.pathname}${old.search}` });
    expect([expired.statusCode, expired.headers['set-cookie']]).toEqual([410, undefined]);
  });

  it("signs in with a key and shows the tenant's numbers as the API gives them", async () => {
    await browser.clearCookies();
    const { page, errors } = await watched(browser);
    await signIn(page, bed.keys[0]);
    await page.waitForURL(`${base}/dashboard`);
    await page.goto(`${base}/dashboard?from=${range.from}&to=${range.to}`);
    await loaded(page);
    await expect(page.locator('#tenant').textContent()).resolves.toBe(bed.tenantIds[0]);
    // the session cookie is HttpOnly: the page's scripts cannot read it
    await expect(page.evaluate('document.cookie')).resolves.toBe('');

    const q = `from=${range.from}&to=${range.to}`;
    const daily = await apiGet<{
      days: { day: string; chats: number }[];
      totals: {
        chats: number;
        queued: number;
        rated_good: number;
        rated_bad: number;
        first_response_p90_seconds: number | null;
      };
    }>(`/v1/analytics/daily?${q}`);
    expect(daily.totals.chats).toBeGreaterThan(0);
    await expect(page.locator('#kpi-chats').textContent()).resolves.toBe(String(daily.totals.chats));
    await expect(page.locator('#kpi-queued').textContent()).resolves.toBe(String(daily.totals.queued));
    const goodShare = (100 * daily.totals.rated_good) / (daily.totals.rated_good + daily.totals.rated_bad);
    await expect(page.locator('#kpi-good-share').textContent()).resolves.toBe(`${goodShare.toFixed(1)} %`);
    const p90 = Math.round(daily.totals.first_response_p90_seconds!);
    await expect(page.locator('#kpi-frt-p90').textContent()).resolves.toBe(
      `${Math.floor(p90 / 60)} min ${String(p90 % 60).padStart(2, '0')} s`,
    );
    const shownDays = await page
      .locator('#daily-data tbody tr')
      .evaluateAll((rows) =>
        rows.map((r) => [r.children[0]!.textContent, Number(r.children[1]!.textContent)]),
      );
    expect(shownDays.filter(([, chats]) => chats !== 0)).toEqual(daily.days.map((d) => [d.day, d.chats]));
    // and the API's count is the projection's own
    const { rows: sql } = await bed.pool.query<{ n: number }>(
      `select count(*)::int as n from analytics.local_thread_facts where tenant = $1`,
      [bed.tenantIds[0]],
    );
    expect(daily.totals.chats).toBe(sql[0]!.n);

    const heat = await page
      .locator('#heatmap-data tbody td')
      .evaluateAll((cells) => cells.reduce((s, c) => s + Number(c.textContent), 0));
    expect(heat).toBe(daily.totals.chats);

    const agents = await apiGet<{ agents: { agent_id: string; rank: number }[] }>(
      `/v1/analytics/agents?${q}`,
    );
    const shownAgents = await page
      .locator('#agents-data tbody tr')
      .evaluateAll((rows) =>
        rows.map((r) => [r.children[0]!.textContent, Number(r.children[1]!.textContent)]),
      );
    expect(shownAgents.map(([, rank]) => rank)).toEqual(agents.agents.map((a) => a.rank));
    expect(shownAgents.map(([name], i) => String(name).includes(agents.agents[i]!.agent_id))).toEqual(
      agents.agents.map(() => true),
    );

    const tags = await apiGet<{ tags: { tag: string; chats: number }[] }>(`/v1/analytics/tags?${q}`);
    const shownTags = await page
      .locator('#tags-data tbody tr')
      .evaluateAll((rows) =>
        rows.map((r) => [r.children[0]!.textContent, Number(r.children[1]!.textContent)]),
      );
    expect(new Map(shownTags as [unknown, unknown][])).toEqual(
      new Map(tags.tags.map((t) => [t.tag, t.chats])),
    );

    await page.screenshot({ path: path.join(SCREENSHOT_DIR, 'dashboard-laptop.png'), fullPage: true });
    // the README's picture (docs/dashboard.png is a reviewed copy): the figures and charts, small
    await page.screenshot({
      path: path.join(SCREENSHOT_DIR, 'dashboard-readme.png'),
      fullPage: true,
      clip: { x: 0, y: 0, width: 1280, height: 1600 },
    });
    expect(errors).toEqual([]);
    await page.close();
  });

  it('reaches the chat list and a transcript with the keyboard alone, and the transcript is the API’s', async () => {
    await signedIn();
    const { page, errors } = await watched(browser);
    await page.goto(`${base}/dashboard?from=${range.from}&to=${range.to}`);
    await loaded(page);
    const list = await apiGet<{ chats: { chat_id: string }[] }>(`/v1/chats?from=${rangeStart}&limit=25`);
    const shownIds = await page.locator('#chats-data tbody .open-chat').allTextContents();
    expect(shownIds.length).toBeGreaterThan(0);
    expect(shownIds).toEqual(list.chats.map((c) => c.chat_id).slice(0, shownIds.length));

    // Tab from the top of the page until the first chat's button has the focus
    let focused = '';
    for (let i = 0; i < 80 && focused !== shownIds[0]; i++) {
      await page.keyboard.press('Tab');
      focused = await page.evaluate<string>(
        "document.activeElement?.classList.contains('open-chat') ? document.activeElement.textContent : ''",
      );
    }
    expect(focused).toBe(shownIds[0]);
    // and the focus is visible
    await expect(page.evaluate('getComputedStyle(document.activeElement).outlineStyle')).resolves.toBe(
      'solid',
    );
    await page.keyboard.press('Enter');
    await page.waitForSelector('#transcript[open] .entry');
    const chat = await apiGet<{ threads: { entries: { text: string | null }[] }[] }>(
      `/v1/chats/${encodeURIComponent(shownIds[0]!)}`,
    );
    const entries = chat.threads.flatMap((t) => t.entries);
    await expect(page.locator('#transcript .entry').count()).resolves.toBe(entries.length);
    const texts = await page.locator('#transcript .entry .text').allTextContents();
    expect(texts).toEqual(entries.map((e) => e.text ?? '').filter((t) => t !== ''));
    await page.screenshot({ path: path.join(SCREENSHOT_DIR, 'dashboard-transcript.png') });
    await page.keyboard.press('Escape');
    await expect(page.locator('#transcript').getAttribute('open')).resolves.toBeNull();
    await expect(page.evaluate('document.activeElement?.textContent')).resolves.toBe(shownIds[0]);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('searches the messages and filters by group, showing what the API answers for them', async () => {
    await signedIn();
    const { page, errors } = await watched(browser);
    await page.goto(`${base}/dashboard?from=${range.from}&to=${range.to}`);
    await loaded(page);
    // a word of some chat's messages
    const { rows } = await bed.pool.query<{ word: string }>(
      `select w as word from transcripts.chat_transcript, regexp_split_to_table(lower(text), '[^a-z]+') w
        where tenant = $1 and author_type = 'customer' and length(w) >= 6 group by w order by count(*), w limit 1`,
      [bed.tenantIds[0]],
    );
    const word = rows[0]!.word;
    await page.fill('#chat-q', word);
    await page.press('#chat-q', 'Enter');
    await page.waitForSelector(`#chats-data caption:has-text("${word}")`);
    const found = await apiGet<{ chats: { chat_id: string }[] }>(
      `/v1/chats?q=${encodeURIComponent(word)}&from=${rangeStart}&limit=25`,
    );
    expect(found.chats.length).toBeGreaterThan(0);
    await expect(page.locator('#chats-data tbody .open-chat').allTextContents()).resolves.toEqual(
      found.chats.map((c) => c.chat_id),
    );

    const groups = await page
      .locator('#filter-group option')
      .evaluateAll((o) => o.map((x) => x.getAttribute('value')));
    const { rows: groupRows } = await bed.pool.query<{ g: string }>(
      `select distinct unnest(group_ids)::text as g from analytics.local_thread_facts where tenant = $1 order by 1`,
      [bed.tenantIds[0]],
    );
    expect(groups.filter((g) => g !== '').sort()).toEqual(groupRows.map((r) => r.g).sort());
    const group = groups.find((g) => g !== '')!;
    expect(group).toBeDefined();
    await page.selectOption('#filter-group', group);
    await page.click('#apply');
    await page.waitForSelector(`body[data-loaded*="group=${group}"]`);
    const inGroup = await apiGet<{ totals: { chats: number } }>(
      `/v1/analytics/daily?from=${range.from}&to=${range.to}&group=${group}`,
    );
    await expect(page.locator('#kpi-chats').textContent()).resolves.toBe(String(inGroup.totals.chats));
    expect(errors).toEqual([]);
    await page.close();
  });

  it("never shows another tenant's chats, and the API refuses them to this session", async () => {
    await signedIn();
    const page = await browser.newPage();
    await page.goto(`${base}/dashboard?from=${range.from}&to=${range.to}`);
    await loaded(page);
    const others = await apiGet<{ chats: { chat_id: string }[] }>('/v1/chats?limit=200', bed.keys[1]);
    expect(others.chats.length).toBeGreaterThan(0);
    const shown = new Set(await page.locator('#chats-data tbody .open-chat').allTextContents());
    expect(others.chats.filter((c) => shown.has(c.chat_id))).toEqual([]);
    const status = await page.evaluate(
      async (id) => (await fetch(`/v1/chats/${encodeURIComponent(id)}`)).status,
      others.chats[0]!.chat_id,
    );
    expect(status).toBe(404);
    await page.close();
  });

  it('is readable on a phone: one column, nothing wider than the screen', async () => {
    await signedIn();
    const { page: phone, errors } = await watched(browser);
    await phone.setViewportSize({ width: 390, height: 844 });
    await phone.goto(`${base}/dashboard?from=${range.from}&to=${range.to}`);
    await loaded(phone);
    const widths = await phone.evaluate<{ page: number; viewport: number }>(
      '({ page: document.documentElement.scrollWidth, viewport: window.innerWidth })',
    );
    expect(widths.page).toBeLessThanOrEqual(widths.viewport);
    await phone.screenshot({ path: path.join(SCREENSHOT_DIR, 'dashboard-phone.png'), fullPage: true });
    expect(errors).toEqual([]);
    await phone.close();
  });

  it('opens from a link of the LiveChat app once, for its tenant', async () => {
    await browser.clearCookies();
    const link = mintDashboardLink(base, LINK_SECRET, bed.tenantIds[1]);
    const { page, errors } = await watched(browser);
    await page.goto(link);
    await page.waitForURL(`${base}/dashboard`);
    await loaded(page);
    await expect(page.locator('#tenant').textContent()).resolves.toBe(bed.tenantIds[1]);
    expect(errors).toEqual([]);
    const again = await page.goto(link);
    expect(again?.status()).toBe(410);
    await expect(page.locator('#error-code').textContent()).resolves.toBe('DASHBOARD_LINK_USED');
    await page.close();
  });

  it('says the database is away for a moment without signing out, and recovers by itself', async () => {
    await signedIn();
    const { page } = await watched(browser);
    await page.goto(`${base}/dashboard?from=${range.from}&to=${range.to}`);
    await loaded(page);
    const locker = await bed.pool.connect();
    try {
      await locker.query('begin');
      await locker.query('lock table api.api_keys in access exclusive mode');
      await page.evaluate("document.body.removeAttribute('data-loaded')");
      await page.click('#apply');
      await page.waitForSelector('#status:has-text("unavailable for a moment")', { timeout: 20_000 });
      expect(page.url()).not.toContain('expired');
    } finally {
      await locker.query('rollback');
      locker.release();
    }
    // the page retries on its own
    await loaded(page);
    await expect(page.locator('#tenant').textContent()).resolves.toBe(bed.tenantIds[0]);
    await page.close();
  });

  it('signs out (the old cookie no longer works) and a revoked key ends its sessions', async () => {
    await signedIn();
    const page = await browser.newPage();
    await page.goto(`${base}/dashboard`);
    await loaded(page);
    const cookie = (await browser.cookies(base)).find((c) => c.name === 'lcp_dashboard')!;
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/' });
    await page.click('#sign-out');
    await page.waitForSelector('#api-key');
    await expect(page.evaluate(async () => (await fetch('/v1/chats?limit=1')).status)).resolves.toBe(401);
    // a copy of the signed-out cookie is refused too
    const replay = await api.inject({
      url: '/v1/chats?limit=1',
      headers: { cookie: `lcp_dashboard=${cookie.value}` },
    });
    expect(replay.statusCode).toBe(401);

    const { key, record } = await deps.keys.create({ tenant: bed.tenantIds[0], name: 'to revoke' });
    await signIn(page, key);
    await loaded(page);
    await deps.keys.revoke(record.id);
    await expect(page.evaluate(async () => (await fetch('/v1/chats?limit=1')).status)).resolves.toBe(401);
    // the page's next load meets the 401 and shows the sign-in, saying why
    await page.click('#apply');
    await page.waitForURL(`${base}/dashboard?expired=1`);
    await expect(page.locator('#sign-in-error').textContent()).resolves.toBe(
      'Your session has ended: sign in again.',
    );
    await page.close();
  });
});
