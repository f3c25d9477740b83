import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TenantRegistry, hashWebhookSecret, migrateRegistry } from '@livechat-pipeline/tenant-registry';
import { createTestDatabase, type TestDatabase } from '@livechat-pipeline/testkit';
import { tenantsFile } from './support/env.js';
import { fixture } from './support/fixtures.js';
import { startTestIngest, type TestIngest } from './support/harness.js';

/** `ingest_tenant_webhooks_total{tenant="…"} N` lines of a scrape, as tenant -> N. */
function tenantCounts(exposition: string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const match of exposition.matchAll(/^ingest_tenant_webhooks_total\{tenant="([^"]*)"\} (\d+)$/gm))
    counts[match[1]!] = Number(match[2]);
  return counts;
}

describe('webhooks per tenant on /metrics', () => {
  let ingest: TestIngest;
  beforeAll(async () => {
    ingest = await startTestIngest({
      LIVECHAT_TENANT_SECRETS_FILE: tenantsFile({ 'org-known': { secretKeys: ['known-tenant-key'] } }),
      LIVECHAT_SECRET_KEYS: 'global-key',
      LIVECHAT_BASIC_AUTH: '',
      INGEST_ALLOW_GLOBAL_SECRETS: 'true',
    });
  });
  afterAll(async () => {
    await ingest.close();
  });

  it('counts a registered tenant under its id and every other tenant in one bucket', async () => {
    const post = (organizationId: string, secretKey: string) =>
      ingest.app.inject({
        method: 'POST',
        url: '/webhooks/livechat',
        payload: JSON.stringify({
          ...fixture('v3.6-incoming_event-file'),
          organization_id: organizationId,
          secret_key: secretKey,
        }),
        headers: { 'content-type': 'application/json' },
      });
    // given: two deliveries of the registered tenant, and three of tenants only the global secret lets in
    for (const [org, key] of [
      ['org-known', 'known-tenant-key'],
      ['org-known', 'known-tenant-key'],
      ['org-a', 'global-key'],
      ['org-b', 'global-key'],
      ['org-c', 'global-key'],
    ] as const)
      expect((await post(org, key)).statusCode).toBe(200);
    // and: a refused one, which is not counted
    expect((await post('org-known', 'wrong-key')).statusCode).toBe(401);

    // then: the scrape has exactly two series
    const res = await fetch(`${ingest.operationsUrl}/metrics`);
    expect(tenantCounts(await res.text())).toEqual({ 'org-known': 2, _unregistered: 3 });
  });
});

describe("webhooks per tenant of the app's registry", () => {
  const org = 'c3b1a0de-6a58-4c1e-9d4e-7a1f0e2b5c11';
  let db: TestDatabase;
  let pool: pg.Pool;
  let ingest: TestIngest;
  beforeAll(async () => {
    db = await createTestDatabase('ingest-tenant-metrics');
    pool = new pg.Pool({ connectionString: db.url, max: 2 });
    await migrateRegistry(pool);
    const registry = new TenantRegistry(pool);
    await registry.recordInstall({ clientId: 'app-client', organizationId: org, licenseId: '555' });
    await registry.addRegistration({
      id: 'wh-metrics',
      ownerClientId: 'app-client',
      action: 'incoming_event',
      url: 'https://ingest.example.com/webhooks/livechat',
      secretHash: hashWebhookSecret('registry-tenant-key'),
      definition: {},
    });
    ingest = await startTestIngest({
      INGEST_TENANT_REGISTRY_DATABASE_URL: db.url,
      INGEST_ALLOW_GLOBAL_SECRETS: 'true',
      LIVECHAT_SECRET_KEYS: 'global-key',
      LIVECHAT_BASIC_AUTH: '',
    });
  });
  afterAll(async () => {
    await ingest?.close();
    await pool?.end();
    await db?.drop();
  });

  it('counts an installed tenant under its id, and another let in by a global secret in the bucket', async () => {
    const post = (organizationId: string, secretKey: string) =>
      ingest.app.inject({
        method: 'POST',
        url: '/webhooks/livechat',
        payload: JSON.stringify({
          ...fixture('v3.6-incoming_event-file'),
          organization_id: organizationId,
          secret_key: secretKey,
        }),
        headers: { 'content-type': 'application/json' },
      });
    expect((await post(org, 'registry-tenant-key')).statusCode).toBe(200);
    expect((await post('org-elsewhere', 'global-key')).statusCode).toBe(200);
    const res = await fetch(`${ingest.operationsUrl}/metrics`);
    expect(tenantCounts(await res.text())).toEqual({ [org]: 1, _unregistered: 1 });
  });
});
