import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tenantsFile, testConfig } from './support/env.js';
import { FIXTURE_V3_SECRET, basicAuthHeader, fixture, loadFixtures, redacted } from './support/fixtures.js';
import { postWebhook, readRawRecords, startTestIngest, topicRecordCount } from './support/harness.js';
import type { TestIngest } from './support/harness.js';

describe('POST /webhooks/livechat on the real stack', () => {
  let ingest: TestIngest;
  beforeAll(async () => {
    ingest = await startTestIngest();
  });
  afterAll(async () => {
    await ingest.close();
  });

  it('stores every fixture, redacted, readable through the registry; duplicates share the event_id', async () => {
    const fixtures = loadFixtures();
    const eventIds = new Map<string, string>();
    const before = Date.now() * 1000;
    // Concurrently, so the batcher really batches.
    const responses = await Promise.all(fixtures.map((f) => postWebhook(ingest, f.body)));
    responses.forEach((res, i) => {
      expect(res.statusCode, `${fixtures[i]?.name}: ${res.body}`).toBe(200);
      const json = res.json<{ status: string; event_id: string }>();
      expect(json.status).toBe('stored');
      eventIds.set(fixtures[i]?.name ?? '', json.event_id);
    });
    // Redeliveries of two of them.
    const dupA = await postWebhook(ingest, fixture('v3.6-incoming_event-file'));
    const dupB = await postWebhook(ingest, fixture('v2-chat_ended-supervisor-whisper'));
    expect(dupA.json<{ event_id: string }>().event_id).toBe(eventIds.get('v3.6-incoming_event-file.json'));
    expect(dupB.json<{ event_id: string }>().event_id).toBe(
      eventIds.get('v2-chat_ended-supervisor-whisper.json'),
    );

    const records = await readRawRecords(ingest.topic, fixtures.length + 2);
    expect(records).toHaveLength(fixtures.length + 2);
    expect(new Set(records.map((r) => r.schemaId)).size).toBe(1);
    expect(records[0]?.schemaId).toBe(ingest.runtime.schema.id);

    for (const f of fixtures) {
      const id = eventIds.get(f.name);
      const mine = records.filter((r) => r.value.event_id === id);
      const copies =
        f.name === 'v3.6-incoming_event-file.json' || f.name === 'v2-chat_ended-supervisor-whisper.json'
          ? 2
          : 1;
      expect(mine, f.name).toHaveLength(copies);
      for (const r of mine) {
        expect(JSON.parse(r.value.body), f.name).toEqual(redacted(f.body));
        expect(r.value.format).toBe('event_type' in f.body ? 'v2' : 'v3');
        expect(r.value.action).toBe(f.body.action ?? f.body.event_type);
        expect(r.value.received_at).toBeGreaterThanOrEqual(before);
        expect(r.value.received_at).toBeLessThanOrEqual(Date.now() * 1000);
        expect(r.value.user_agent).toBe('LiveChat-Webhooks/test');
        expect(r.value.sealed, 'privacy off: nothing sealed').toBeNull();
        expect(r.value.content_length).toBe(Buffer.byteLength(JSON.stringify(f.body)));
        expect(r.key.startsWith(`${r.value.tenant ?? ''}|`)).toBe(true);
        if (r.value.chat_id !== null) expect(r.key).toBe(`${r.value.tenant ?? ''}|${r.value.chat_id}`);
      }
      if (copies === 2) expect(mine[0]?.partition).toBe(mine[1]?.partition);
    }
    // One chat, one partition.
    const chatPartitions = new Set(
      records.filter((r) => r.value.chat_id === 'PJ0MRSHTDG').map((r) => r.partition),
    );
    expect(chatPartitions.size).toBe(1);
  });
});

