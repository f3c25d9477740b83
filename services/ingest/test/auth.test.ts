import { describe, expect, it } from 'vitest';
import { parseBasicAuth } from '../src/auth/basic-auth.js';
import { SecretSet } from '../src/auth/secret-set.js';
import { StaticSecretVerifier } from '../src/auth/static-verifier.js';
import { resolveTenant } from '../src/tenant.js';
import { loadIngestConfig } from '../src/config.js';
import { tenantsFile, testConfig } from './support/env.js';
import { basicAuthHeader } from './support/fixtures.js';

describe('SecretSet', () => {
  it('matches any member, including secrets of different lengths', () => {
    const set = new SecretSet(['short', 'a-much-longer-secret-value']);
    expect(set.matches('short')).toBe(true);
    expect(set.matches('a-much-longer-secret-value')).toBe(true);
    expect(set.matches('shor')).toBe(false);
    expect(set.matches('')).toBe(false);
  });
});

describe('parseBasicAuth', () => {
  it('parses user and password (the password may contain colons)', () => {
    expect(parseBasicAuth(basicAuthHeader('u', 'p:w'))).toEqual({ user: 'u', password: 'p:w' });
  });
  it('tells missing from malformed', () => {
    expect(parseBasicAuth(undefined)).toBeUndefined();
    expect(parseBasicAuth('Bearer abc')).toBeNull();
    expect(parseBasicAuth(`Basic ${Buffer.from('nocolon').toString('base64')}`)).toBeNull();
  });
});

describe('StaticSecretVerifier', () => {
  const config = testConfig({
    LIVECHAT_SECRET_KEYS: 'old-key,new-key',
    LIVECHAT_BASIC_AUTH: 'lc:pw1,lc:pw2',
  });
  const verifier = new StaticSecretVerifier(config.auth);
  const subject = { tenant: 'org-1', action: 'incoming_event' };

  it('accepts every configured v3 secret_key (rotation without a gap)', () => {
    expect(verifier.verify({ format: 'v3', secretKey: 'old-key' }, subject)).toEqual({ ok: true });
    expect(verifier.verify({ format: 'v3', secretKey: 'new-key' }, subject)).toEqual({ ok: true });
  });

  it('refuses a wrong or missing v3 secret_key with a reason', () => {
    expect(verifier.verify({ format: 'v3', secretKey: 'nope' }, subject)).toEqual({
      ok: false,
      reason: 'bad_credentials',
    });
    expect(verifier.verify({ format: 'v3', secretKey: undefined }, subject)).toEqual({
      ok: false,
      reason: 'missing_credentials',
    });
  });

  it('checks v2 Basic credentials', () => {
    expect(verifier.verify({ format: 'v2', authorization: basicAuthHeader('lc', 'pw2') }, subject)).toEqual({
      ok: true,
    });
    expect(verifier.verify({ format: 'v2', authorization: basicAuthHeader('lc', 'pw3') }, subject)).toEqual({
      ok: false,
      reason: 'bad_credentials',
    });
    expect(
      verifier.verify({ format: 'v2', authorization: basicAuthHeader('other', 'pw1') }, subject),
    ).toEqual({ ok: false, reason: 'bad_credentials' });
    expect(verifier.verify({ format: 'v2', authorization: undefined }, subject)).toEqual({
      ok: false,
      reason: 'missing_credentials',
    });
    expect(verifier.verify({ format: 'v2', authorization: 'Token x' }, subject)).toEqual({
      ok: false,
      reason: 'malformed_credentials',
    });
  });

  it('accepts per-tenant secrets only for that tenant', () => {
    const tenantVerifier = new StaticSecretVerifier({
      basicAuth: [],
      secretKeys: [],
      tenants: { 'org-1': { secretKeys: ['tenant-key'], basicAuth: [{ user: 'u', password: 'p' }] } },
      globalSecretsAllowed: false,
    });
    expect(
      tenantVerifier.verify({ format: 'v3', secretKey: 'tenant-key' }, { tenant: 'org-1', action: 'a' }),
    ).toEqual({ ok: true });
    expect(
      tenantVerifier.verify({ format: 'v3', secretKey: 'tenant-key' }, { tenant: 'org-2', action: 'a' }).ok,
    ).toBe(false);
    expect(
      tenantVerifier.verify({ format: 'v3', secretKey: 'tenant-key' }, { tenant: null, action: 'a' }).ok,
    ).toBe(false);
    expect(
      tenantVerifier.verify(
        { format: 'v2', authorization: basicAuthHeader('u', 'p') },
        { tenant: 'org-1', action: 'a' },
      ),
    ).toEqual({ ok: true });
    expect(
      tenantVerifier.verify(
        { format: 'v2', authorization: basicAuthHeader('u', 'p') },
        { tenant: 'x', action: 'a' },
      ),
    ).toEqual({
      ok: false,
      reason: 'bad_credentials',
    });
    expect(
      tenantVerifier.verify(
        { format: 'v2', authorization: basicAuthHeader('u', 'p') },
        { tenant: null, action: 'a' },
      ).ok,
    ).toBe(false);
  });
});

