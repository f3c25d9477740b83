import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import type { BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLIENT_ID, ORG, startAppHarness } from './support/harness.js';
import type { AppHarness } from './support/harness.js';

/**
 * LiveChat's Agent App frames the settings page from another site. Here the "Agent App" is a tiny page on
 * http://127.0.0.1:<port> and the app is http://localhost:<port>: different sites (cookies ignore ports, so
 * the hosts differ), both potentially trustworthy for Chromium, so Secure; SameSite=None; Partitioned cookies
 * work over plain http. Third-party cookies are blocked in the profile, as browsers do by default or will:
 * only a cookie set inside the frame's own partition (CHIPS) can reach the framed page.
 */
describe('settings page inside an iframe of another site (CHIPS)', () => {
  let h: AppHarness;
  let browser: BrowserContext;
  let profile: string;
  let embedder: http.Server;
  let embedderUrl: string;

  beforeAll(async () => {
    let appSettingsUrl = '';
    embedder = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(
        `<!doctype html><title>Agent App</title><h1>Agent App</h1><iframe id="app" src="${appSettingsUrl}" width="900" height="700"></iframe>`,
      );
    });
    await new Promise<void>((resolve) => embedder.listen(0, '127.0.0.1', resolve));
    embedderUrl = `http://127.0.0.1:${(embedder.address() as AddressInfo).port}`;
    h = await startAppHarness({
      publicHost: 'localhost',
      env: { APP_COOKIE_SECURE: 'true', APP_FRAME_ANCESTORS: embedderUrl },
    });
    appSettingsUrl = `${h.baseUrl}/app/settings`;

    profile = await mkdtemp(path.join(tmpdir(), 'app-chromium-iframe-'));
    // Block third-party cookies (Settings > Privacy > Third-party cookies: blocked).
    await mkdir(path.join(profile, 'Default'), { recursive: true });
    await writeFile(
      path.join(profile, 'Default', 'Preferences'),
      JSON.stringify({ profile: { cookie_controls_mode: 1, block_third_party_cookies: true } }),
    );
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: '/usr/bin/chromium',
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  });

  afterAll(async () => {
    await browser?.close();
    await h?.close();
    await new Promise((resolve) => embedder?.close(resolve));
    if (profile !== undefined) await rm(profile, { recursive: true, force: true });
  });

  it('Connect inside the frame signs in through a pop-up and the frame shows the licence connected', async () => {
    const page = await browser.newPage();
    await page.goto(embedderUrl);
    const frame = page.frameLocator('#app');
    await expect(frame.locator('#status').textContent()).resolves.toBe('Not connected');

    const popupOpened = browser.waitForEvent('page');
    await frame.locator('#connect').click();
    const popup = await popupOpened;
    await popup.waitForURL((url) => url.origin === h.fake.accountsUrl);
    await expect(popup.locator('h1').textContent()).resolves.toBe('Allow access?');
    const popupClosed = popup.waitForEvent('close');
    await popup.click('#allow');
    await popupClosed; // the hand-off page posted its code to the frame and closed itself

    // the frame traded the code for a session of its own partition and shows the connected state
    await expect(frame.locator('#status').textContent()).resolves.toBe('Connected');
    await expect(frame.locator('#organization').textContent()).resolves.toBe(ORG);
    expect(page.url()).toBe(`${embedderUrl}/`); // the Agent App page itself never navigated away

    // the frame's session cookie is partitioned under the embedding site, with the CHIPS attributes
    const cookies = (await browser.cookies()).filter((c) => c.name === 'lcp_session');
    expect(cookies.find((c) => c.partitionKey === 'http://127.0.0.1')).toMatchObject({
      domain: 'localhost',
      secure: true,
      sameSite: 'None',
      httpOnly: true,
    });
    // (the pop-up's top-level sign-in left one in the app's own partition, which the frame cannot see)
    expect(cookies.find((c) => c.partitionKey === 'http://localhost')).toBeDefined();

    // reloading the Agent App keeps the frame connected (the partitioned cookie is sent in the frame)
    await page.reload();
    await expect(frame.locator('#status').textContent()).resolves.toBe('Connected');
    await page.close();
  });

  it('a hand-off code works once only; an unknown one gets a page of its own', async () => {
    const tenant = (await h.deps.registry.findTenant(CLIENT_ID, ORG))!;
    const code = await h.deps.sessions.createHandoff(tenant.id);
    const first = await fetch(`${h.baseUrl}/app/session/claim?code=${code}`, { redirect: 'manual' });
    expect(first.status).toBe(303);
    expect(first.headers.get('location')).toBe('/app/settings');
    expect(first.headers.getSetCookie().find((c) => c.startsWith('lcp_session='))).toContain('Partitioned');
    const again = await fetch(`${h.baseUrl}/app/session/claim?code=${code}`, { redirect: 'manual' });
    expect(again.status).toBe(400);
    expect(again.headers.getSetCookie()).toEqual([]);

    const res = await fetch(`${h.baseUrl}/app/session/claim?code=${'A'.repeat(43)}`, { redirect: 'manual' });
    expect(res.status).toBe(400);
    expect(await res.text()).toContain('APP_SESSION_HANDOFF_INVALID');
    expect(res.headers.get('content-security-policy')).toContain(`frame-ancestors ${embedderUrl}`);
  });
});
