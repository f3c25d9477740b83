import { describe, expect, it } from 'vitest';
import { mintDashboardLink, verifyDashboardLink } from '../src/link.js';

const SECRET = 'a-shared-secret-of-at-least-32-characters';
const query = (url: string) => Object.fromEntries(new URL(url).searchParams);

describe('the signed dashboard link', () => {
  const now = Date.parse('2026-11-29T04:00:00Z');
  const url = mintDashboardLink('http://127.0.0.1:8082', SECRET, 'org-1', now);

  it('names the tenant and verifies with the same secret until it expires', () => {
    expect(new URL(url).pathname).toBe('/dashboard/link');
    expect(verifyDashboardLink(SECRET, query(url), now + 1000)).toMatchObject({ ok: true, tenant: 'org-1' });
    expect(verifyDashboardLink(SECRET, query(url), now + 301_000)).toEqual({
      ok: false,
      code: 'DASHBOARD_LINK_EXPIRED',
    });
  });

  it('refuses another secret, another tenant, a later expiry and malformed fields', () => {
    const q = query(url);
    const invalid = { ok: false, code: 'DASHBOARD_LINK_INVALID' };
    expect(verifyDashboardLink(`${SECRET}x`, q, now)).toEqual(invalid);
    expect(verifyDashboardLink(SECRET, { ...q, tenant: 'org-2' }, now)).toEqual(invalid);
    expect(verifyDashboardLink(SECRET, { ...q, exp: String(Number(q['exp']) + 3600) }, now)).toEqual(invalid);
    expect(verifyDashboardLink(SECRET, { ...q, sig: 'x' }, now)).toEqual(invalid);
    expect(verifyDashboardLink(SECRET, {}, now)).toEqual(invalid);
  });
});
