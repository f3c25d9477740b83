import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
