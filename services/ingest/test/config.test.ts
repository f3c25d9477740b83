import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadIngestConfig } from '../src/config.js';
import { IngestConfigError } from '../src/errors.js';
import { tenantsFile } from './support/env.js';

const secrets = { LIVECHAT_SECRET_KEYS: 'k1' };

function problemsOf(env: NodeJS.ProcessEnv): readonly string[] {
  try {
    loadIngestConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(IngestConfigError);
    return (err as IngestConfigError).problems;
  }
  throw new Error('expected a config error');
}

describe('loadIngestConfig', () => {
  it('defaults point at the local stack', () => {
    const config = loadIngestConfig(secrets);
    expect(config.http).toEqual({
      host: '127.0.0.1',
      port: 8080,
      bodyLimitBytes: 1024 * 1024,
      json: { maxDepth: 64, maxNodes: 100_000 },
      requestDeadlineMs: 5000,
      shutdownTimeoutMs: 10_000,
      trustTraceparent: false,
    });
    expect(config.kafka.brokers).toEqual(['127.0.0.1:59092']);
    expect(config.registry.url).toBe('http://127.0.0.1:58081/apis/ccompat/v7');
    expect(config.rawTopic).toEqual({ name: 'livechat.webhooks.raw', partitions: 6, refreshMs: 30_000 });
    expect(config.kafka.replicationFactor).toBe(1);
    expect(config.batch).toEqual({ lingerMs: 2, maxRecords: 500, maxBytes: 1024 * 1024 });
    expect(config.producers).toBe(1);
    expect(config.operations).toEqual({ host: '127.0.0.1', port: 8092, readinessCacheMs: 1000 });
  });

  it('the spool is off unless INGEST_SPOOL_DIR is set, and its budget fits inside the request deadline', () => {
    expect(loadIngestConfig(secrets).spool).toBeUndefined();
    expect(loadIngestConfig({ ...secrets, INGEST_SPOOL_DIR: '/var/spool/ingest' }).spool).toEqual({
      dir: '/var/spool/ingest',
      maxBytes: 1024 * 1024 * 1024,
      afterMs: 2000,
      segmentBytes: 16 * 1024 * 1024,
      traceHeaders: false,
    });
    expect(
      loadIngestConfig({ ...secrets, INGEST_SPOOL_DIR: '/s', INGEST_SPOOL_TRACE_HEADERS: 'true' }).spool
        ?.traceHeaders,
    ).toBe(true);
    expect(problemsOf({ ...secrets, INGEST_SPOOL_DIR: '/s', INGEST_SPOOL_TRACE_HEADERS: 'maybe' })).toEqual([
      expect.stringContaining('INGEST_SPOOL_TRACE_HEADERS'),
    ]);
    expect(
      problemsOf({
        ...secrets,
        INGEST_SPOOL_DIR: '/s',
        INGEST_SPOOL_AFTER_MS: '5000',
        INGEST_SPOOL_MAX_BYTES: '100000',
        INGEST_SPOOL_SEGMENT_BYTES: '30000',
      }),
    ).toEqual([
      expect.stringMatching(
        /^INGEST_SPOOL_AFTER_MS \(5000\) must be less than INGEST_REQUEST_DEADLINE_MS \(5000\)/,
      ),
      expect.stringMatching(
        /^INGEST_SPOOL_SEGMENT_BYTES \(30000\) must be at most a quarter of INGEST_SPOOL_MAX_BYTES/,
      ),
      expect.stringMatching(/^INGEST_SPOOL_MAX_BYTES \(100000\) must hold at least one largest webhook/),
    ]);
  });

  it('keeps the operations port apart from the webhook port', () => {
    expect(problemsOf({ ...secrets, INGEST_PORT: '9000', INGEST_OPERATIONS_PORT: '9000' }).join()).toMatch(
      /^INGEST_OPERATIONS_PORT: must differ from INGEST_PORT/,
    );
  });

  it('reads INGEST_PRODUCERS (1-64)', () => {
    expect(loadIngestConfig({ ...secrets, INGEST_PRODUCERS: '3' }).producers).toBe(3);
    for (const bad of ['0', '65', '1.5', 'two']) {
      expect(problemsOf({ ...secrets, INGEST_PRODUCERS: bad }).join(), bad).toMatch(/^INGEST_PRODUCERS: /);
    }
  });

  it('returns a deeply frozen object', () => {
    const config = loadIngestConfig(secrets);
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.http)).toBe(true);
    expect(Object.isFrozen(config.auth.secretKeys)).toBe(true);
  });

  it('parses the comma-separated secret lists (for rotation)', () => {
    const config = loadIngestConfig({
      LIVECHAT_SECRET_KEYS: ' old , new ',
      LIVECHAT_BASIC_AUTH: 'a:p:w,b:x',
    });
    expect(config.auth.secretKeys).toEqual(['old', 'new']);
    expect(config.auth.basicAuth).toEqual([
      { user: 'a', password: 'p:w' },
      { user: 'b', password: 'x' },
    ]);
  });

  it('lists every bad variable at once, without echoing values', () => {
    const problems = problemsOf({
      ...secrets,
      INGEST_PORT: 'eighty',
      KAFKA_BROKERS: 'nohostport',
      INGEST_BODY_LIMIT_BYTES: '-5',
      SCHEMA_REGISTRY_URL: 'not a url',
      LIVECHAT_BASIC_AUTH: 'user-without-password-s3cret',
    });
    const text = problems.join('\n');
    for (const name of [
      'INGEST_PORT',
      'KAFKA_BROKERS',
      'INGEST_BODY_LIMIT_BYTES',
      'SCHEMA_REGISTRY_URL',
      'LIVECHAT_BASIC_AUTH',
    ]) {
      expect(text).toContain(name);
    }
    expect(text).not.toContain('s3cret');
  });

  it('names the cluster settings that do not fit together (service-host), never a password', () => {
    const problems = problemsOf({
      ...secrets,
      KAFKA_SASL_MECHANISM: 'scram-sha-512',
      KAFKA_SASL_PASSWORD: 'kafka-s3cret',
      KAFKA_REPLICATION_FACTOR: '3',
      KAFKA_MIN_INSYNC_REPLICAS: '1',
    });
    expect(problems).toContain('KAFKA_SASL_USERNAME: is needed with KAFKA_SASL_MECHANISM=scram-sha-512');
    expect(problems.join('\n')).toMatch(
      /KAFKA_MIN_INSYNC_REPLICAS: 1 with KAFKA_REPLICATION_FACTOR=3 is refused/,
    );
    expect(problems.join('\n')).not.toContain('kafka-s3cret');
    expect(problemsOf({ ...secrets, PGSSLMODE: 'yes' }).join('\n')).toContain('PGSSLMODE: must be one of');
  });

  it('refuses to start with no secret at all, also next to other problems', () => {
    expect(problemsOf({}).join()).toMatch(
      /LIVECHAT_BASIC_AUTH.*LIVECHAT_SECRET_KEYS.*LIVECHAT_TENANT_SECRETS_FILE/,
    );
    const both = problemsOf({ INGEST_PORT: 'x' });
    expect(both).toHaveLength(2);
  });

  it('reads per-tenant secrets from a JSON file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ingest-config-'));
    const file = join(dir, 'tenants.json');
    writeFileSync(
      file,
      JSON.stringify({
        tenants: { '1025707': { basicAuth: ['u:p'] }, 'org-1': { secretKeys: ['s1', 's2'] } },
      }),
    );
    const config = loadIngestConfig({ LIVECHAT_TENANT_SECRETS_FILE: file });
    expect(config.auth.tenants['1025707']).toEqual({
      secretKeys: [],
      basicAuth: [{ user: 'u', password: 'p' }],
    });
    expect(config.auth.tenants['org-1']?.secretKeys).toEqual(['s1', 's2']);
  });

  it('names a broken tenant secrets file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ingest-config-'));
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{"tenants": {"x": {"secretKeys": "not-a-list"}}}');
    expect(problemsOf({ LIVECHAT_TENANT_SECRETS_FILE: bad }).join()).toMatch(
      /LIVECHAT_TENANT_SECRETS_FILE: .*bad\.json does not match/,
    );
    expect(problemsOf({ LIVECHAT_TENANT_SECRETS_FILE: join(dir, 'missing.json') }).join()).toMatch(
      /cannot be read/,
    );
  });
});