describe('tenants', () => {
  let ingest: TestIngest;
  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ingest-tenants-'));
    const file = join(dir, 'tenants.json');
    writeFileSync(
      file,
      JSON.stringify({ tenants: { 'org-with-own-key': { secretKeys: ['tenant-only-key'] } } }),
    );
    // The fixture's global secrets next to per-tenant ones: only with the explicit setting.
    ingest = await startTestIngest({
      LIVECHAT_TENANT_SECRETS_FILE: file,
      INGEST_ALLOW_GLOBAL_SECRETS: 'true',
    });
  });
  afterAll(async () => {
    await ingest.close();
  });

  it('takes the tenant from the path label when the body has none, and checks per-tenant secrets', async () => {
    const noTenant = fixture('v3.6-no-tenant');
    const viaPath = await postWebhook(ingest, noTenant, { path: '/webhooks/livechat/acme-eu' });
    expect(viaPath.statusCode).toBe(200);

    const own = {
      ...fixture('v3.6-thread_tagged'),
      organization_id: 'org-with-own-key',
      secret_key: 'tenant-only-key',
    };
    expect((await postWebhook(ingest, own)).statusCode).toBe(200);
    const foreign = { ...own, organization_id: 'some-other-org' };
    const refused = await postWebhook(ingest, foreign);
    expect(refused.statusCode).toBe(401);

    const bad = await postWebhook(ingest, noTenant, { path: '/webhooks/livechat/bad%20label' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json<{ code: string }>().code).toBe('INGEST_INVALID_TENANT_LABEL');

    const records = await readRawRecords(ingest.topic, 2);
    expect(records.map((r) => [r.value.tenant, r.value.tenant_source, r.key])).toEqual(
      expect.arrayContaining([
        ['acme-eu', 'path', 'acme-eu|Q1'],
        ['org-with-own-key', 'body', 'org-with-own-key|PJ0MRSHTDG'],
      ]),
    );
  });
});

