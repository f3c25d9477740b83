import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import {
  MAX_CHATS_PER_CALL,
  PrivacyVault,
  migratePrivacy,
  parsePrivacyConfig,
  sweepErasures,
} from '@livechat-pipeline/privacy';
import { createTestDatabase, stackEndpoints, waitFor } from '@livechat-pipeline/testkit';
import type { TestDatabase } from '@livechat-pipeline/testkit';
import pg from 'pg';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  JOB_LOCKS,
  PrivacyJobs,
  createPrivacyMetrics,
  createPrivacyRuntime,
  loadPrivacyServiceConfig,
  runCli,
  startPrivacyService,
} from '../src/index.js';
import type { RunningPrivacyService } from '../src/index.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const silent = pino({ level: 'silent' });

/**
 * Stand-ins for the projections' erase functions (the real ones come with transcripts, analytics, crm-sync). The
 * schema, its table, the `rows` planted in it and then the function are one multi-statement query, so one implicit
 * transaction: a sweep running meanwhile never sees the function without those rows.
 */
async function createStandIn(
  pool: pg.Pool,
  schema: string,
  withRequestId: boolean,
  rows: ReadonlyArray<readonly [tenant: string, chatId: string]> = [],
): Promise<void> {
  const values = rows.map(([t, c]) => `(${pg.escapeLiteral(t)}, ${pg.escapeLiteral(c)})`).join(', ');
  await pool.query(`
    create schema ${schema};
    create table ${schema}.rows (tenant text not null, chat_id text not null);
    ${values === '' ? '' : `insert into ${schema}.rows values ${values};`}
    create function ${schema}.erase_chats(p_tenant text, p_chat_ids text[]${withRequestId ? ', p_request_id text' : ''})
      returns bigint language plpgsql as $$
      declare n bigint;
      begin
        delete from ${schema}.rows where tenant = p_tenant and chat_id = any(p_chat_ids);
        get diagnostics n = row_count;
        return n;
      end $$;`);
}

const SCHEMAS = ['st_transcripts', 'st_analytics', 'st_crm'];

