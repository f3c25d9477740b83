import { waitFor } from '@livechat-pipeline/testkit';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadAppConfig } from '../src/config.js';
import { startAppOperations } from '../src/operations.js';
import { startAppHarness } from './support/harness.js';
import type { AppHarness } from './support/harness.js';

describe('app operations endpoints: /readyz (Postgres, cached) and /metrics, off the public port', () => {
  let h: AppHarness;
  let ops: Awaited<ReturnType<typeof startAppOperations>>;
  let admin: pg.Client;

  beforeAll(async () => {
    h = await startAppHarness();
    ops = await startAppOperations(h.deps, { host: '127.0.0.1', port: 0 });
    admin = new pg.Client({ connectionString: new URL('/postgres', h.db.url).toString() });
    await admin.connect();
  });
  afterAll(async () => {
    await admin?.query(`alter database "${h.db.name}" allow_connections true`).catch(() => undefined);
    await admin?.end();
    await ops?.close();
    await h?.close();
  });

  const readyz = async () => {
    const res = await fetch(`${ops.url}/readyz`);
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  const metric = async (name: string): Promise<number> => {
    const text = await (await fetch(`${ops.url}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith(`${name} `));
    return line === undefined ? Number.NaN : Number(line.split(' ')[1]);
  };

  it('defaults to loopback on its own port; the public port does not serve them', async () => {
    const config = loadAppConfig({});
    expect(config.operations).toEqual({ host: '127.0.0.1', port: 8093 });
    expect((await fetch(`${h.baseUrl}/readyz`)).status).toBe(404);
    expect((await fetch(`${h.baseUrl}/metrics`)).status).toBe(404);
    expect((await fetch(`${ops.url}/healthz`)).status).toBe(200);
  });

  it('/readyz is 200 while Postgres answers; a burst of calls makes one probe', async () => {
    expect(await readyz()).toEqual({ status: 200, body: { ok: true, postgres: 'up' } });
    const before = await metric('app_readiness_probes_total');
    const burst = await Promise.all(Array.from({ length: 20 }, () => readyz()));
    expect(burst.every((r) => r.status === 200)).toBe(true);
    expect((await metric('app_readiness_probes_total')) - before).toBeLessThanOrEqual(1);
    expect(await metric('app_postgres_up')).toBe(1);
  });

  it('/readyz is 503 without details while Postgres refuses the app, and 200 again after', async () => {
    await admin.query(`alter database "${h.db.name}" allow_connections false`);
    await admin.query(
      'select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()',
      [h.db.name],
    );
    await waitFor(async () => (await readyz()).status === 503, {
      timeoutMs: 10_000,
      message: '/readyz reports Postgres down',
    });
    expect((await readyz()).body).toEqual({ ok: false, postgres: 'down' });
    expect(await metric('app_postgres_up')).toBe(0);
    await admin.query(`alter database "${h.db.name}" allow_connections true`);
    await waitFor(async () => (await readyz()).status === 200, {
      timeoutMs: 10_000,
      message: '/readyz recovers',
    });
  });

  it('/metrics counts HTTP answers by route pattern (not by raw URL)', async () => {
    await fetch(`${h.baseUrl}/app/settings`);
    await fetch(`${h.baseUrl}/app/no-such-${Date.now()}`);
    const text = await (await fetch(`${ops.url}/metrics`)).text();
    expect(text).toMatch(/app_http_requests_total\{route="\/app\/settings",status="200"\} \d+/);
    expect(text).toMatch(/app_http_requests_total\{route="unmatched",status="404"\} \d+/);
    expect(text).not.toContain('no-such-');
    expect(text).toContain('process_cpu_seconds_total');
  });
});
