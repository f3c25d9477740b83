import { describe, expect, it } from 'vitest';
import { UNREGISTERED_TENANT, tenantMetricLabel } from '../src/tenant-metric.js';

describe('the tenant label of ingest_tenant_webhooks_total', () => {
  const registered = new Set(['org-1', '12345']);
  const isRegistered = (tenant: string) => registered.has(tenant);

  it('is the id of a registered tenant', () => {
    expect(tenantMetricLabel('org-1', isRegistered)).toBe('org-1');
    expect(tenantMetricLabel('12345', isRegistered)).toBe('12345');
  });

  it('is one bucket for every other tenant id, for none, and without a registry', () => {
    expect(tenantMetricLabel('org-2', isRegistered)).toBe(UNREGISTERED_TENANT);
    expect(tenantMetricLabel(null, isRegistered)).toBe(UNREGISTERED_TENANT);
    expect(tenantMetricLabel('org-1', undefined)).toBe(UNREGISTERED_TENANT);
    // a sender choosing many ids cannot add series: a thousand unknown ids make one label value
    const labels = new Set(Array.from({ length: 1000 }, (_, i) => tenantMetricLabel(`x-${i}`, isRegistered)));
    expect([...labels]).toEqual([UNREGISTERED_TENANT]);
  });
});
