import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const main = fileURLToPath(new URL('../src/main.ts', import.meta.url));

/** Starts the real ingest process with these variables (no stack is needed: the config is refused first). */
function start(env: Record<string, string>) {
  const result = spawnSync(process.execPath, ['--import', 'tsx', main], {
    // Should the config be accepted after all, the start fails fast on unreachable endpoints (exit 1, not 2) and
    // never listens on a real port.
    env: {
      PATH: process.env.PATH ?? '',
      KAFKA_BROKERS: '127.0.0.1:1',
      SCHEMA_REGISTRY_URL: 'http://127.0.0.1:1',
      INGEST_PORT: '0',
      INGEST_STARTUP_TIMEOUT_MS: '1000',
      ...env,
    },
    cwd: fileURLToPath(new URL('..', import.meta.url)),
    encoding: 'utf8',
    timeout: 30_000,
    killSignal: 'SIGKILL',
  });
  return {
    code: result.status,
    lines: result.stderr.split('\n').filter((l) => l !== ''),
    stdout: result.stdout,
  };
}

// Each case starts a real process (a cold tsx compile of main.ts), which takes seconds on a loaded machine.
describe('the ingest process refuses to start with local secrets outside a laptop', () => {
  it(
    'NODE_ENV=production with INGEST_LOCAL_DEV_SECRETS=true: exit 2 with one line saying what to set',
    { timeout: 60_000 },
    () => {
      const { code, lines, stdout } = start({ NODE_ENV: 'production', INGEST_LOCAL_DEV_SECRETS: 'true' });
      expect(code).toBe(2);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(
        /^invalid ingest configuration: INGEST_LOCAL_DEV_SECRETS=true is refused with NODE_ENV=production: .*set LIVECHAT_SECRET_KEYS/,
      );
      expect(stdout).toBe('');
    },
  );

  it('the local values set by hand on a public address: exit 2 with one line', { timeout: 60_000 }, () => {
    const { code, lines } = start({ INGEST_HOST: '0.0.0.0', LIVECHAT_SECRET_KEYS: 'local-dev-secret' });
    expect(code).toBe(2);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^invalid ingest configuration: the local development secrets .* are public and refused on INGEST_HOST=0\.0\.0\.0: set secrets of your own/,
    );
  });

  it(
    'a global secret next to the tenant registry: exit 2 with one line naming the variables',
    { timeout: 60_000 },
    () => {
      const { code, lines } = start({
        INGEST_TENANT_REGISTRY_DATABASE_URL: 'postgres://ingest@127.0.0.1:1/none',
        LIVECHAT_SECRET_KEYS: 'g',
      });
      expect(code).toBe(2);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(
        /LIVECHAT_SECRET_KEYS \/ LIVECHAT_BASIC_AUTH .*INGEST_TENANT_REGISTRY_DATABASE_URL.*INGEST_ALLOW_GLOBAL_SECRETS=true/,
      );
    },
  );
});
