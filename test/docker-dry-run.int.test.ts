import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '@livechat-pipeline/testkit';
import { dockerDryRun } from './support/docker-dry-run.js';

/**
 * The image of infra/docker/Dockerfile without Docker (test/support/docker-dry-run.ts, also `pnpm docker:dry-run`):
 * the stages' RUN lines with their pnpm flags (offline, from the local store), the final stage's COPY paths laid
 * out as the image, then the image's CMD in its WORKDIR as the `node` uid, until the image's HEALTHCHECK (/healthz)
 * and compose's check (/readyz) pass, and a clean exit on SIGTERM. The api: it needs only Postgres (a database of
 * its own here) and uses the most of the final stage (its packages, the dashboard stage's bundle).
 */
let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase('docker_dry_run');
});
afterAll(async () => {
  await db.drop();
});

describe('docker dry run (the Dockerfile followed without Docker)', () => {
  it('the api image builds from the final stage paths, answers its health checks and stops cleanly on SIGTERM', async () => {
    const lines: string[] = [];
    const result = await dockerDryRun({
      service: 'api',
      env: { DATABASE_URL: db.url },
      // typically 12–35 s (the pnpm installs and the bundle); the bound leaves room for a loaded machine
      timeoutMs: 100_000,
      log: (line) => lines.push(line),
    });
    expect(result.exitCode, lines.join('\n')).toBe(0);
    expect(result.copied).toEqual(
      expect.arrayContaining([
        '/repo/node_modules',
        '/repo/packages',
        '/repo/services/api',
        '/repo/packages/dashboard/dist',
        '/usr/local/lib/livechat-pipeline/healthcheck.mjs',
      ]),
    );
    expect(Object.keys(result.steps)).toEqual([
      'build context',
      'stage install',
      'stage dashboard',
      'final stage',
      'healthy (image HEALTHCHECK, /healthz)',
      'ready (compose healthcheck, /readyz)',
      'stopped (SIGTERM)',
    ]);
  });
});
