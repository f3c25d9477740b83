import { randomBytes } from 'node:crypto';
import { createTestDatabase, stackEndpoints, waitFor } from '@livechat-pipeline/testkit';
import type { TestDatabase } from '@livechat-pipeline/testkit';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  PrivacyVault,
  migratePrivacy,
  parseProjectionList,
  runErasure,
  runRetentionErasure,
  sweepErasures,
} from '../src/index.js';
import type { ErasureDeps, PrivacyConfig, PrivacyError, ProjectionEraser } from '../src/index.js';

const config: PrivacyConfig = {
  keys: new Map([['k1', randomBytes(32)]]),
  activeKeyId: 'k1',
  emailHashKey: randomBytes(32),
  cacheSize: 1000,
  cacheTtlMs: 60_000,
  schema: 'privacy',
};

/**
 * Stand-ins for the projections' erase functions (the real ones ship with transcripts, analytics and crm-sync):
 * a table of (tenant, chat) rows per schema and `erase_chats` deleting the named chats' rows; crm's also keeps
 * the request ids it was called with.
 */
async function createStandIn(pool: pg.Pool, schema: string, withRequestId: boolean): Promise<void> {
  await pool.query(`
    create schema ${schema};
    create table ${schema}.rows (tenant text not null, chat_id text not null);
    create table ${schema}.calls (request_id text);
    create function ${schema}.erase_chats(p_tenant text, p_chat_ids text[]${withRequestId ? ', p_request_id text' : ''})
      returns bigint language plpgsql as $$
      declare n bigint;
      begin
        ${withRequestId ? `insert into ${schema}.calls values (p_request_id);` : ''}
        delete from ${schema}.rows where tenant = p_tenant and chat_id = any(p_chat_ids);
        get diagnostics n = row_count;
        return n;
      end $$;`);
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return '';
  } catch (err) {
    return `${(err as PrivacyError).code}: ${(err as Error).message}`;
  }
}

