import { randomBytes } from 'node:crypto';
import { createTestDatabase, stackEndpoints, waitFor } from '@livechat-pipeline/testkit';
import type { TestDatabase } from '@livechat-pipeline/testkit';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  PrivacyVault,
  decryptBody,
  decryptField,
  encryptBody,
  encryptField,
  migratePrivacy,
  requireKey,
} from '../src/index.js';
import type { PrivacyConfig, PrivacyError } from '../src/index.js';

const k1 = randomBytes(32);
const k2 = randomBytes(32);
const emailHashKey = randomBytes(32);

function config(
  keys: Array<[string, Buffer]>,
  activeKeyId: string,
  over: Partial<PrivacyConfig> = {},
): PrivacyConfig {
  return {
    keys: new Map(keys),
    activeKeyId,
    emailHashKey,
    cacheSize: 1000,
    cacheTtlMs: 60_000,
    schema: 'privacy',
    ...over,
  };
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return '';
  } catch (err) {
    return (err as PrivacyError).code;
  }
}

describe('privacy vault on the real Postgres', () => {
  let db: TestDatabase;
  const pools: pg.Pool[] = [];
  const pool = (): pg.Pool => {
    const p = new pg.Pool({ connectionString: db.url, max: 4 });
    pools.push(p);
    return p;
  };

  beforeAll(async () => {
    db = await createTestDatabase('privacy');
    // two starters at once: each migration applies once
    const [a, b] = await Promise.all([migratePrivacy(pool()), migratePrivacy(pool())]);
    expect([...a!, ...b!].sort()).toEqual([1, 2]);
  });

  afterAll(async () => {
    await Promise.all(pools.map((p) => p.end()));
    // pool.end() resolves before the sockets close: a forced drop would then kill a closing client, which
    // emits an error nobody hears. Wait until the database has no backend left.
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

  it('two processes racing to create the same chat keys agree on one key per chat', async () => {
    const chats = Array.from({ length: 200 }, (_, i) => `race-${i}`);
    const a = new PrivacyVault(pool(), config([['k1', k1]], 'k1'));
    const b = new PrivacyVault(pool(), config([['k1', k1]], 'k1'));
    const rounds = await Promise.all([
      a.keysFor('t-race', chats, { create: true }),
      b.keysFor('t-race', chats, { create: true }),
      a.keysFor('t-race', chats.slice(50, 150), { create: true }),
      b.keysFor('t-race', [...chats].reverse(), { create: true }),
    ]);
    for (const chat of chats) {
      const sealed = encryptField(requireKey('t-race', chat, rounds[0].get(chat)!), 'message.text', chat);
      for (const r of [rounds[1], rounds[3]])
        expect(decryptField(requireKey('t-race', chat, r.get(chat)!), 'message.text', sealed)).toBe(chat);
    }
    expect(a.stats().keysCreated + b.stats().keysCreated).toBe(200);
    const rows = await pools[0]!.query(
      `select count(*)::int as n from privacy.chat_keys where tenant_id = 't-race'`,
    );
    expect(rows.rows[0].n).toBe(200);
  });

  it('fetches a batch in one query once created, and serves repeats from the cache without a query', async () => {
    const vault = new PrivacyVault(pool(), config([['k1', k1]], 'k1'));
    const chats = Array.from({ length: 500 }, (_, i) => `batch-${i}`);
    await vault.keysFor('t-batch', chats, { create: true });
    const fresh = new PrivacyVault(pool(), config([['k1', k1]], 'k1'));
    const states = await fresh.keysFor('t-batch', chats, { create: false });
    expect([...states.values()].every((s) => s.state === 'active')).toBe(true);
    expect(fresh.stats().queries).toBe(1);
    await fresh.keysFor('t-batch', chats, { create: false });
    expect(fresh.stats().queries).toBe(1);
    expect(fresh.stats().cache.hits).toBe(500);
    const unknown = await fresh.keysFor('t-batch', ['never-seen'], { create: false });
    expect(unknown.get('never-seen')).toEqual({ state: 'absent' });
    expect(await codeOf(fresh.keyFor('t-batch', 'never-seen', { create: false }))).toBe(
      'PRIVACY_KEY_UNAVAILABLE',
    );
  });

  it('the cache stays within its size and forgets keys after its TTL', async () => {
    let now = 0;
    const vault = new PrivacyVault(pool(), config([['k1', k1]], 'k1', { cacheSize: 10, cacheTtlMs: 1000 }), {
      now: () => now,
    });
    const chats = Array.from({ length: 100 }, (_, i) => `cache-${i}`);
    await vault.keysFor('t-cache', chats, { create: true });
    expect(vault.stats().cache.size).toBe(10);
    expect(vault.stats().cache.evictions).toBe(90);
    const before = vault.stats().queries;
    await vault.keysFor('t-cache', chats.slice(90), { create: false });
    expect(vault.stats().queries).toBe(before);
    now = 1000;
    await vault.keysFor('t-cache', chats.slice(90), { create: false });
    expect(vault.stats().queries).toBe(before + 1);
  });

  it('rotation: k1 data stays readable under k2, rewrap moves every key, then k1 can go', async () => {
    // a schema of its own, so other tests' keys do not count
    const schema = 'privacy_rotation';
    await migratePrivacy(pools[0]!, { schema });
    const v1 = new PrivacyVault(pools[0]!, config([['k1', k1]], 'k1', { schema }));
    const chats = Array.from({ length: 30 }, (_, i) => `rot-${i}`);
    const sealed = new Map<string, Buffer>();
    for (const [chat, state] of await v1.keysFor('t-rot', chats, { create: true }))
      sealed.set(chat, encryptBody(requireKey('t-rot', chat, state), Buffer.from(`body of ${chat}`)));
    await v1.eraseChats('t-rot', ['rot-0'], { actor: 'test' });

    const v2 = new PrivacyVault(
      pools[0]!,
      config(
        [
          ['k1', k1],
          ['k2', k2],
        ],
        'k2',
        { schema },
      ),
    );
    const more = await v2.keysFor('t-rot', ['rot-new'], { create: true });
    expect(requireKey('t-rot', 'rot-new', more.get('rot-new')!).version).toBe(1);
    expect(await v2.keysByKekId()).toEqual({ k1: 29, k2: 1 });
    for (const [chat, state] of await v2.keysFor('t-rot', chats.slice(1), { create: false }))
      expect(decryptBody(requireKey('t-rot', chat, state), sealed.get(chat)!).toString()).toBe(
        `body of ${chat}`,
      );

    const result = await v2.rewrap({ batchSize: 7 });
    expect(result).toEqual({ rewrapped: 29, keysByKekId: { k2: 30 } });
    expect((await v2.rewrap()).rewrapped).toBe(0);

    const onlyK2 = new PrivacyVault(pools[0]!, config([['k2', k2]], 'k2', { schema }));
    for (const [chat, state] of await onlyK2.keysFor('t-rot', chats.slice(1), { create: false }))
      expect(decryptBody(requireKey('t-rot', chat, state), sealed.get(chat)!).toString()).toBe(
        `body of ${chat}`,
      );
    expect((await onlyK2.keysFor('t-rot', ['rot-0'], { create: true })).get('rot-0')!.state).toBe('erased');

    // without rewrap, removing k1 is a retryable configuration error, never a silent new key
    const chat = 'rot-late';
    await v1.keysFor('t-rot', [chat], { create: true });
    expect(await codeOf(onlyK2.keyFor('t-rot', chat, { create: true }))).toBe('PRIVACY_KEK_UNKNOWN');
  });

  it('erasure: the key is gone, decrypt says PRIVACY_KEY_ERASED, a late first sight creates nothing', async () => {
    const ingest = new PrivacyVault(pool(), config([['k1', k1]], 'k1'));
    const consumer = new PrivacyVault(pool(), config([['k1', k1]], 'k1'));
    const admin = new PrivacyVault(pool(), config([['k1', k1]], 'k1'));
    const text = await ingest.encryptField('t-erase', 'E1', 'message.text', 'canary Zoë');
    await ingest.recordCustomers('t-erase', [
      { chatId: 'E1', customerId: 'cust-1', email: 'Zoe@Example.com ' },
    ]);
    await ingest.encryptField('t-erase', 'E2', 'message.text', 'other customer');
    await ingest.recordCustomers('t-erase', [{ chatId: 'E2', customerId: 'cust-2' }]);
    expect(await consumer.decryptField('t-erase', 'E1', 'message.text', text)).toBe('canary Zoë');

    const result = await admin.eraseChats('t-erase', ['E1', 'E-never-seen'], {
      actor: 'admin-key-1',
      requestId: 'req-1',
    });
    expect(result).toEqual({
      requestId: 'req-1',
      chats: 2,
      keysErased: 1,
      tombstonesCreated: 1,
      customerLinksDeleted: 2,
      alreadyDone: false,
    });
    expect(await codeOf(admin.decryptField('t-erase', 'E1', 'message.text', text))).toBe(
      'PRIVACY_KEY_ERASED',
    );
    // the consumer's cached key lapses with the TTL; a fresh process cannot read it
    const fresh = new PrivacyVault(pool(), config([['k1', k1]], 'k1'));
    expect(await codeOf(fresh.decryptField('t-erase', 'E1', 'message.text', text))).toBe(
      'PRIVACY_KEY_ERASED',
    );
    // a late webhook for an erased chat, or for a chat erased before it was seen: no new key, no new link
    expect(await codeOf(fresh.encryptField('t-erase', 'E1', 'message.text', 'again'))).toBe(
      'PRIVACY_KEY_ERASED',
    );
    expect(await codeOf(fresh.encryptField('t-erase', 'E-never-seen', 'message.text', 'x'))).toBe(
      'PRIVACY_KEY_ERASED',
    );
    expect(await fresh.recordCustomers('t-erase', [{ chatId: 'E1', customerId: 'cust-1' }])).toBe(0);
    const row = await pools[0]!.query(
      `select kek_id, wrapped_key, erased_at from privacy.chat_keys where tenant_id = 't-erase' and chat_id = 'E1'`,
    );
    expect(row.rows[0]).toMatchObject({ kek_id: null, wrapped_key: null });
    // the other customer's chat is untouched
    expect(
      await fresh.decryptField(
        't-erase',
        'E2',
        'message.text',
        await ingest.encryptField('t-erase', 'E2', 'message.text', 'still'),
      ),
    ).toBe('still');

    // idempotent: the same request changes nothing and answers the first counts; audit holds no subject
    expect(
      await admin.eraseChats('t-erase', ['E1', 'E-never-seen'], { actor: 'admin-key-1', requestId: 'req-1' }),
    ).toEqual({
      ...result,
      alreadyDone: true,
    });
    const again = await admin.eraseChats('t-erase', ['E1'], { actor: 'admin-key-1' });
    expect(again).toMatchObject({ keysErased: 0, tombstonesCreated: 0, alreadyDone: false });
    const audit = await pools[0]!.query(
      `select * from privacy.erasure_audit where tenant_id = 't-erase' order by requested_at`,
    );
    expect(audit.rows).toHaveLength(2);
    expect(JSON.stringify(audit.rows)).not.toMatch(/cust-1|zoe|example/i);
  });

  it("a customer's erasure takes the scopes that are no chat (ticket:, customer:, visitor:) linked through the customer's other identifiers", async () => {
    const vault = new PrivacyVault(pool(), config([['k1', k1]], 'k1'));
    const scopes = ['S1', 'ticket:T1', 'customer:cu-1', 'visitor:cu-1', 'S-shared-email', 'ticket:T-other'];
    await vault.keysFor('t-scopes', scopes, { create: true });
    // as the normalizer records them: the chat by customer id and e-mail, its ticket by the requester e-mail only
    await vault.recordCustomers('t-scopes', [
      { chatId: 'S1', customerId: 'cu-1', email: 'cara@example.com' },
      { chatId: 'ticket:T1', email: 'cara@example.com' },
      { chatId: 'customer:cu-1', customerId: 'cu-1' },
      { chatId: 'visitor:cu-1', customerId: 'cu-1' },
      // another chat that shares only the e-mail is not this customer's by its id: kept
      { chatId: 'S-shared-email', email: 'cara@example.com' },
      { chatId: 'ticket:T-other', email: 'dan@example.com' },
    ]);
    const erased = await vault.eraseCustomer('t-scopes', { customerId: 'cu-1' }, { actor: 'ops' });
    expect(await vault.chatsOfErasure(erased.requestId)).toEqual({
      tenantId: 't-scopes',
      chatIds: ['S1', 'customer:cu-1', 'ticket:T1', 'visitor:cu-1'],
    });
    const states = await vault.keysFor('t-scopes', scopes, { create: false });
    expect(Object.fromEntries([...states].map(([k, v]) => [k, v.state]))).toEqual({
      S1: 'erased',
      'ticket:T1': 'erased',
      'customer:cu-1': 'erased',
      'visitor:cu-1': 'erased',
      'S-shared-email': 'active',
      'ticket:T-other': 'active',
    });
  });

  it("finds a customer's chats by customer id or e-mail (keyed hash, learned late), and erases them", async () => {
    const vault = new PrivacyVault(pool(), config([['k1', k1]], 'k1'));
    await vault.keysFor('t-find', ['F1', 'F2', 'F3', 'F4'], { create: true });
    await vault.recordCustomers('t-find', [
      { chatId: 'F1', customerId: 'c-9' },
      { chatId: 'F2', email: 'ann@example.com' },
      { chatId: 'F3', customerId: 'c-other', email: 'bob@example.com' },
    ]);
    // the e-mail of F1 and the customer id of F2 are learned later
    await vault.recordCustomers('t-find', [
      { chatId: 'F1', email: ' ANN@example.com' },
      { chatId: 'F2', customerId: 'c-9' },
      { chatId: 'F1', customerId: 'c-9' },
    ]);
    expect(await vault.findChatsOfCustomer('t-find', { customerId: 'c-9' })).toEqual(['F1', 'F2']);
    expect(await vault.findChatsOfCustomer('t-find', { email: 'Ann@Example.com' })).toEqual(['F1', 'F2']);
    expect(await vault.findChatsOfCustomer('t-other-tenant', { email: 'ann@example.com' })).toEqual([]);
    const stored = await pools[0]!.query(
      `select subject from privacy.chat_customers where tenant_id = 't-find'`,
    );
    expect(JSON.stringify(stored.rows)).not.toMatch(/example/);

    const erased = await vault.eraseCustomer('t-find', { email: 'ann@example.com' }, { actor: 'ops' });
    expect(erased).toMatchObject({ chats: 2, keysErased: 2 });
    expect(await vault.findChatsOfCustomer('t-find', { customerId: 'c-9' })).toEqual([]);
    expect((await vault.keysFor('t-find', ['F3', 'F4'], { create: false })).get('F3')!.state).toBe('active');
    const audit = await pools[0]!.query(
      `select subject_kind, actor from privacy.erasure_audit where request_id = $1`,
      [erased.requestId],
    );
    expect(audit.rows).toEqual([{ subject_kind: 'email', actor: 'ops' }]);
  });

  it('an erasure racing with first sights of the same chats always wins', async () => {
    const creators = [
      new PrivacyVault(pool(), config([['k1', k1]], 'k1')),
      new PrivacyVault(pool(), config([['k1', k1]], 'k1')),
    ];
    const eraser = new PrivacyVault(pool(), config([['k1', k1]], 'k1'));
    const chats = Array.from({ length: 100 }, (_, i) => `racy-${i}`);
    await Promise.all([
      ...creators.map((c) => c.keysFor('t-racy', chats, { create: true })),
      eraser.eraseChats('t-racy', chats, { actor: 'test' }),
    ]);
    const fresh = new PrivacyVault(pool(), config([['k1', k1]], 'k1'));
    const states = await fresh.keysFor('t-racy', chats, { create: true });
    expect([...states.values()].filter((s) => s.state !== 'erased')).toEqual([]);
  });

  it('an erasure waiting on a creation that commits meanwhile still erases the new key', async () => {
    // The creation holds its uncommitted row; the erasure's tombstone insert waits on it. Once the creation
    // commits, the tombstone conflicts (no-op) and the update that follows, a new statement, erases the row.
    const creator = await pools[0]!.connect();
    try {
      await creator.query('begin');
      await creator.query(
        `insert into privacy.chat_keys (tenant_id, chat_id, kek_id, wrapped_key) values ('t-wait', 'W1', 'k1', $1)`,
        [randomBytes(61)],
      );
      const erasing = new PrivacyVault(pool(), config([['k1', k1]], 'k1')).eraseChats('t-wait', ['W1'], {
        actor: 'test',
      });
      await waitFor(async () => {
        const r = await pools[0]!.query(
          `select count(*)::int as n from pg_stat_activity where datname = $1 and wait_event_type = 'Lock'`,
          [db.name],
        );
        return r.rows[0].n > 0;
      });
      await creator.query('commit');
      expect(await erasing).toMatchObject({ keysErased: 1, tombstonesCreated: 0 });
    } finally {
      creator.release();
    }
    const row = await pools[0]!.query(
      `select wrapped_key, erased_at from privacy.chat_keys where tenant_id = 't-wait' and chat_id = 'W1'`,
    );
    expect(row.rows[0].wrapped_key).toBeNull();
    expect(row.rows[0].erased_at).not.toBeNull();
  });

  it("retention erases chats inactive for longer than their tenant's days; a use touches last activity", async () => {
    const schema = 'privacy_retention';
    await migratePrivacy(pools[0]!, { schema });
    const vault = new PrivacyVault(pool(), config([['k1', k1]], 'k1', { schema }));
    await vault.keysFor('t-ret', ['A', 'B', 'C'], { create: true });
    await vault.keysFor('t-ret-short', ['D', 'E'], { create: true });
    await vault.setRetention('t-ret-short', 10);
    const age = (tenant: string, chat: string, days: number) =>
      pools[0]!.query(
        `update ${schema}.chat_keys set last_seen_at = now() - make_interval(days => $3) where tenant_id = $1 and chat_id = $2`,
        [tenant, chat, days],
      );
    await age('t-ret', 'A', 40);
    await age('t-ret', 'B', 31);
    await age('t-ret', 'C', 40);
    await age('t-ret-short', 'D', 15);
    await age('t-ret-short', 'E', 5);
    // C is used again (a fresh process, so the key is not cached): its last activity moves to today
    await new PrivacyVault(pool(), config([['k1', k1]], 'k1', { schema })).keysFor('t-ret', ['C'], {
      create: true,
    });

    const seen: string[] = [];
    const result = await vault.runRetention({
      defaultDays: 30,
      batchSize: 1,
      onErased: async (tenant, chats, r) => {
        expect(r.keysErased).toBe(1);
        seen.push(`${tenant}/${chats.join(',')}`);
      },
    });
    expect(result).toEqual({ erasures: 3, keysErased: 3 });
    expect(seen.sort()).toEqual(['t-ret-short/D', 't-ret/A', 't-ret/B']);
    const states = await vault.keysFor('t-ret', ['A', 'B', 'C'], { create: false });
    expect(['A', 'B', 'C'].map((c) => states.get(c)!.state)).toEqual(['erased', 'erased', 'active']);
    expect((await vault.keysFor('t-ret-short', ['E'], { create: false })).get('E')!.state).toBe('active');
    expect(await vault.runRetention({ defaultDays: 30 })).toEqual({ erasures: 0, keysErased: 0 });
    // without a global default only tenants with their own days are looked at
    await age('t-ret', 'C', 400);
    expect(await vault.runRetention({ defaultDays: null })).toEqual({ erasures: 0, keysErased: 0 });
    const audit = await pools[0]!.query(`select distinct actor, subject_kind from ${schema}.erasure_audit`);
    expect(audit.rows).toEqual([{ actor: 'retention', subject_kind: 'retention' }]);
  });

  it("the sweep after the cache TTL finds each erasure's chats and records the projections' counts", async () => {
    const schema = 'privacy_sweep';
    await migratePrivacy(pools[0]!, { schema });
    const vault = new PrivacyVault(pool(), config([['k1', k1]], 'k1', { schema }));
    await vault.keysFor('t-sweep', ['S1', 'S2', 'S3'], { create: true });
    const first = await vault.eraseChats('t-sweep', ['S1', 'S2'], { actor: 'ops', requestId: 'sweep-1' });
    expect(first.keysErased).toBe(2);
    expect(await vault.erasuresDueForSweep(3_600_000)).toEqual([]);
    expect(await vault.erasuresDueForSweep(0)).toEqual(['sweep-1']);
    expect(await vault.chatsOfErasure('sweep-1')).toEqual({ tenantId: 't-sweep', chatIds: ['S1', 'S2'] });
    expect(await vault.chatsOfErasure('no-such-request')).toBeNull();
    await vault.recordProjectionCounts('sweep-1', { transcripts: 12, analytics: 2 }, { swept: false });
    await vault.recordProjectionCounts('sweep-1', { transcripts: 1, crm: 3 }, { swept: true });
    expect(await vault.erasuresDueForSweep(0)).toEqual([]);
    const audit = await pools[0]!.query(
      `select projection_counts, swept_at from ${schema}.erasure_audit where request_id = 'sweep-1'`,
    );
    expect(audit.rows[0].projection_counts).toEqual({ transcripts: 13, analytics: 2, crm: 3 });
    expect(audit.rows[0].swept_at).not.toBeNull();
  });
});
