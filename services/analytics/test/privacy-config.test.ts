import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { loadAnalyticsConfig } from '../src/config.js';

describe('analytics: privacy configuration', () => {
  const keys = {
    PRIVACY_KEYS: `k1:${randomBytes(32).toString('base64')}`,
    PRIVACY_EMAIL_HASH_KEY: randomBytes(32).toString('base64'),
  };

  it('is off without PRIVACY_KEYS, and on with it: the key store in DATABASE_URL by default, 2 connections', () => {
    expect(loadAnalyticsConfig({}).privacy).toBeNull();
    const on = loadAnalyticsConfig({ ...keys, DATABASE_URL: 'postgres://u:p@db:5432/projections' }).privacy;
    expect(on).toMatchObject({ databaseUrl: 'postgres://u:p@db:5432/projections', poolSize: 2 });
    const apart = loadAnalyticsConfig({
      ...keys,
      PRIVACY_DATABASE_URL: 'postgres://u:p@keys:5432/keys',
      ANALYTICS_PRIVACY_POOL_SIZE: '4',
    }).privacy;
    expect(apart).toMatchObject({ databaseUrl: 'postgres://u:p@keys:5432/keys', poolSize: 4 });
  });

  it('refuses a bad key as a configuration error naming the variable, never echoing the key', () => {
    const secret = randomBytes(16).toString('base64');
    let error: unknown;
    try {
      loadAnalyticsConfig({ ...keys, PRIVACY_KEYS: `k1:${secret}` });
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({
      code: 'SERVICE_BAD_CONFIG',
      message: expect.stringContaining('PRIVACY_KEYS'),
    });
    expect((error as Error).message).not.toContain(secret);
  });
});
