import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSealedToken } from '@livechat-pipeline/tenant-registry';
import { runCli } from '../src/cli.js';
import { CLIENT_ID, ORG, connectViaHttp, dumpSchemaText, startAppHarness } from './support/harness.js';
import type { AppHarness } from './support/harness.js';

// The tenant's HubSpot token for crm-sync: set with the CLI (from stdin), sealed like the OAuth tokens, opened by
// another reader with the same keys; the settings page shows the connection crm-sync reports.
const HUBSPOT_TOKEN = 'pat-na1-CANARY-hubspot-app-test';

describe('HubSpot token (crm-sync) in the tenant registry', () => {
  let h: AppHarness;
  beforeAll(async () => {
    h = await startAppHarness();
  });
  afterAll(async () => {
    await h?.close();
  });

  it('hubspot set-token seals the token for the tenant; the settings page shows the CRM connection', async () => {
    const flow = await connectViaHttp(h);
    const settings = async () =>
      (
        await fetch(`${h.baseUrl}/app/settings`, { headers: { cookie: flow.sessionCookie! } }).then((r) =>
          r.text(),
        )
      ).match(/<td id="crm-state"[^>]*>([^<]*)</)?.[1];
    expect(await settings()).toMatch(/^not set up/);

    const out: string[] = [];
    const err: string[] = [];
    const env = {
      LIVECHAT_CLIENT_ID: CLIENT_ID,
      LIVECHAT_CLIENT_SECRET: 'secret-for-this-test',
      APP_TOKEN_KEYS: h.config.tokenKeys.map((k) => `${k.id}:${k.key.toString('base64')}`).join(','),
      APP_PUBLIC_URL: h.baseUrl,
      DATABASE_URL: h.db.url,
    };
    const io = (secret: string) => ({
      out: (t: string) => out.push(t),
      err: (t: string) => err.push(t),
      logger: h.deps.logger,
      readSecret: () => Promise.resolve(secret),
    });
    expect(await runCli(['hubspot', 'set-token', 'no-such-org'], env, io(HUBSPOT_TOKEN))).toBe(1);
    expect(await runCli(['hubspot', 'set-token', ORG], env, io('short'))).toBe(64);
    expect(await runCli(['hubspot', 'set-token', ORG], env, io(`${HUBSPOT_TOKEN}\n`))).toBe(0);

    const tenant = (await h.deps.registry.listTenants(CLIENT_ID))[0]!;
    const sealed = await h.deps.registry.crmTokenFor(ORG);
    expect(sealed?.tenantId).toBe(tenant.id);
    const keys = new Map(h.config.tokenKeys.map((k) => [k.id, k.key] as const));
    expect(
      openSealedToken(keys, { keyId: sealed!.keyId, ciphertext: sealed!.tokenEnc }, `${tenant.id}/hubspot`),
    ).toBe(HUBSPOT_TOKEN);
    expect(() =>
      openSealedToken(keys, { keyId: sealed!.keyId, ciphertext: sealed!.tokenEnc }, 'other/hubspot'),
    ).toThrow(/failed authentication/);
    expect(await settings()).toBe('token set, not used yet');

    await h.deps.registry.setCrmStatus([tenant.id], 'broken', 'CRM_HUBSPOT_UNAUTHORIZED');
    expect(await settings()).toMatch(/^broken since .*: HubSpot refused the token/);
    await h.deps.registry.setCrmStatus([tenant.id], 'ok', null);
    expect(await settings()).toBe('connected');

    expect([...out, ...err, ...h.logs].join('\n')).not.toContain('CANARY');
    expect(await dumpSchemaText(h.pool)).not.toContain('CANARY');
  });
});
