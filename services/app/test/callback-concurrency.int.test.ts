import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLIENT_ID, startAppHarness } from './support/harness.js';
import type { AppHarness } from './support/harness.js';

/** Install -> authorize -> Allow, stopping before the callback: its URL and the state cookie to send. */
async function upToCallback(h: AppHarness): Promise<{ url: string; cookie: string }> {
  const install = await fetch(`${h.baseUrl}/app/install`, { redirect: 'manual' });
  const cookie = (install.headers.get('set-cookie') ?? '').split(';')[0]!;
  const html = await (await fetch(install.headers.get('location')!, { redirect: 'manual' })).text();
  const allow = /id="allow" href="([^"]+)"/.exec(html)![1]!.replace(/&amp;/g, '&');
  const decision = await fetch(new URL(allow, h.fake.accountsUrl), { redirect: 'manual' });
  return { url: decision.headers.get('location')!, cookie };
}

describe('OAuth callback: the webhook sync runs in the background under pg_try_advisory_lock', () => {
  let h: AppHarness;

  beforeAll(async () => {
    h = await startAppHarness(); // its pool has 5 connections, as in production
    // LiveChat's Configuration API answers slowly: every call takes 300 ms
    h.fake.setFaultPlan(() => ({ kind: 'delay', ms: 300 }));
  });
  afterAll(async () => {
    await h?.close();
  });

  it('12 concurrent callbacks (pool of 5) all answer promptly, and the webhooks are registered once', async () => {
    const flows = await Promise.all(Array.from({ length: 12 }, () => upToCallback(h)));
    const timings = await Promise.all(
      flows.map(async (f) => {
        const t0 = Date.now();
        const res = await fetch(f.url, {
          redirect: 'manual',
          headers: { cookie: f.cookie },
          signal: AbortSignal.timeout(15_000), // a stalled callback fails the test instead of hanging it
        });
        return { status: res.status, location: res.headers.get('location'), ms: Date.now() - t0 };
      }),
    );
    for (const t of timings) {
      expect(t.status).toBe(303);
      expect(t.location).toBe('/app/settings');
      // a stalled pool would hit the 15 s abort above; this bound is only a generous ceiling
      expect(t.ms).toBeLessThan(10_000);
    }
    // The proof that nobody waited for the sync (one register per webhook at 300 ms each, seconds in all): it
    // was still under way when the last callback had answered, however slow or loaded the machine.
    expect(h.fake.webhooks().length).toBeLessThan(h.config.webhooks.length);

    await h.deps.backgroundSync!.idle();
    const remote = h.fake.webhooks();
    expect(remote.map((w) => w.action).sort()).toEqual(h.config.webhooks.map((w) => w.action).sort());
    const registerCalls = h.fake.calls().filter((c) => c.path.endsWith('/register_webhook'));
    expect(registerCalls).toHaveLength(h.config.webhooks.length); // once each, not once per callback
    expect((await h.deps.registry.liveRegistrations(CLIENT_ID)).length).toBe(h.config.webhooks.length);
  });

  it('a failing sync (LiveChat down) never fails the callback: it is logged and counted', async () => {
    h.fake.setFaultPlan(() => ({ kind: 'status', status: 503 }));
    try {
      const before =
        (await h.deps.metrics.webhookSyncs.get()).values.find((v) => v.labels['outcome'] === 'failed')
          ?.value ?? 0;
      const f = await upToCallback(h);
      const res = await fetch(f.url, { redirect: 'manual', headers: { cookie: f.cookie } });
      expect(res.status).toBe(303);
      await h.deps.backgroundSync!.idle();
      const after = (await h.deps.metrics.webhookSyncs.get()).values.find(
        (v) => v.labels['outcome'] === 'failed',
      );
      expect(after?.value).toBe(before + 1);
      expect(h.logs.join('')).toContain('webhook sync after connect failed');
    } finally {
      h.fake.setFaultPlan(() => ({ kind: 'delay', ms: 300 }));
    }
  });

  it('a sync already running elsewhere (another instance holds the lock) makes this one return at once', async () => {
    const other = new pg.Client({ connectionString: h.db.url });
    await other.connect();
    try {
      await other.query('select pg_advisory_lock(hashtext($1))', [`webhook-sync:${CLIENT_ID}`]);
      const tenant = (await h.deps.registry.listTenants(CLIENT_ID))[0]!;
      const t0 = Date.now();
      const report = await h.deps
        .webhookSync(h.deps.oauth!.tokens.credentialsFor(tenant.id))
        .sync({ lock: 'try' });
      expect(report.skipped).toBe(true);
      expect(Date.now() - t0).toBeLessThan(2000);
    } finally {
      await other.end();
    }
  });
});
