import { verifyDashboardLink } from '@livechat-pipeline/dashboard';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadAppConfig } from '../src/config.js';
import { ORG, connectViaHttp, startAppHarness } from './support/harness.js';
import type { AppHarness } from './support/harness.js';

const LINK_SECRET = 'shared-by-app-and-api-0123456789abcdef';
const DASHBOARD_URL = 'http://127.0.0.1:18082';

describe("settings page: a signed link to the api's dashboard for the session's organization", () => {
  let h: AppHarness;
  let cookie: string;

  beforeAll(async () => {
    h = await startAppHarness({ env: { DASHBOARD_URL, DASHBOARD_LINK_SECRET: LINK_SECRET } });
    cookie = (await connectViaHttp(h)).sessionCookie!;
  });
  afterAll(async () => {
    await h?.close();
  });

  it('shows "Open the dashboard" with a fresh signed link the api accepts for this organization', async () => {
    const settings = await (await fetch(`${h.baseUrl}/app/settings`, { headers: { cookie } })).text();
    const href = /<a id="open-dashboard" class="button" href="([^"]+)" target="_blank"/.exec(settings)?.[1];
    expect(href).toBeDefined();
    const link = new URL(href!.replaceAll('&amp;', '&'));
    expect(`${link.origin}${link.pathname}`).toBe(`${DASHBOARD_URL}/dashboard/link`);
    expect(verifyDashboardLink(LINK_SECRET, Object.fromEntries(link.searchParams))).toMatchObject({
      ok: true,
      tenant: ORG,
    });
    // each render mints its own (links work once)
    const again = await (await fetch(`${h.baseUrl}/app/settings`, { headers: { cookie } })).text();
    expect(again).not.toContain(href);
  });

  it('shows no link without a session', async () => {
    const settings = await (await fetch(`${h.baseUrl}/app/settings`)).text();
    expect(settings).not.toContain('open-dashboard');
  });

  it('refuses a configuration with only one of the two variables', () => {
    expect(() => loadAppConfig({ DASHBOARD_URL })).toThrow(
      /DASHBOARD_URL \/ DASHBOARD_LINK_SECRET: set both/,
    );
    expect(() => loadAppConfig({ DASHBOARD_URL, DASHBOARD_LINK_SECRET: 'short' })).toThrow(/at least 32/);
  });
});