describe('one tenant per delivery', () => {
  let ingest: TestIngest;
  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ingest-one-tenant-'));
    const file = join(dir, 'tenants.json');
    writeFileSync(
      file,
      JSON.stringify({
        tenants: {
          'org-A': { secretKeys: ['secret-of-A'] },
          'org-B': { secretKeys: ['secret-of-B'] },
          '1111111': { basicAuth: ['lic-a:pw-of-A'] },
          '2222222': { basicAuth: ['lic-b:pw-of-B'] },
        },
      }),
    );
    // Multi-tenant: only per-tenant secrets (no global ones).
    ingest = await startTestIngest({
      LIVECHAT_TENANT_SECRETS_FILE: file,
      LIVECHAT_SECRET_KEYS: '',
      LIVECHAT_BASIC_AUTH: '',
    });
  });
  afterAll(async () => {
    await ingest.close();
  });

  const v3For = (organizationId: string, secret: string) => ({
    ...fixture('v3.6-thread_tagged'),
    organization_id: organizationId,
    secret_key: secret,
  });
  const v2For = (licenseId: number) => ({ ...fixture('v2-chat_started-no-survey'), license_id: licenseId });

  it("v3: tenant A's secret on A's URL with organization_id B is 401 INGEST_TENANT_MISMATCH and writes nothing", async () => {
    const forged = await postWebhook(ingest, v3For('org-B', 'secret-of-A'), {
      path: '/webhooks/livechat/org-A',
    });
    expect(forged.statusCode).toBe(401);
    expect(forged.json<{ code: string }>().code).toBe('INGEST_TENANT_MISMATCH');
    // B's own secret does not help either: the path names A.
    const mixed = await postWebhook(ingest, v3For('org-B', 'secret-of-B'), {
      path: '/webhooks/livechat/org-A',
    });
    expect(mixed.statusCode).toBe(401);
    expect(mixed.json<{ code: string }>().code).toBe('INGEST_TENANT_MISMATCH');
    // Without a path label, A's secret is checked against B (the body's tenant) and refused.
    const noLabel = await postWebhook(ingest, v3For('org-B', 'secret-of-A'));
    expect(noLabel.statusCode).toBe(401);
    expect(noLabel.json<{ code: string }>().code).toBe('INGEST_UNAUTHENTICATED');
    expect(await topicRecordCount(ingest.topic)).toBe(0);
  });

  it("multi-tenant: a global secret is no tenant's secret (the config refuses it; the verifier ignores it)", async () => {
    // The harness's fixture secrets are global; the config above refuses them without INGEST_ALLOW_GLOBAL_SECRETS.
    expect(() =>
      testConfig({ LIVECHAT_TENANT_SECRETS_FILE: tenantsFile({ 'org-A': { secretKeys: ['secret-of-A'] } }) }),
    ).toThrow(/INGEST_ALLOW_GLOBAL_SECRETS=true/);
    const global = await postWebhook(ingest, v3For('org-A', FIXTURE_V3_SECRET), {
      path: '/webhooks/livechat/org-A',
    });
    expect(global.statusCode).toBe(401);
    const v2Global = await postWebhook(ingest, v2For(1111111), {
      headers: { authorization: basicAuthHeader() },
    });
    expect(v2Global.statusCode).toBe(401);
    expect(await topicRecordCount(ingest.topic)).toBe(0);
  });

  it("v2: licence A's Basic credentials on A's URL with license_id B are 401 and write nothing", async () => {
    const forged = await postWebhook(ingest, v2For(2222222), {
      path: '/webhooks/livechat/1111111',
      headers: { authorization: basicAuthHeader('lic-a', 'pw-of-A') },
    });
    expect(forged.statusCode).toBe(401);
    expect(forged.json<{ code: string }>().code).toBe('INGEST_TENANT_MISMATCH');
    const noLabel = await postWebhook(ingest, v2For(2222222), {
      headers: { authorization: basicAuthHeader('lic-a', 'pw-of-A') },
    });
    expect(noLabel.statusCode).toBe(401);
    expect(noLabel.json<{ code: string }>().code).toBe('INGEST_UNAUTHENTICATED');
    expect(await topicRecordCount(ingest.topic)).toBe(0);
  });

  it("v2: licence A's Basic credentials with an organization_id naming B are 401 and write nothing (the parser's precedence)", async () => {
    // The normalizer maps a body to organization_id before license_id; the ingest must check that same tenant.
    const withLicence = { ...v2For(1111111), organization_id: 'org-B' };
    const forged = await postWebhook(ingest, withLicence, {
      headers: { authorization: basicAuthHeader('lic-a', 'pw-of-A') },
    });
    expect(forged.statusCode).toBe(401);
    expect(forged.json<{ code: string }>().code).toBe('INGEST_UNAUTHENTICATED');
    const { license_id: _dropped, ...noLicence } = withLicence;
    const viaLabel = await postWebhook(ingest, noLicence, {
      path: '/webhooks/livechat/1111111',
      headers: { authorization: basicAuthHeader('lic-a', 'pw-of-A') },
    });
    expect(viaLabel.statusCode).toBe(401);
    expect(viaLabel.json<{ code: string }>().code).toBe('INGEST_TENANT_MISMATCH');
    expect(await topicRecordCount(ingest.topic)).toBe(0);
  });

  it('stores a genuine delivery under its one tenant, with or without the matching label', async () => {
    const viaLabel = await postWebhook(ingest, v3For('org-A', 'secret-of-A'), {
      path: '/webhooks/livechat/org-A',
    });
    expect(viaLabel.statusCode).toBe(200);
    const v2 = await postWebhook(ingest, v2For(2222222), {
      headers: { authorization: basicAuthHeader('lic-b', 'pw-of-B') },
    });
    expect(v2.statusCode).toBe(200);
    const records = await readRawRecords(ingest.topic, 2);
    expect(records.map((r) => [r.value.tenant, r.value.tenant_source]).sort()).toEqual([
      ['2222222', 'body'],
      ['org-A', 'body'],
    ]);
    expect(await topicRecordCount(ingest.topic)).toBe(2);
  });
});
