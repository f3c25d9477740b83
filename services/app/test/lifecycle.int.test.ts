import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CANARY, CLIENT_ID, LICENSE, ORG, connectViaHttp, startAppHarness } from './support/harness.js';
import type { AppHarness } from './support/harness.js';

describe('app lifecycle webhooks (Basic auth in the configured URL)', () => {
  let h: AppHarness;
  let url: string;

  beforeAll(async () => {
    h = await startAppHarness();
    url = `${h.baseUrl.replace('http://', `http://livechat:${CANARY.lifecyclePassword}@`)}/app/lifecycle`;
  });
  afterAll(async () => {
    await h?.close();
  });

  it('refuses wrong or missing credentials with 401 and changes nothing', async () => {
    const wrong = await h.fake.sendLifecycle(url.replace(CANARY.lifecyclePassword, 'wrong-password-123'), {
      event: 'application_installed',
      clientId: CLIENT_ID,
    });
    expect(wrong.status).toBe(401);
    expect(JSON.parse(wrong.body)).toMatchObject({ code: 'APP_UNAUTHENTICATED' });
    const none = await h.fake.sendLifecycle(`${h.baseUrl}/app/lifecycle`, {
      event: 'application_installed',
      clientId: CLIENT_ID,
    });
    expect(none.status).toBe(401);
    expect(await h.deps.registry.listTenants(CLIENT_ID)).toEqual([]);
  });

  it('install records licence and organization; uninstall deactivates, revokes and deletes tokens, ends sessions', async () => {
    const installed = await h.fake.sendLifecycle(url, {
      event: 'application_installed',
      clientId: CLIENT_ID,
    });
    expect(installed.status).toBe(200);
    let tenant = (await h.deps.registry.findTenant(CLIENT_ID, ORG))!;
    expect(tenant).toMatchObject({ organizationId: ORG, licenseId: String(LICENSE), status: 'active' });

    const flow = await connectViaHttp(h);
    await h.deps.backgroundSync!.idle(); // the webhook sync after the connect has finished
    expect(flow.callbackStatus).toBe(303);
    tenant = (await h.deps.registry.findTenant(CLIENT_ID, ORG))!;
    expect(tenant.licenseId).toBe(String(LICENSE)); // kept from the install webhook
    const access = h.fake.issuedAccessTokens().at(-1)!;
    const refresh = h.fake.issuedRefreshTokens().at(-1)!;
    expect(h.fake.tokenIsLive(access)).toBe(true);

    const payment = await h.fake.sendLifecycle(url, { event: 'payment_collected', clientId: CLIENT_ID });
    expect(JSON.parse(payment.body)).toMatchObject({ ignored: true });

    const uninstalled = await h.fake.sendLifecycle(url, {
      event: 'application_uninstalled',
      clientId: CLIENT_ID,
    });
    expect(uninstalled.status).toBe(200);
    tenant = (await h.deps.registry.findTenant(CLIENT_ID, ORG))!;
    expect(tenant.status).toBe('inactive');
    expect(await h.deps.registry.getTokens(tenant.id)).toBeNull();
    expect(h.fake.tokenIsLive(access)).toBe(false);
    expect(h.fake.tokenIsLive(refresh)).toBe(false);
    const settings = await (
      await fetch(`${h.baseUrl}/app/settings`, { headers: { cookie: flow.sessionCookie! } })
    ).text();
    expect(settings).toContain('Not connected');

    // a reinstall re-activates the same tenant
    const again = await h.fake.sendLifecycle(url, { event: 'application_installed', clientId: CLIENT_ID });
    expect(again.status).toBe(200);
    expect((await h.deps.registry.findTenant(CLIENT_ID, ORG))!.status).toBe('active');
    expect(h.logs.join('')).not.toContain(CANARY.lifecyclePassword);
  });
});