describe('privacy service and CLI on the real Postgres', () => {
  let db: TestDatabase;
  let pool: pg.Pool;
  let vault: PrivacyVault;
  let env: NodeJS.ProcessEnv;
  const running: RunningPrivacyService[] = [];

  beforeAll(async () => {
    db = await createTestDatabase('privacy_service');
    pool = new pg.Pool({ connectionString: db.url, max: 3 });
    await migratePrivacy(pool);
    await createStandIn(pool, 'st_transcripts', false);
    await createStandIn(pool, 'st_analytics', false);
    await createStandIn(pool, 'st_crm', true);
    env = {
      DATABASE_URL: db.url,
      PRIVACY_KEYS: `k1:${randomBytes(32).toString('base64')}`,
      PRIVACY_EMAIL_HASH_KEY: randomBytes(32).toString('base64'),
      PRIVACY_PROJECTIONS: 'transcripts:st_transcripts,analytics:st_analytics,crm:st_crm',
      PRIVACY_OPERATIONS_PORT: '0',
    };
    vault = new PrivacyVault(pool, parsePrivacyConfig(env)!);
  });

  afterAll(async () => {
    await Promise.all(running.map((r) => r.stop()));
    await pool?.end();
    const admin = new pg.Client({ connectionString: stackEndpoints().databaseUrl });
    await admin.connect();
    try {
      await waitFor(async () => {
        const r = await admin.query('select count(*)::int as n from pg_stat_activity where datname = $1', [
          db.name,
        ]);
        return r.rows[0].n === 0;
      });
    } finally {
      await admin.end();
    }
    await db?.drop();
  });

  async function plant(tenant: string, chats: string[]): Promise<void> {
    for (const s of SCHEMAS)
      await pool.query(`insert into ${s}.rows select $1, c from unnest($2::text[]) c`, [tenant, chats]);
  }

  async function remaining(tenant: string): Promise<string[][]> {
    return Promise.all(
      SCHEMAS.map(async (s) =>
        (
          await pool.query<{ chat_id: string }>(
            `select chat_id from ${s}.rows where tenant = $1 order by chat_id`,
            [tenant],
          )
        ).rows.map((r) => r.chat_id),
      ),
    );
  }

  async function cli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
    let out = '';
    let err = '';
    const code = await runCli(argv, {
      env,
      stdout: (t) => (out += t),
      stderr: (t) => (err += t),
    });
    return { code, out, err };
  }

  it('erase by e-mail finds the chats through the index, erases every projection, prints counts; again: idempotent', async () => {
    const tenant = 'cli-tenant';
    await vault.keysFor(tenant, ['ch-1', 'ch-2', 'ch-other'], { create: true });
    await vault.recordCustomers(tenant, [
      { chatId: 'ch-1', email: 'canary@example.com' },
      { chatId: 'ch-2', customerId: 'cust-9', email: 'Canary@Example.com' },
      { chatId: 'ch-other', email: 'someone@example.com' },
    ]);
    await plant(tenant, ['ch-1', 'ch-2', 'ch-2', 'ch-other']);

    const argv = ['erase', '--tenant', tenant, '--email', 'canary@example.com', '--request-id', 'cli-req-1'];
    const first = await cli(argv);
    expect(first.err).toBe('');
    expect(first.code).toBe(0);
    expect(JSON.parse(first.out)).toEqual({
      requestId: 'cli-req-1',
      chats: 2,
      keysErased: 2,
      tombstonesCreated: 0,
      customerLinksDeleted: 3,
      alreadyDone: false,
      projections: { transcripts: 3, analytics: 3, crm: 3 },
    });
    expect(await remaining(tenant)).toEqual([['ch-other'], ['ch-other'], ['ch-other']]);
    expect(
      (await vault.keysFor(tenant, ['ch-1', 'ch-other'], { create: false })).get('ch-other')?.state,
    ).toBe('active');

    const second = await cli(argv);
    expect(second.code).toBe(0);
    expect(JSON.parse(second.out)).toMatchObject({
      requestId: 'cli-req-1',
      chats: 2,
      keysErased: 2,
      alreadyDone: true,
      projections: { transcripts: 0, analytics: 0, crm: 0 },
    });
    const audit = await cli(['audit', '--tenant', tenant]);
    expect(JSON.parse(audit.out)).toMatchObject([
      { requestId: 'cli-req-1', kind: 'email', chats: 2, projections: { transcripts: 3 } },
    ]);
    expect(audit.out).not.toContain('canary');
  });

  it('erase takes the e-mail or customer id from standard input (`-`); an empty or bad line exits 2', async () => {
    const tenant = 'stdin-tenant';
    await vault.keysFor(tenant, ['si-1', 'si-2'], { create: true });
    await vault.recordCustomers(tenant, [
      { chatId: 'si-1', email: 'stdin@example.com' },
      { chatId: 'si-2', customerId: 'cust-stdin' },
    ]);
    const withStdin = async (argv: string[], input: string) => {
      let out = '';
      let err = '';
      const code = await runCli(argv, {
        env,
        readStdin: () => Promise.resolve(input),
        stdout: (t) => (out += t),
        stderr: (t) => (err += t),
      });
      return { code, out, err };
    };
    const byEmail = await withStdin(
      ['erase', '--tenant', tenant, '--email', '-'],
      'stdin@example.com\nignored\n',
    );
    expect(byEmail.err).toBe('');
    expect(JSON.parse(byEmail.out)).toMatchObject({ chats: 1, keysErased: 1 });
    const byId = await withStdin(['erase', '--tenant', tenant, '--customer-id', '-'], ' cust-stdin \n');
    expect(JSON.parse(byId.out)).toMatchObject({ chats: 1, keysErased: 1 });

    const empty = await withStdin(['erase', '--tenant', tenant, '--email', '-'], '');
    expect(empty.code).toBe(2);
    expect(empty.err).toContain('--email - (standard input) <value> is required');
    const notAnAddress = await withStdin(['erase', '--tenant', tenant, '--email', '-'], 'nobody\n');
    expect(notAnAddress.code).toBe(2);
    expect(notAnAddress.err).toContain('--email - (standard input) must be an e-mail address');
    expect(notAnAddress.err).not.toContain('nobody');
    const noStdin = await cli(['erase', '--tenant', tenant, '--email', '-']);
    expect(noStdin.code).toBe(2);
    expect(noStdin.err).toContain('there is no standard input to read');
  });

  it('a customer with more chats than one call may name (MAX_CHATS_PER_CALL + 1) is erased under one request', async () => {
    const tenant = 'big-tenant';
    const chats = Array.from(
      { length: MAX_CHATS_PER_CALL + 1 },
      (_, i) => `big-${String(i).padStart(5, '0')}`,
    );
    for (const slice of [chats.slice(0, MAX_CHATS_PER_CALL), chats.slice(MAX_CHATS_PER_CALL)]) {
      await vault.keysFor(tenant, slice, { create: true });
      await vault.recordCustomers(
        tenant,
        slice.map((chatId) => ({ chatId, customerId: 'heavy-returning-customer' })),
      );
    }
    await plant(tenant, [...chats, 'not-theirs']);

    const r = await cli(['erase', '--tenant', tenant, '--customer-id', 'heavy-returning-customer']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const n = MAX_CHATS_PER_CALL + 1;
    expect(JSON.parse(r.out)).toMatchObject({
      chats: n,
      keysErased: n,
      customerLinksDeleted: n,
      projections: { transcripts: n, analytics: n, crm: n },
    });
    expect(await remaining(tenant)).toEqual([['not-theirs'], ['not-theirs'], ['not-theirs']]);
    const audits = await pool.query(`select chats from privacy.erasure_audit where tenant_id = $1`, [tenant]);
    expect(audits.rows).toEqual([{ chats: n }]);
  });

  it('bad arguments exit 2 naming the problem (the real `pnpm privacy` entry point)', async () => {
    const run = (args: string[]) =>
      promisify(execFile)(
        path.join(root, 'node_modules/.bin/tsx'),
        ['services/privacy/src/cli.ts', ...args],
        {
          cwd: root,
          env: { ...process.env, ...env },
        },
      ).then(
        () => ({ code: 0, stderr: '' }),
        (e: { code: number; stderr: string }) => ({ code: e.code, stderr: e.stderr }),
      );
    const both = await run(['erase', '--tenant', 't', '--customer-id', 'c', '--email', 'a@b.c']);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('PRIVACY_CLI_BAD_ARGUMENTS: erase needs exactly one of --customer-id');

    for (const [argv, message] of [
      [['erase', '--customer-id', 'c'], '--tenant <value> is required'],
      [['erase', '--tenant', 't', '--email', 'not-an-address'], '--email must be an e-mail address'],
      [['retention', '--tenant', 't', '--days', '0'], '--days must be an integer from 1 to 36500'],
      [['retention', '--tenant', 't'], 'exactly one of --days'],
      [['rewrap', '--tenant', 't'], '--tenant does not apply to rewrap'],
      [['forget'], 'unknown command "forget"'],
      [['erase', '--tenant', 't', '--bogus'], "Unknown option '--bogus'"],
    ] as const) {
      const r = await cli([...argv]);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.err).toContain(message);
    }
    let noKeysErr = '';
    const noKeys = await runCli(['rewrap'], {
      env: { ...env, PRIVACY_KEYS: '', PRIVACY_EMAIL_HASH_KEY: '' },
      stdout: () => undefined,
      stderr: (t) => (noKeysErr += t),
    });
    expect(noKeys).toBe(2);
    expect(noKeysErr).toContain('PRIVACY_KEYS: is not set');
  });

  it('retention erases only chats older than their tenant days; one instance of two runs it under the lock', async () => {
    const old = (tenant: string, chat: string, days: number) =>
      pool.query(
        `update privacy.chat_keys set last_seen_at = now() - make_interval(days => $3) where tenant_id = $1 and chat_id = $2`,
        [tenant, chat, days],
      );
    await vault.keysFor('ret-a', ['a-40d', 'a-10d'], { create: true });
    await vault.keysFor('ret-b', ['b-400d', 'b-100d'], { create: true });
    await old('ret-a', 'a-40d', 40);
    await old('ret-a', 'a-10d', 10);
    await old('ret-b', 'b-400d', 400);
    await old('ret-b', 'b-100d', 100);
    await plant('ret-a', ['a-40d', 'a-10d']);
    await plant('ret-b', ['b-400d', 'b-100d']);
    expect((await cli(['retention', '--tenant', 'ret-a', '--days', '30'])).code).toBe(0);

    const serviceEnv = { ...env, PRIVACY_RETENTION_DAYS: '365', PRIVACY_RETENTION_INTERVAL_MS: '200' };
    const config = loadPrivacyServiceConfig(serviceEnv);

    // another instance is inside the job: this one skips its round and erases nothing
    const holder = await pool.connect();
    try {
      await holder.query('select pg_advisory_lock(hashtext($1))', [JOB_LOCKS.retention]);
      const runtime = createPrivacyRuntime(config);
      const metrics = createPrivacyMetrics();
      const jobs = new PrivacyJobs(
        runtime.deps,
        runtime.vaultPool,
        { ...config, sweepAfterMs: 60_000 },
        metrics,
        silent,
      );
      expect(await jobs.runOnce('retention')).toEqual({ ran: false, reason: 'locked' });
      expect(await remaining('ret-a')).toEqual([
        ['a-10d', 'a-40d'],
        ['a-10d', 'a-40d'],
        ['a-10d', 'a-40d'],
      ]);
      await runtime.close();
    } finally {
      await holder.query('select pg_advisory_unlock(hashtext($1))', [JOB_LOCKS.retention]);
      holder.release();
    }

    // two service instances: the chats past their days go, once

    running.push(await startPrivacyService(config, silent), await startPrivacyService(config, silent));
    // every projection's step done (each is its own transaction: wait for the last, not the first)
    await waitFor(async () => (await remaining('ret-b')).every((rows) => rows.length === 1), {
      timeoutMs: 30_000,
    });
    await waitFor(async () => (await remaining('ret-a')).every((rows) => rows.length === 1), {
      timeoutMs: 30_000,
    });

    expect(await remaining('ret-a')).toEqual([['a-10d'], ['a-10d'], ['a-10d']]);
    expect(await remaining('ret-b')).toEqual([['b-100d'], ['b-100d'], ['b-100d']]);
    const audit = await pool.query(
      `select tenant_id, chats, keys_erased from privacy.erasure_audit where actor = 'retention' order by tenant_id`,
    );
    expect(audit.rows).toEqual([
      { tenant_id: 'ret-a', chats: 1, keys_erased: 1 },
      { tenant_id: 'ret-b', chats: 1, keys_erased: 1 },
    ]);
    const erased = await Promise.all(
      running.map(async (r) => (await r.metrics.retentionChatsErased.get()).values[0]?.value ?? 0),
    );
    expect(erased.reduce((a, b) => a + b, 0)).toBe(2);
    await Promise.all(running.splice(0).map((r) => r.stop()));
  });

  it('a projection step that fails is counted as a job failure, and the sweep completes it once it works', async () => {
    await vault.keysFor('ret-late', ['late-1'], { create: true });
    await pool.query(
      `update privacy.chat_keys set last_seen_at = now() - interval '400 days' where tenant_id = 'ret-late'`,
    );
    await plant('ret-late', ['late-1']);
    const config = loadPrivacyServiceConfig({
      ...env,
      // crm's schema is not migrated yet
      PRIVACY_PROJECTIONS: 'transcripts:st_transcripts,crm:st_crm_late',
      PRIVACY_RETENTION_DAYS: '30',
      PRIVACY_RETENTION_INTERVAL_MS: '200',
      PRIVACY_SWEEP_INTERVAL_MS: '200',
      PRIVACY_KEY_CACHE_TTL_MS: '1000',
      PRIVACY_SWEEP_DELAY_MS: '1000',
    });
    const service = await startPrivacyService(config, silent);
    running.push(service);
    const failures = async (job: string) =>
      (await service.metrics.projectionStepFailures.get()).values.find((v) => v.labels['job'] === job)
        ?.value ?? 0;
    // the key is shredded (the batch's projection step fails, counted; the job goes on)
    await waitFor(
      async () =>
        (
          await pool.query(
            `select 1 from privacy.chat_keys where tenant_id = 'ret-late' and erased_at is not null and wrapped_key is null`,
          )
        ).rowCount === 1,
      { timeoutMs: 30_000 },
    );
    await waitFor(async () => (await failures('retention')) >= 1, { timeoutMs: 30_000 });
    // the projection before the missing one is erased
    expect((await remaining('ret-late'))[0]).toEqual([]);

    // the crm row a late writer left, there before the function appears (the sweep may run at any moment)
    await createStandIn(pool, 'st_crm_late', true, [['ret-late', 'late-1']]);
    await waitFor(
      async () =>
        (
          await pool.query(
            `select 1 from privacy.erasure_audit where tenant_id = 'ret-late' and swept_at is not null`,
          )
        ).rowCount === 1,
      { timeoutMs: 30_000 },
    );
    expect((await pool.query(`select * from st_crm_late.rows`)).rows).toEqual([]);
    await Promise.all(running.splice(0).map((r) => r.stop()));
  });

  it('one erasure whose projection step keeps failing does not hold up the sweep of the erasures after it', async () => {
    await pool.query(`
      create schema st_poison;
      create table st_poison.rows (tenant text not null, chat_id text not null);
      create function st_poison.erase_chats(p_tenant text, p_chat_ids text[]) returns bigint language plpgsql as $$
        declare n bigint;
        begin
          if p_tenant = 'sweep-poison' then raise exception 'this tenant cannot be erased'; end if;
          delete from st_poison.rows where tenant = p_tenant and chat_id = any(p_chat_ids);
          get diagnostics n = row_count;
          return n;
        end $$;
      insert into st_poison.rows values ('sweep-poison', 'p-1'), ('sweep-ok', 'ok-1');`);
    const request = (id: string) => ({ requestId: id, actor: 'test' });
    await vault.eraseChats('sweep-poison', ['p-1'], request('sweep-poison-req'));
    await vault.eraseChats('sweep-ok', ['ok-1'], request('sweep-ok-req'));
    // only these two are due (the earlier tests' erasures are swept or named here)
    await pool.query(`update privacy.erasure_audit set swept_at = now() where request_id not like 'sweep-%'`);
    const deps = {
      vault,
      pool,
      projections: [{ name: 'transcripts', schema: 'st_poison' }] as const,
    };
    const failed: string[] = [];
    const done = await sweepErasures(deps, 0, { onFailure: (requestId) => failed.push(requestId) });
    expect(done).toEqual({ swept: 1, rows: 1, failed: 1 });
    expect(failed).toEqual(['sweep-poison-req']);
    expect((await pool.query(`select tenant, chat_id from st_poison.rows`)).rows).toEqual([
      { tenant: 'sweep-poison', chat_id: 'p-1' },
    ]);
    const swept = await pool.query(
      `select request_id, swept_at is not null as swept from privacy.erasure_audit where request_id like 'sweep-%' order by 1`,
    );
    expect(swept.rows).toEqual([
      { request_id: 'sweep-ok-req', swept: true },
      { request_id: 'sweep-poison-req', swept: false },
    ]);
  });
});
