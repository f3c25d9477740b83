import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../src/cli.js';
import { CANARY, CLIENT_ID, dumpSchemaText, startAppHarness } from './support/harness.js';
import type { AppHarness } from './support/harness.js';

describe('declarative webhook sync (PAT) against the fake LiveChat, real Postgres', () => {
  let h: AppHarness;

  beforeAll(async () => {
    h = await startAppHarness();
  });
  afterAll(async () => {
    await h?.close();
  });
  beforeEach(() => {
    h.fake.clearFaults();
  });

  const sync = () => h.deps.patWebhookSync();
  const registerCalls = () =>
    h.fake.calls().filter((c) => c.method === 'register_webhook' && c.status === 200).length;

  /** LiveChat holds exactly one webhook per configured action, each with a secret the registry knows. */
  async function expectConverged() {
    const remote = h.fake.webhooks();
    expect(remote.map((w) => w.action).sort()).toEqual(h.config.webhooks.map((w) => w.action).sort());
    const live = await h.deps.registry.liveRegistrations(CLIENT_ID);
    expect(live.map((r) => r.id).sort()).toEqual(remote.map((w) => w.id).sort());
    for (const w of remote) expect(w.url).toBe(h.config.webhookUrl);
    expect(await sync().plan()).toEqual([]);
  }

  it('registers what is missing, then a second run changes nothing', async () => {
    const first = await sync().sync();
    expect(first.registered.length).toBe(h.config.webhooks.length);
    await expectConverged();
    const calls = registerCalls();
    const second = await sync().sync();
    expect(second.changed).toBe(false);
    expect(registerCalls()).toBe(calls);
    const w = h.fake.webhooks().find((x) => x.action === 'chat_properties_updated')!;
    expect(w.filters).toEqual({ source_type: ['other_clients', 'system'] });
    expect([...w.additional_data]).toEqual([]);
    expect(h.fake.webhooks().find((x) => x.action === 'incoming_event')!.additional_data).toEqual([
      'chat_presence_user_ids',
      'chat_properties',
    ]);
  });

  it('replaces stale webhooks (pointing elsewhere, unknown secret) and removes actions no longer configured', async () => {
    // someone registered webhooks by hand with the same client id
    const api = (body: Record<string, unknown>) =>
      fetch(`${h.fake.apiUrl}/configuration/action/register_webhook`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          authorization: `Basic ${Buffer.from(`d3f5b9a1-0000-4000-8000-00000000a11c:${CANARY.pat}`).toString('base64')}`,
        },
        body: JSON.stringify({
          owner_client_id: CLIENT_ID,
          type: 'license',
          secret_key: 'hand-made',
          ...body,
        }),
      });
    expect((await api({ action: 'incoming_chat', url: 'https://elsewhere.example.com/hook' })).status).toBe(
      200,
    );
    expect((await api({ action: 'tag_created', url: h.config.webhookUrl })).status).toBe(200);
    const plan = await sync().plan();
    expect(plan.map((s) => [s.op, s.action])).toEqual([
      ['unregister', 'incoming_chat'],
      ['unregister', 'tag_created'],
    ]);
    const report = await sync().sync();
    expect(report.unregistered.map((u) => u.reason).sort()).toEqual([
      'action not in config',
      'secret unknown to the registry',
    ]);
    await expectConverged();
  });

  it('converges with 429 (Retry-After), 500, 500-after-effect and slow answers now and then', async () => {
    // start from scratch
    for (const w of h.fake.webhooks()) await sync().unregister(w.id);
    expect(h.fake.webhooks()).toEqual([]);
    h.fake.injectFaults(
      { kind: 'status', status: 429, retryAfterSeconds: 1 },
      { kind: 'status', status: 500 },
      { kind: 'status', status: 500, afterEffect: true }, // list_webhooks or the first register: done but answered 500
      { kind: 'delay', ms: 2500 }, // longer than the 2 s client timeout: the work is done, the client retries
    );
    // Counted from this test's first planned call (the fake counts calls since it started, and how many earlier
    // tests made depends on the length of the configured webhook list): at most two faults in a row.
    let first: number | undefined;
    h.fake.setFaultPlan(({ n }) => {
      const i = n - (first ??= n) + 1;
      return i % 5 === 0
        ? { kind: 'status', status: 429, retryAfterSeconds: 0 }
        : i % 7 === 0
          ? { kind: 'status', status: 503 }
          : undefined;
    });
    const report = await sync().sync();
    h.fake.clearFaults();
    expect(report.rounds).toBeGreaterThanOrEqual(1);
    await expectConverged();
    const faults = h.fake
      .calls()
      .filter((c) => c.fault !== undefined)
      .map((c) => c.fault);
    expect(faults).toContain('status 429');
    expect(faults).toContain('status 500');
    // and then nothing to do
    expect((await sync().sync()).changed).toBe(false);
  });

  it('respects the limit of 3 per action: frees a slot before registering', async () => {
    const action = 'incoming_chat';
    const auth = `Basic ${Buffer.from(`d3f5b9a1-0000-4000-8000-00000000a11c:${CANARY.pat}`).toString('base64')}`;
    // fill the remaining two slots with unknown webhooks, then drop our known one
    for (let i = 0; i < 2; i += 1) {
      const r = await fetch(`${h.fake.apiUrl}/configuration/action/register_webhook`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: auth },
        body: JSON.stringify({
          owner_client_id: CLIENT_ID,
          type: 'license',
          secret_key: `x${i}`,
          action,
          url: `https://other.example.com/${i}`,
        }),
      });
      expect(r.status).toBe(200);
    }
    const fourth = await fetch(`${h.fake.apiUrl}/configuration/action/register_webhook`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: auth },
      body: JSON.stringify({
        owner_client_id: CLIENT_ID,
        type: 'license',
        secret_key: 'x',
        action,
        url: 'https://other.example.com/3',
      }),
    });
    expect(fourth.status).toBe(400);
    expect(((await fourth.json()) as { error: { type: string } }).error.type).toBe('limit_reached');
    const ours = (await h.deps.registry.liveRegistrations(CLIENT_ID)).find((r) => r.action === action)!;
    await h.deps.registry.setRegistrationStatus(ours.id, 'deleted'); // the registry forgot its secret
    const plan = await sync().plan();
    const steps = plan.filter((s) => s.action === action);
    expect(steps[0]).toMatchObject({ op: 'unregister', beforeRegister: true });
    expect(steps[1]).toMatchObject({ op: 'register' });
    await sync().sync();
    await expectConverged();
  });

  it('CLI: list, sync --dry-run, sync, unregister, rotate-secret print tables; nothing secret in output', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const env = {
      LIVECHAT_CLIENT_ID: CLIENT_ID,
      LIVECHAT_CLIENT_SECRET: CANARY.clientSecret,
      LIVECHAT_API_URL: h.fake.apiUrl,
      LIVECHAT_ACCOUNTS_URL: h.fake.accountsUrl,
      LIVECHAT_PAT: `d3f5b9a1-0000-4000-8000-00000000a11c:${CANARY.pat}`,
      APP_TOKEN_KEYS: `k1:${Buffer.alloc(32, 7).toString('base64')}`,
      APP_PUBLIC_URL: h.baseUrl,
      DATABASE_URL: h.db.url,
    };
    const io = { out: (t: string) => out.push(t), err: (t: string) => err.push(t), logger: h.deps.logger };
    expect(await runCli(['webhooks', 'list'], env, io)).toBe(0);
    expect(out.join('\n')).toMatch(/id\s+action\s+url\s+since\s+secret known\s+matches config/);
    expect(out.join('\n')).toContain(`${h.config.webhooks.length} webhook(s)`);
    out.length = 0;
    expect(await runCli(['webhooks', 'sync', '--dry-run'], env, io)).toBe(0);
    expect(out.join('\n')).toContain('in sync: nothing to do');
    const victim = h.fake.webhooks()[0]!;
    expect(await runCli(['webhooks', 'unregister', victim.id], env, io)).toBe(0);
    out.length = 0;
    expect(await runCli(['webhooks', 'sync', '--dry-run'], env, io)).toBe(0);
    expect(out.join('\n')).toMatch(new RegExp(`register\\s+${victim.action}`));
    expect(await runCli(['webhooks', 'sync'], env, io)).toBe(0);
    expect(out.join('\n')).toMatch(new RegExp(`registered\\s+${victim.action}`));
    const before = new Set(h.fake.webhooks().map((w) => w.id));
    out.length = 0;
    expect(await runCli(['webhooks', 'rotate-secret', '--overlap-seconds', '0'], env, io)).toBe(0);
    const after = h.fake.webhooks();
    expect(after.length).toBe(h.config.webhooks.length);
    for (const w of after) expect(before.has(w.id)).toBe(false);
    await expectConverged();
    expect(await runCli(['webhooks', 'bogus'], env, io)).toBe(64);
    const { LIVECHAT_PAT: _unused, ...noPat } = env;
    expect(await runCli(['webhooks', 'list'], noPat, io)).toBe(1);
    expect(err.join('\n')).toContain('LIVECHAT_PAT is not set');

    const printed = [...out, ...err, ...h.logs].join('\n');
    const columns = await dumpSchemaText(h.pool);
    for (const s of [CANARY.pat, CANARY.clientSecret, ...h.fake.webhooks().map((w) => w.secret_key)]) {
      expect(printed).not.toContain(s);
      expect(columns).not.toContain(s);
    }
  });
});