describe('global secrets are for single-tenant deployments', () => {
  const file = tenantsFile({ 'org-1': { secretKeys: ['tenant-key'] } });
  const registry = 'postgres://ingest@127.0.0.1:55432/postgres';

  it('refuses LIVECHAT_SECRET_KEYS / LIVECHAT_BASIC_AUTH next to per-tenant secrets or the registry, in one line', () => {
    for (const env of [
      { LIVECHAT_TENANT_SECRETS_FILE: file, LIVECHAT_SECRET_KEYS: 'g' },
      { LIVECHAT_TENANT_SECRETS_FILE: file, LIVECHAT_BASIC_AUTH: 'u:p' },
      { INGEST_TENANT_REGISTRY_DATABASE_URL: registry, LIVECHAT_SECRET_KEYS: 'g' },
    ]) {
      const problems = problemsOf(env);
      expect(problems).toHaveLength(1);
      expect(problems[0]).toMatch(
        /^LIVECHAT_SECRET_KEYS \/ LIVECHAT_BASIC_AUTH .*INGEST_ALLOW_GLOBAL_SECRETS=true/,
      );
      expect(problems[0]).not.toContain('\n');
    }
  });

  it('accepts them there only with INGEST_ALLOW_GLOBAL_SECRETS=true', () => {
    const config = loadIngestConfig({
      INGEST_TENANT_REGISTRY_DATABASE_URL: registry,
      LIVECHAT_SECRET_KEYS: 'g',
      INGEST_ALLOW_GLOBAL_SECRETS: 'true',
    });
    expect(config.auth.globalSecretsAllowed).toBe(true);
    expect(loadIngestConfig({ LIVECHAT_TENANT_SECRETS_FILE: file }).auth.globalSecretsAllowed).toBe(false);
    expect(loadIngestConfig({ LIVECHAT_SECRET_KEYS: 'g' }).auth.globalSecretsAllowed).toBe(true);
    expect(problemsOf({ LIVECHAT_SECRET_KEYS: 'g', INGEST_ALLOW_GLOBAL_SECRETS: 'yes' }).join()).toMatch(
      /^INGEST_ALLOW_GLOBAL_SECRETS: must be true or false/,
    );
  });
});

