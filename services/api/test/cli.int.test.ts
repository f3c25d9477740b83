import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { pino } from 'pino';
import { createTestDatabase, type TestDatabase } from '@livechat-pipeline/testkit';
import { buildApi } from '../src/app.js';
import { loadApiConfig } from '../src/config.js';
import { createApiDeps, type ApiDeps } from '../src/deps.js';

const run = promisify(execFile);
const cli = fileURLToPath(new URL('../src/cli.ts', import.meta.url));
let db: TestDatabase;
let deps: ApiDeps;

beforeAll(async () => {
  db = await createTestDatabase('api_cli');
});
afterAll(async () => {
  await deps?.close();
  await db?.drop();
});

const apiKeys = (...args: string[]) =>
  run(process.execPath, ['--import', 'tsx', cli, ...args], {
    env: { ...process.env, DATABASE_URL: db.url, API_SCHEMA: 'api_cli' },
  });

it('pnpm api-keys: create prints a working key once, list shows it without it, revoke ends it', async () => {
  const created = await apiKeys('create', '--tenant', 'tenant-cli', '--name', 'BI tool');
  const key = created.stdout.trim();
  expect(key).toMatch(/^lcp_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
  const id = key.slice(4, 20);
  expect(created.stderr).toContain(id);

  deps = await createApiDeps(
    loadApiConfig({ DATABASE_URL: db.url, API_SCHEMA: 'api_cli', API_LOG_LEVEL: 'silent' }),
    pino({ level: 'silent' }),
  );
  const app = await buildApi(deps);
  const me = () => deps.auth.verifyKey(key);
  expect(await me()).toEqual({ tenant: 'tenant-cli', keyId: id, admin: false, via: 'key' });

  const listed = await apiKeys('list');
  expect(listed.stdout).toMatch(
    new RegExp(`^${id} \\| tenant-cli \\| BI tool \\| - \\| \\S+ \\| active$`, 'm'),
  );
  expect(listed.stdout).not.toContain(key.slice(21));
  const stored = await deps.pool.query<{ text: string }>('select t::text as text from api_cli.api_keys t');
  expect(stored.rows[0]!.text).not.toContain(key.slice(21));

  expect(await deps.keys.principalOfKeyId(id)).toEqual({
    tenant: 'tenant-cli',
    keyId: id,
    admin: false,
    via: 'session',
  });
  await apiKeys('revoke', id);
  expect(await me()).toBeNull();
  expect(await deps.keys.principalOfKeyId(id)).toBeNull();
  expect((await apiKeys('list')).stdout).toContain('| revoked ');
  await expect(apiKeys('revoke', 'ffffffffffffffff')).rejects.toMatchObject({
    code: 1,
    stderr: expect.stringContaining('API_KEY_NOT_FOUND'),
  });
  await expect(apiKeys('create')).rejects.toMatchObject({ code: 2 });
  await app.close();
});