describe('StaticSecretVerifier in multi-tenant mode', () => {
  const file = tenantsFile({ 'org-1': { secretKeys: ['tenant-key'], basicAuth: ['lic:tenant-pw'] } });
  const subject = { tenant: 'org-1', action: 'incoming_event' };

  it('accepts no global secret for a tenant unless INGEST_ALLOW_GLOBAL_SECRETS=true', () => {
    // The config refuses global secrets next to per-tenant ones; the verifier does not count them either.
    const strict = new StaticSecretVerifier({
      ...loadIngestConfig({ LIVECHAT_TENANT_SECRETS_FILE: file }).auth,
      secretKeys: ['global-key'],
      basicAuth: [{ user: 'g', password: 'global-pw' }],
    });
    expect(strict.verify({ format: 'v3', secretKey: 'global-key' }, subject)).toEqual({
      ok: false,
      reason: 'bad_credentials',
    });
    expect(strict.verify({ format: 'v3', secretKey: 'global-key' }, { tenant: null, action: 'a' })).toEqual({
      ok: false,
      reason: 'bad_credentials',
    });
    expect(
      strict.verify({ format: 'v2', authorization: basicAuthHeader('g', 'global-pw') }, subject),
    ).toEqual({ ok: false, reason: 'bad_credentials' });
    expect(strict.verify({ format: 'v3', secretKey: 'tenant-key' }, subject)).toEqual({ ok: true });

    const allowed = new StaticSecretVerifier(
      loadIngestConfig({
        LIVECHAT_TENANT_SECRETS_FILE: file,
        LIVECHAT_SECRET_KEYS: 'global-key',
        INGEST_ALLOW_GLOBAL_SECRETS: 'true',
      }).auth,
    );
    expect(allowed.verify({ format: 'v3', secretKey: 'global-key' }, subject)).toEqual({ ok: true });
  });

  it('binds v2 Basic credentials to their tenant', () => {
    const verifier = new StaticSecretVerifier(loadIngestConfig({ LIVECHAT_TENANT_SECRETS_FILE: file }).auth);
    expect(
      verifier.verify({ format: 'v2', authorization: basicAuthHeader('lic', 'tenant-pw') }, subject),
    ).toEqual({ ok: true });
    expect(
      verifier.verify(
        { format: 'v2', authorization: basicAuthHeader('lic', 'tenant-pw') },
        { tenant: 'org-2', action: 'a' },
      ).ok,
    ).toBe(false);
    expect(
      verifier.verify(
        { format: 'v2', authorization: basicAuthHeader('lic', 'tenant-pw') },
        { tenant: null, action: 'a' },
      ).ok,
    ).toBe(false);
  });
});

describe('resolveTenant: one tenant per delivery', () => {
  it('is the body tenant, else the path label, else none', () => {
    expect(resolveTenant('org-1', null)).toEqual({ tenant: 'org-1', source: 'body' });
    expect(resolveTenant('org-1', 'org-1')).toEqual({ tenant: 'org-1', source: 'body' });
    expect(resolveTenant(null, 'acme')).toEqual({ tenant: 'acme', source: 'path' });
    expect(resolveTenant(null, null)).toEqual({ tenant: null, source: 'none' });
  });

  it('refuses a body and a path that name different tenants', () => {
    expect(() => resolveTenant('org-b', 'org-a')).toThrow(
      expect.objectContaining({ code: 'INGEST_TENANT_MISMATCH', status: 401 }),
    );
  });
});