describe('runErasure on the real Postgres', () => {
  let db: TestDatabase;
  let pool: pg.Pool;
  let vault: PrivacyVault;
  let deps: ErasureDeps;
  const projections: ProjectionEraser[] = [
    { name: 'transcripts', schema: 'stand_transcripts' },
    { name: 'analytics', schema: 'stand_analytics' },
    { name: 'crm', schema: 'stand_crm' },
  ];

  beforeAll(async () => {
    db = await createTestDatabase('privacy_erasure');
    pool = new pg.Pool({ connectionString: db.url, max: 4 });
    await migratePrivacy(pool);
    await createStandIn(pool, 'stand_transcripts', false);
    await createStandIn(pool, 'stand_analytics', false);
    await createStandIn(pool, 'stand_crm', true);
    vault = new PrivacyVault(pool, config);
    deps = { vault, pool, projections };
  });

  afterAll(async () => {
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
    for (const p of projections)
      await pool.query(`insert into ${p.schema}.rows select $1, c from unnest($2::text[]) c`, [
        tenant,
        chats,
      ]);
  }

  async function remaining(tenant: string): Promise<Record<string, string[]>> {
    const out: Record<string, string[]> = {};
    for (const p of projections) {
      const r = await pool.query<{ chat_id: string }>(
        `select chat_id from ${p.schema}.rows where tenant = $1 order by chat_id`,
        [tenant],
      );
      out[p.name] = r.rows.map((x) => x.chat_id);
    }
    return out;
  }

  it('erases a customer found by e-mail in the vault and every projection; a second run is idempotent', async () => {
    const tenant = 't-email';
    await vault.keysFor(tenant, ['c1', 'c2', 'c3'], { create: true });
    await vault.recordCustomers(tenant, [
      { chatId: 'c1', email: 'Ana@Example.com' },
      { chatId: 'c2', customerId: 'cust-a', email: 'ana@example.com ' },
      { chatId: 'c3', email: 'bob@example.com' },
    ]);
    await plant(tenant, ['c1', 'c1', 'c2', 'c3']);

    const first = await runErasure(deps, {
      tenantId: tenant,
      subject: { email: 'ANA@example.com' },
      requestId: 'req-email-1',
      actor: 'test',
    });
    expect(first).toMatchObject({
      requestId: 'req-email-1',
      chats: 2,
      keysErased: 2,
      alreadyDone: false,
      chatIds: ['c1', 'c2'],
      projections: { transcripts: 3, analytics: 3, crm: 3 },
    });
    expect(await remaining(tenant)).toEqual({ transcripts: ['c3'], analytics: ['c3'], crm: ['c3'] });
    const calls = await pool.query('select request_id from stand_crm.calls');
    expect(calls.rows).toEqual([{ request_id: 'req-email-1' }]);

    // a late writer put a row back with a key it had cached; the same request again re-applies the projections
    await plant(tenant, ['c2']);
    const second = await runErasure(deps, {
      tenantId: tenant,
      subject: { email: 'ana@example.com' },
      requestId: 'req-email-1',
      actor: 'test',
    });
    expect(second).toMatchObject({
      chats: 2,
      keysErased: 2,
      alreadyDone: true,
      chatIds: ['c1', 'c2'],
      projections: { transcripts: 1, analytics: 1, crm: 1 },
    });
    expect(await remaining(tenant)).toEqual({ transcripts: ['c3'], analytics: ['c3'], crm: ['c3'] });
    const audit = await pool.query(
      `select projection_counts, swept_at from privacy.erasure_audit where request_id = 'req-email-1'`,
    );
    expect(audit.rows).toEqual([
      { projection_counts: { transcripts: 4, analytics: 4, crm: 4 }, swept_at: null },
    ]);
  });

  it('a missing projection function is a retryable error naming it; running again once it exists completes', async () => {
    const tenant = 't-missing';
    await vault.keysFor(tenant, ['m1'], { create: true });
    await vault.recordCustomers(tenant, [{ chatId: 'm1', customerId: 'cust-m' }]);
    const missing: ErasureDeps = {
      vault,
      pool,
      projections: [...projections, { name: 'crm', schema: 'not_yet_migrated' }],
    };
    const failed = await codeOf(
      runErasure(missing, {
        tenantId: tenant,
        subject: { customerId: 'cust-m' },
        requestId: 'req-missing',
        actor: 'test',
      }),
    );
    expect(failed).toMatch(
      /^PRIVACY_PROJECTION_ERASE_FAILED: .*not_yet_migrated\.erase_chats does not exist/,
    );
    expect(failed).toContain('req-missing');
    const retried = await runErasure(missing, {
      tenantId: tenant,
      chatIds: ['m1'],
      requestId: 'req-missing',
      actor: 'test',
    }).catch((err: PrivacyError) => err);
    expect(retried).toMatchObject({ code: 'PRIVACY_PROJECTION_ERASE_FAILED', retryable: true });
    await createStandIn(pool, 'not_yet_migrated', true);
    await pool.query(`insert into not_yet_migrated.rows values ($1, 'm1')`, [tenant]);
    const again = await runErasure(missing, {
      tenantId: tenant,
      subject: { customerId: 'cust-m' },
      requestId: 'req-missing',
      actor: 'test',
    });
    expect(again).toMatchObject({ alreadyDone: true, chatIds: ['m1'], keysErased: 1 });
    expect(again.projections['crm']).toBe(1);
  });

  it('retention erases only chats past their days in every projection; the sweep re-runs and marks them swept', async () => {
    const tenant = 't-retention';
    await vault.keysFor(tenant, ['old1', 'old2', 'new1'], { create: true });
    await pool.query(
      `update privacy.chat_keys set last_seen_at = now() - interval '40 days' where tenant_id = $1 and chat_id like 'old%'`,
      [tenant],
    );
    await vault.setRetention(tenant, 30);
    await plant(tenant, ['old1', 'old2', 'new1']);
    const done = await runRetentionErasure(deps, { defaultDays: null });
    expect(done).toMatchObject({ erasures: 1, keysErased: 2, chats: 2 });
    expect(await remaining(tenant)).toEqual({ transcripts: ['new1'], analytics: ['new1'], crm: ['new1'] });

    await plant(tenant, ['old1']); // written late with a cached key
    const sweep = await sweepErasures(deps, 0, { limit: 1000 });
    expect(sweep.swept).toBeGreaterThanOrEqual(1);
    expect(await remaining(tenant)).toEqual({ transcripts: ['new1'], analytics: ['new1'], crm: ['new1'] });
    expect(await vault.erasuresDueForSweep(0)).toEqual([]);
  });

  it("runs the projection step under its own statement timeout, not the pool's short one", async () => {
    await pool.query(`
      create schema stand_slow;
      create function stand_slow.erase_chats(p_tenant text, p_chat_ids text[]) returns bigint language plpgsql as $$
        begin
          perform pg_sleep(0.4); -- a big customer's rows
          return cardinality(p_chat_ids);
        end $$;`);
    // a read pool as the api's: statement_timeout 100 ms
    const readPool = new pg.Pool({ connectionString: db.url, max: 1, options: '-c statement_timeout=100' });
    try {
      const slow = {
        vault,
        pool: readPool,
        projections: [{ name: 'transcripts', schema: 'stand_slow' }],
      } as const;
      const done = await runErasure(slow, { tenantId: 't-slow', chatIds: ['s1', 's2'], actor: 'test' });
      expect(done.projections).toEqual({ transcripts: 2 });
      // its own timeout still bounds it
      expect(
        await codeOf(
          runErasure(
            { ...slow, statementTimeoutMs: 100 },
            { tenantId: 't-slow', chatIds: ['s3'], actor: 'test' },
          ),
        ),
      ).toMatch(/^PRIVACY_PROJECTION_ERASE_FAILED: .*statement timeout/);
    } finally {
      await readPool.end();
    }
  });

  it('a sweep or retention run whose caller lost its lock (signal aborted) stops before the next request', async () => {
    const tenant = 't-abort';
    await vault.eraseChats(tenant, ['ab-1'], { requestId: 'abort-req', actor: 'test' });
    const stopped = new AbortController();
    stopped.abort();
    expect(await sweepErasures(deps, 0, { limit: 1000, signal: stopped.signal })).toEqual({
      swept: 0,
      rows: 0,
      failed: 0,
    });
    expect(await vault.erasuresDueForSweep(0, 1000)).toContain('abort-req');

    await vault.keysFor(tenant, ['ab-old-1', 'ab-old-2'], { create: true });
    await pool.query(
      `update privacy.chat_keys set last_seen_at = now() - interval '40 days' where tenant_id = $1 and erased_at is null`,
      [tenant],
    );
    await vault.setRetention(tenant, 30);
    expect(
      await codeOf(runRetentionErasure(deps, { defaultDays: null, batchSize: 1, signal: stopped.signal })),
    ).toMatch(/^PRIVACY_KEY_UNAVAILABLE: retention stopped: the job lost its lock/);
    // one batch (one chat) went, the other waits for the next run
    const left = await vault.keysFor(tenant, ['ab-old-1', 'ab-old-2'], { create: false });
    expect([...left.values()].map((k) => k.state).sort()).toEqual(['active', 'erased']);
    await vault.setRetention(tenant, null);
  });

  it('parses projection lists and names every problem', () => {
    expect(parseProjectionList('transcripts, analytics:analytics_v2,crm')).toEqual({
      ok: true,
      projections: [
        { name: 'transcripts', schema: 'transcripts' },
        { name: 'analytics', schema: 'analytics_v2' },
        { name: 'crm', schema: 'crm' },
      ],
    });
    expect(parseProjectionList('')).toEqual({ ok: true, projections: [] });
    const bad = parseProjectionList('billing,crm:Bad-Name,transcripts,transcripts');
    expect(bad.ok).toBe(false);
    expect(!bad.ok && bad.problems).toHaveLength(3);
  });
});
