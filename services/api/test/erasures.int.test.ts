import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PrivacyVault, parsePrivacyConfig } from '@livechat-pipeline/privacy';
import { createTestDatabase, type TestDatabase } from '@livechat-pipeline/testkit';
import { buildApi } from '../src/app.js';
import { loadApiConfig } from '../src/config.js';
import { createApiDeps, type ApiDeps } from '../src/deps.js';

/** Stand-ins for the projections' erase functions (the real ones ship with transcripts, analytics, crm-sync). */
async function createStandIn(pool: pg.Pool, schema: string, withRequestId: boolean): Promise<void> {
  await pool.query(`
    create schema ${schema};
    create table ${schema}.rows (tenant text not null, chat_id text not null);
    create function ${schema}.erase_chats(p_tenant text, p_chat_ids text[]${withRequestId ? ', p_request_id text' : ''})
      returns bigint language plpgsql as $$
      declare n bigint;
      begin
        delete from ${schema}.rows where tenant = p_tenant and chat_id = any(p_chat_ids);
        get diagnostics n = row_count;
        return n;
      end $$;`);
}

describe('POST /v1/admin/erasures on the real Postgres', () => {
  let db: TestDatabase;
  let pool: pg.Pool;
  const apis: { deps: ApiDeps; app: FastifyInstance }[] = [];
  let app: FastifyInstance;
  let adminKey: string;
  let plainKey: string;
  const tenant = 'org-erasure-test';
  const privacyEnv = {
    PRIVACY_KEYS: `k1:${randomBytes(32).toString('base64')}`,
    PRIVACY_EMAIL_HASH_KEY: randomBytes(32).toString('base64'),
    PRIVACY_PROJECTIONS: 'transcripts:st_transcripts,analytics:st_analytics,crm:st_crm',
  };

  const startApi = async (env: Record<string, string>) => {
    const deps = await createApiDeps(
      loadApiConfig({ DATABASE_URL: db.url, API_LOG_LEVEL: 'silent', ...env }),
      pino({ level: 'silent' }),
    );
    const built = await buildApi(deps);
    apis.push({ deps, app: built });
    return { deps, app: built };
  };

  const post = (target: FastifyInstance, key: string | null, payload: unknown, raw = false) =>
    target.inject({
      method: 'POST',
      url: '/v1/admin/erasures',
      headers: {
        ...(key === null ? {} : { authorization: `Bearer ${key}` }),
        'content-type': 'application/json',
      },
      payload: raw ? (payload as string) : JSON.stringify(payload),
    });

  beforeAll(async () => {
    db = await createTestDatabase('api_erasures');
    pool = new pg.Pool({ connectionString: db.url, max: 2 });
    await createStandIn(pool, 'st_transcripts', false);
    await createStandIn(pool, 'st_analytics', false);
    await createStandIn(pool, 'st_crm', true);
    const started = await startApi(privacyEnv); // migrates the privacy schema
    app = started.app;
    adminKey = (await started.deps.keys.create({ tenant, name: 'privacy officer', admin: true })).key;
    plainKey = (await started.deps.keys.create({ tenant, name: 'BI tool' })).key;
  });

  afterAll(async () => {
    for (const a of apis) {
      await a.app.close();
      await a.deps.close();
    }
    await pool?.end();
    await db?.drop();
  });

  it('200 with the counts for an admin key; the same request_id again: already_done, harmless', async () => {
    const vault = new PrivacyVault(pool, parsePrivacyConfig(privacyEnv)!);
    await vault.keysFor(tenant, ['chat-1', 'chat-2'], { create: true });
    await vault.recordCustomers(tenant, [
      { chatId: 'chat-1', customerId: 'cust-1' },
      { chatId: 'chat-2', customerId: 'cust-2' },
    ]);
    for (const s of ['st_transcripts', 'st_analytics', 'st_crm'])
      await pool.query(`insert into ${s}.rows values ($1, 'chat-1'), ($1, 'chat-2')`, [tenant]);

    const res = await post(app, adminKey, { customer_id: 'cust-1', request_id: 'api-req-1' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      request_id: 'api-req-1',
      chats: 1,
      keys_erased: 1,
      tombstones_created: 0,
      customer_links_deleted: 1,
      already_done: false,
      projections: { transcripts: 1, analytics: 1, crm: 1 },
    });
    const left = await pool.query(`select chat_id from st_transcripts.rows where tenant = $1`, [tenant]);
    expect(left.rows).toEqual([{ chat_id: 'chat-2' }]);
    const audit = await pool.query(
      `select actor, subject_kind from privacy.erasure_audit where request_id = 'api-req-1'`,
    );
    expect(audit.rows).toEqual([
      { actor: expect.stringMatching(/^api-key:[0-9a-f]{16}$/), subject_kind: 'customer_id' },
    ]);

    const again = await post(app, adminKey, { customer_id: 'cust-1', request_id: 'api-req-1' });
    expect(again.statusCode).toBe(200);
    expect(again.json()).toMatchObject({ request_id: 'api-req-1', keys_erased: 1, already_done: true });

    const byEmail = await post(app, adminKey, { email: 'nobody@example.com' });
    expect(byEmail.statusCode).toBe(200);
    expect(byEmail.json()).toMatchObject({ chats: 0, keys_erased: 0, request_id: expect.any(String) });
  });

  it('403 for a key that is not an admin key, 401 without one; nothing is erased', async () => {
    const forbidden = await post(app, plainKey, { customer_id: 'cust-2' });
    expect([forbidden.statusCode, forbidden.json().code]).toEqual([403, 'API_FORBIDDEN']);
    const anonymous = await post(app, null, { customer_id: 'cust-2' });
    expect([anonymous.statusCode, anonymous.json().code]).toEqual([401, 'API_UNAUTHORIZED']);
    const left = await pool.query(`select chat_id from st_analytics.rows where tenant = $1`, [tenant]);
    expect(left.rows).toEqual([{ chat_id: 'chat-2' }]);
  });

  it('400 API_BAD_BODY naming the problem', async () => {
    for (const [payload, message] of [
      [{}, 'exactly one of customer_id or email'],
      [{ customer_id: 'a', email: 'a@b.c' }, 'exactly one of customer_id or email'],
      [{ email: 'not-an-address' }, 'email: must be an e-mail address'],
      [{ customer_id: 'a', request_id: 'has spaces' }, 'request_id: must be 1-200'],
      [{ customer_id: 'a', tenant: 'other' }, 'tenant'],
      [{ customer_id: '' }, 'customer_id'],
      ['{"customer_id":', 'JSON'],
    ] as const) {
      const res = await post(app, adminKey, payload, typeof payload === 'string');
      expect(res.statusCode, JSON.stringify(payload)).toBe(400);
      expect(res.json().code).toBe('API_BAD_BODY');
      expect(res.json().message).toContain(message);
    }
  });

  it('503 API_ERASURE_INCOMPLETE names the projection and the request id to send again, not Postgres internals', async () => {
    const broken = await startApi({
      ...privacyEnv,
      PRIVACY_PROJECTIONS: 'transcripts:st_transcripts,crm:st_crm_not_migrated',
    });
    await broken.deps.erasure!.vault.keysFor(tenant, ['chat-broken'], { create: true });
    await broken.deps.erasure!.vault.recordCustomers(tenant, [
      { chatId: 'chat-broken', customerId: 'cust-broken' },
    ]);
    const res = await post(broken.app, adminKey, { customer_id: 'cust-broken' });
    expect([res.statusCode, res.json().code]).toEqual([503, 'API_ERASURE_INCOMPLETE']);
    const message: string = res.json().message;
    expect(message).toMatch(/^erasure [0-9a-f-]{36}: the keys are erased, but crm could not be erased yet/);
    expect(message).not.toMatch(/st_crm_not_migrated|erase_chats|does not exist/);
    // the id it names completes the erasure once the projection is there
    const requestId = /^erasure ([0-9a-f-]{36})/.exec(message)![1]!;
    const again = await post(app, adminKey, { customer_id: 'cust-broken', request_id: requestId });
    expect([again.statusCode, again.json().already_done]).toEqual([200, true]);
  });

  it('503 API_PRIVACY_OFF from an api without PRIVACY_KEYS; documented in /openapi.json', async () => {
    const off = await startApi({});
    const res = await post(off.app, adminKey, { customer_id: 'cust-2' });
    expect([res.statusCode, res.json().code]).toEqual([503, 'API_PRIVACY_OFF']);
    const doc = (await app.inject({ url: '/openapi.json' })).json();
    const op = doc.paths['/v1/admin/erasures'].post;
    expect(op.operationId).toBe('eraseCustomer');
    expect(Object.keys(op.responses)).toEqual(expect.arrayContaining(['200', '400', '401', '403']));
    expect(op.requestBody.content['application/json'].schema.properties).toHaveProperty('customer_id');
  });
});