describe('local secrets never leave the laptop', () => {
  const file = tenantsFile({ 'org-1': { secretKeys: ['tenant-key'] } });

  it('INGEST_LOCAL_DEV_SECRETS=true gives the local secrets on loopback outside production', () => {
    for (const host of ['127.0.0.1', 'localhost', '::1', '127.0.0.2']) {
      const config = loadIngestConfig({
        INGEST_LOCAL_DEV_SECRETS: 'true',
        INGEST_HOST: host,
        NODE_ENV: 'development',
      });
      expect(config.auth.localDevSecrets).toBe(true);
      expect(config.auth.secretKeys).toEqual(['local-dev-secret']);
      expect(config.auth.basicAuth).toEqual([{ user: 'livechat', password: 'local-dev-password' }]);
    }
    expect(loadIngestConfig({ LIVECHAT_SECRET_KEYS: 'mine' }).auth.localDevSecrets).toBe(false);
  });

  it.each([
    ['NODE_ENV=production', { NODE_ENV: 'production' }],
    ['a non-loopback INGEST_HOST', { INGEST_HOST: '0.0.0.0' }],
    ['the tenant registry', { INGEST_TENANT_REGISTRY_DATABASE_URL: 'postgres://x@127.0.0.1/db' }],
    ['per-tenant secrets', { LIVECHAT_TENANT_SECRETS_FILE: file }],
    ['static secrets', { LIVECHAT_SECRET_KEYS: 'mine' }],
  ])('refuses INGEST_LOCAL_DEV_SECRETS=true with %s, in one line saying what to set', (_name, env) => {
    const problems = problemsOf({ INGEST_LOCAL_DEV_SECRETS: 'true', ...env });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(
      /^INGEST_LOCAL_DEV_SECRETS=true is refused with .*; unset INGEST_LOCAL_DEV_SECRETS and set LIVECHAT_SECRET_KEYS/,
    );
    try {
      loadIngestConfig({ INGEST_LOCAL_DEV_SECRETS: 'true', ...env });
    } catch (err) {
      expect((err as Error).message.split('\n')).toHaveLength(1);
    }
  });

  it('refuses the local values set by hand in production or on a public address', () => {
    for (const env of [
      { NODE_ENV: 'production', LIVECHAT_SECRET_KEYS: 'local-dev-secret' },
      { INGEST_HOST: '0.0.0.0', LIVECHAT_BASIC_AUTH: 'livechat:local-dev-password' },
      {
        NODE_ENV: 'production',
        LIVECHAT_TENANT_SECRETS_FILE: tenantsFile({ t: { secretKeys: ['local-dev-secret'] } }),
      },
    ]) {
      expect(problemsOf(env).join(), JSON.stringify(env)).toMatch(
        /local development secrets .* are public and refused/,
      );
    }
    // On a laptop they are just values.
    expect(loadIngestConfig({ LIVECHAT_SECRET_KEYS: 'local-dev-secret' }).auth.secretKeys).toEqual([
      'local-dev-secret',
    ]);
  });

  describe('privacy', () => {
    const keys = () => ({
      PRIVACY_KEYS: `k1:${randomBytes(32).toString('base64')}`,
      PRIVACY_EMAIL_HASH_KEY: randomBytes(32).toString('base64'),
    });
    const registry = 'postgres://ingest@db.example:5432/app';

    it('is off without PRIVACY_KEYS, and DATABASE_URL is not even read then', () => {
      expect(loadIngestConfig(secrets).privacy).toBeUndefined();
      expect(loadIngestConfig({ ...secrets, DATABASE_URL: 'not a url' }).privacy).toBeUndefined();
    });

    it('is on with PRIVACY_KEYS: PRIVACY_DATABASE_URL, else the tenant registry, else DATABASE_URL', () => {
      const env = { ...secrets, ...keys() };
      const own = loadIngestConfig({
        ...env,
        PRIVACY_DATABASE_URL: 'postgres://k@keys.example/keys',
        DATABASE_URL: 'postgres://x@other/db',
      }).privacy;
      expect(own).toMatchObject({
        databaseUrl: 'postgres://k@keys.example/keys',
        poolSize: 2,
        connectTimeoutMs: 2000,
        queryTimeoutMs: 2000,
      });
      expect(own?.keys.activeKeyId).toBe('k1');
      expect(own?.keys.schema).toBe('privacy');
      const viaRegistry = loadIngestConfig({
        LIVECHAT_TENANT_SECRETS_FILE: tenantsFile({ t: { secretKeys: ['s'] } }),
        INGEST_TENANT_REGISTRY_DATABASE_URL: registry,
        DATABASE_URL: 'postgres://x@other/db',
        ...keys(),
      }).privacy;
      expect(viaRegistry?.databaseUrl).toBe(registry);
      expect(
        loadIngestConfig({ ...env, DATABASE_URL: 'postgres://x@other/db', INGEST_PRIVACY_POOL_SIZE: '5' })
          .privacy,
      ).toMatchObject({ databaseUrl: 'postgres://x@other/db', poolSize: 5 });
    });

    it('refuses keys without a key store, naming the variables, and bad privacy settings, never echoing a key', () => {
      const env = { ...secrets, ...keys() };
      expect(problemsOf(env)).toEqual([
        expect.stringMatching(
          /^PRIVACY_DATABASE_URL: required when PRIVACY_KEYS is set .*INGEST_TENANT_REGISTRY_DATABASE_URL or DATABASE_URL/,
        ),
      ]);
      expect(problemsOf({ ...env, DATABASE_URL: 'mysql://x' })).toEqual([
        expect.stringContaining('DATABASE_URL'),
      ]);
      const badKey = 'k1:' + Buffer.from('short').toString('base64');
      const problems = problemsOf({ ...env, PRIVACY_KEYS: badKey, PRIVACY_DATABASE_URL: registry });
      expect(problems.join()).toMatch(/PRIVACY_KEYS: key "k1": must be 32 bytes/);
      expect(problems.join()).not.toContain(Buffer.from('short').toString('base64'));
      expect(
        problemsOf({ ...secrets, PRIVACY_EMAIL_HASH_KEY: keys().PRIVACY_EMAIL_HASH_KEY }).join(),
      ).toMatch(/PRIVACY_KEYS: required when PRIVACY_EMAIL_HASH_KEY is set/);
      expect(
        problemsOf({ ...env, PRIVACY_DATABASE_URL: registry, INGEST_PRIVACY_POOL_SIZE: '0' }).join(),
      ).toContain('INGEST_PRIVACY_POOL_SIZE');
    });
  });
});
