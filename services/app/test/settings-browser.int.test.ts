import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import type { BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ORG, startAppHarness } from './support/harness.js';
import type { AppHarness } from './support/harness.js';

/** Debian's chromium (services/app/scripts/ensure-chromium.sh installs it), driven by playwright-core. */
describe('settings page in a real browser: connect through the fake LiveChat', () => {
  let h: AppHarness;
  let browser: BrowserContext;
  let profile: string;

  beforeAll(async () => {
    h = await startAppHarness();
    profile = await mkdtemp(path.join(tmpdir(), 'app-chromium-'));
    // A fresh --user-data-dir per run (playwright passes it for a persistent context).
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
    if (profile !== undefined) await rm(profile, { recursive: true, force: true });
  });

  it('opens settings, clicks Connect, allows on the authorize page, and sees the licence connected with its webhooks', async () => {
    const page = await browser.newPage();
    await page.goto(`${h.baseUrl}/app/settings`);
    await expect(page.locator('#status').textContent()).resolves.toBe('Not connected');

    await page.click('#connect');
    await page.waitForURL((url) => url.origin === h.fake.accountsUrl);
    await expect(page.locator('h1').textContent()).resolves.toBe('Allow access?');

    await page.click('#allow');
    await page.waitForURL(`${h.baseUrl}/app/settings`);
    await expect(page.locator('#status').textContent()).resolves.toBe('Connected');
    await expect(page.locator('#organization').textContent()).resolves.toBe(ORG);
    // the webhooks are registered in the background after the connect: once done, a reload lists them
    await h.deps.backgroundSync!.idle();
    await page.reload();
    const actions = await page.locator('#webhooks tbody tr td:first-child').allTextContents();
    expect(actions.sort()).toEqual(h.config.webhooks.map((w) => w.action).sort());
    const urls = new Set(await page.locator('#webhooks tbody tr td:nth-child(2)').allTextContents());
    expect(urls).toEqual(new Set([`${h.baseUrl}/webhooks/livechat`]));
    await expect(page.locator('#connect').textContent()).resolves.toBe('Reconnect');
    await page.screenshot({ path: path.join(tmpdir(), 'app-settings.png'), fullPage: true });

    // the session cookie is HttpOnly: page scripts cannot read it
    await expect(page.evaluate('document.cookie')).resolves.toBe('');
    await page.close();
  });
});
