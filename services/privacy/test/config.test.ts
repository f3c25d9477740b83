import { randomBytes } from 'node:crypto';
import { ServiceConfigError } from '@livechat-pipeline/service-host';
import { describe, expect, it } from 'vitest';
import { SWEEP_MARGIN_MS, loadPrivacyServiceConfig, parseCommand } from '../src/index.js';

const keys = {
  PRIVACY_KEYS: `k1:${randomBytes(32).toString('base64')}`,
  PRIVACY_EMAIL_HASH_KEY: randomBytes(32).toString('base64'),
};

describe('privacy service configuration', () => {
  it('defaults: every projection, retention forever, a daily job, the sweep after the key cache TTL', () => {
    const c = loadPrivacyServiceConfig({ ...keys, DATABASE_URL: 'postgres://u:p@db:5432/x' });
    expect(c.projections.map((p) => `${p.name}:${p.schema}`)).toEqual([
      'transcripts:transcripts',
      'analytics:analytics',
      'crm:crm',
    ]);
    expect(c.retentionDays).toBeNull();
    expect(c.retentionIntervalMs).toBe(86_400_000);
    expect(c.privacyDatabaseUrl).toBe('postgres://u:p@db:5432/x');
    expect(c.operations).toEqual({ host: '127.0.0.1', port: 8097 });
    // a job's lock and its work take two connections; readiness gets a third
    expect(c.poolSize).toBe(3);
    expect(loadPrivacyServiceConfig({ ...keys, PRIVACY_RETENTION_DAYS: ' ' }).retentionDays).toBeNull();
    expect(loadPrivacyServiceConfig({ ...keys, PRIVACY_RETENTION_DAYS: '90' }).retentionDays).toBe(90);
  });

  it("the sweep waits past every service's key cache TTL and a write retry, not this process's TTL alone", () => {
    // the default TTL (5 min) plus the margin
    expect(loadPrivacyServiceConfig(keys).sweepDelayMs).toBe(300_000 + SWEEP_MARGIN_MS);
    expect(loadPrivacyServiceConfig({ ...keys, PRIVACY_KEY_CACHE_TTL_MS: '1000' }).sweepDelayMs).toBe(
      1000 + SWEEP_MARGIN_MS,
    );
    expect(loadPrivacyServiceConfig({ ...keys, PRIVACY_SWEEP_DELAY_MS: '3600000' }).sweepDelayMs).toBe(
      3_600_000,
    );
    expect(() => loadPrivacyServiceConfig({ ...keys, PRIVACY_SWEEP_DELAY_MS: '1000' })).toThrow(
      /PRIVACY_SWEEP_DELAY_MS: must be at least PRIVACY_KEY_CACHE_TTL_MS \(300000\)/,
    );
  });

  it('names every bad variable in one error, never echoing a key', () => {
    let message = '';
    try {
      loadPrivacyServiceConfig({
        PRIVACY_KEYS: 'k1:short',
        PRIVACY_EMAIL_HASH_KEY: keys.PRIVACY_EMAIL_HASH_KEY,
        PRIVACY_RETENTION_DAYS: '0',
        PRIVACY_POOL_SIZE: '1',
        PRIVACY_PROJECTIONS: 'transcripts,billing',
      });
    } catch (error) {
      expect(error).toBeInstanceOf(ServiceConfigError);
      message = (error as Error).message;
    }
    for (const name of [
      'PRIVACY_KEYS',
      'PRIVACY_RETENTION_DAYS',
      'PRIVACY_POOL_SIZE',
      'PRIVACY_PROJECTIONS: "billing"',
    ])
      expect(message).toContain(name);
    expect(message).not.toContain(keys.PRIVACY_EMAIL_HASH_KEY);
    expect(() => loadPrivacyServiceConfig({})).toThrow(/PRIVACY_KEYS: is not set/);
  });

  it('takes the subject from standard input when given as -, never needing it on the command line', () => {
    expect(parseCommand(['erase', '--tenant', 't1', '--email', '-'])).toEqual({
      kind: 'erase',
      tenant: 't1',
      subject: { stdin: 'email' },
    });
    expect(parseCommand(['erase', '--tenant', 't1', '--customer-id', '-'])).toMatchObject({
      subject: { stdin: 'customer-id' },
    });
  });

  it('parses the CLI commands', () => {
    expect(parseCommand(['erase', '--tenant', 't1', '--email', 'a@b.c', '--request-id', 'r1'])).toEqual({
      kind: 'erase',
      tenant: 't1',
      subject: { email: 'a@b.c' },
      requestId: 'r1',
    });
    expect(parseCommand(['retention', '--tenant', 't1', '--default'])).toEqual({
      kind: 'retention',
      tenant: 't1',
      days: null,
    });
    expect(parseCommand(['rewrap'])).toEqual({ kind: 'rewrap' });
    expect(parseCommand(['audit', '--tenant', 't1', '--limit', '5'])).toEqual({
      kind: 'audit',
      tenant: 't1',
      limit: 5,
    });
  });
});
