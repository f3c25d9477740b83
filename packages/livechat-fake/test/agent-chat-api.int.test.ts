import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeLiveChat } from '../src/index.js';
import type { ArchiveRow, FakeLiveChat } from '../src/index.js';

const DAY = 86_400_000;
const NOW = Date.parse('2026-11-28T12:00:00Z');
let clock = NOW;

/** `n` threads, 2 per chat, one a minute from `start`, the last `activeLast` still active. */
function rows(n: number, start = NOW - 10 * DAY): ArchiveRow[] {
  return Array.from({ length: n }, (_, i) => {
    const created = new Date(start + i * 60_000).toISOString().replace('Z', '000Z');
    return {
      id: `C${Math.floor(i / 2)}`,
      users: [
        { id: `cust-${Math.floor(i / 2)}`, type: 'customer', name: 'Ann Lee', email: `ann${i}@example.com` },
        { id: 'agent@example.com', type: 'agent', name: 'Agent' },
      ],
      access: { group_ids: [i % 3] },
      thread: {
        id: `T${i}`,
        active: i === n - 1,
        created_at: created,
        user_ids: [`cust-${Math.floor(i / 2)}`, 'agent@example.com'],
        events: [
          {
            id: `E${i}`,
            type: 'message',
            text: `hello ${i}`,
            author_id: 'agent@example.com',
            created_at: created,
          },
        ],
      },
    };
  });
}

const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;
const FULL = basic('acct', 'pat-full');

describe('fake Agent Chat API (reference A.12)', () => {
  let fake: FakeLiveChat;
  beforeAll(async () => {
    fake = await startFakeLiveChat({
      clients: [],
      account: { accountId: 'a1', organizationId: 'org-1', licenseId: 1, email: 'a@example.com' },
      pats: [
        {
          accountId: 'acct',
          token: 'pat-full',
          organizationId: 'org-1',
          scopes: ['chats--all:ro', 'customers:ro'],
        },
        { accountId: 'acct', token: 'pat-access', organizationId: 'org-1', scopes: ['chats--access:rw'] },
        {
          accountId: 'acct',
          token: 'pat-webhooks',
          organizationId: 'org-1',
          scopes: ['webhooks.configuration:rw'],
        },
        { accountId: 'limited', token: 'pat-limited', organizationId: 'org-1', scopes: ['chats--all:ro'] },
        {
          accountId: 'grp',
          token: 'pat-grp',
          organizationId: 'org-1',
          scopes: ['chats--access:ro'],
          groupIds: [1],
        },
        {
          accountId: 'other',
          token: 'pat-other',
          organizationId: 'org-2',
          scopes: ['chats--all:ro', 'customers:ro'],
        },
      ],
      agentChat: { historyDays: 60, rateLimit: { capacity: 1000, refillPerSecond: 0 }, pageTtlMs: DAY },
      now: () => clock,
    });
    fake.upsertArchives(rows(25));
    fake.upsertArchives([
      {
        ...rows(1, NOW - 90 * DAY)[0]!,
        id: 'OLD',
        thread: { ...rows(1, NOW - 90 * DAY)[0]!.thread, id: 'T-old', active: false },
      },
    ]);
  });
  afterAll(async () => {
    await fake?.close();
  });

  const call = async (method: string, body: unknown, authorization = FULL) => {
    const res = await fetch(`${fake.apiUrl}/agent/action/${method}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(authorization === '' ? {} : { authorization }),
      },
      body: JSON.stringify(body),
    });
    return {
      status: res.status,
      retryAfter: res.headers.get('retry-after'),
      json: (await res.json()) as Record<string, unknown> & { error?: { type: string; message: string } },
    };
  };

  it('list_archives walks one row per thread, ascending, following page_id alone, without gaps or repeats', async () => {
    const seen: string[] = [];
    let r = await call('list_archives', { sort_order: 'asc', limit: 10 });
    expect(r.status).toBe(200);
    expect(r.json['previous_page_id']).toBeUndefined();
    for (;;) {
      const chats = r.json['chats'] as { id: string; thread: { id: string; events?: unknown[] } }[];
      seen.push(...chats.map((c) => c.thread.id));
      const next = r.json['next_page_id'] as string | undefined;
      if (next === undefined) break;
      r = await call('list_archives', { page_id: next });
      expect(r.status).toBe(200);
      expect(r.json['previous_page_id']).toEqual(expect.any(String));
    }
    expect(seen).toEqual(['T-old', ...Array.from({ length: 25 }, (_, i) => `T${i}`)]);
    // the same chat appears once per thread
    const chatOf = (await call('list_archives', { filters: { chat_ids: ['C3'] } })).json['chats'] as {
      id: string;
    }[];
    expect(chatOf.map((c) => c.id)).toEqual(['C3', 'C3']);
  });

  it('default order is desc and limit 10; the previous page is the one before', async () => {
    const first = await call('list_archives', {});
    const ids = (first.json['chats'] as { thread: { id: string } }[]).map((c) => c.thread.id);
    expect(ids).toEqual(['T24', 'T23', 'T22', 'T21', 'T20', 'T19', 'T18', 'T17', 'T16', 'T15']);
    const second = await call('list_archives', { page_id: first.json['next_page_id'] });
    const back = await call('list_archives', { page_id: second.json['previous_page_id'] });
    expect((back.json['chats'] as { thread: { id: string } }[]).map((c) => c.thread.id)).toEqual(ids);
  });

  it('filters from/to and group_ids select threads; the cursor keeps them', async () => {
    const from = new Date(NOW - 10 * DAY + 5 * 60_000).toISOString().replace('Z', '000+00:00');
    const to = new Date(NOW - 10 * DAY + 14 * 60_000).toISOString().replace('Z', '000+00:00');
    const r = await call('list_archives', { filters: { from, to }, sort_order: 'asc', limit: 4 });
    expect((r.json['chats'] as { thread: { id: string } }[]).map((c) => c.thread.id)).toEqual([
      'T5',
      'T6',
      'T7',
      'T8',
    ]);
    const all: string[] = [];
    let page: typeof r | undefined = r;
    while (page !== undefined) {
      all.push(...(page.json['chats'] as { thread: { id: string } }[]).map((c) => c.thread.id));
      const next: unknown = page.json['next_page_id'];
      page = next === undefined ? undefined : await call('list_archives', { page_id: next });
    }
    expect(all).toHaveLength(10);
    const g = await call('list_archives', { filters: { group_ids: [1] }, limit: 100 });
    expect((g.json['chats'] as unknown[]).length).toBe(8);
  });

  it('rejects page_id with filters, limit or sort_order, unknown and expired page_ids, and bad limits', async () => {
    const first = await call('list_archives', { limit: 5 });
    const pageId = first.json['next_page_id'];
    for (const extra of [{ filters: {} }, { limit: 5 }, { sort_order: 'asc' }]) {
      const r = await call('list_archives', { page_id: pageId, ...extra });
      expect(r.status).toBe(400);
      expect(r.json.error?.type).toBe('validation');
      expect(r.json.error?.message).toMatch(/page_id cannot be combined/);
    }
    expect((await call('list_archives', { page_id: 'bm9wZQ==' })).json.error?.message).toBe(
      'Invalid page_id',
    );
    for (const limit of [0, 101, 2.5, '10'])
      expect((await call('list_archives', { limit })).json.error?.type).toBe('validation');
    expect((await call('list_archives', { limit: 100 })).status).toBe(200);
    expect((await call('list_archives', { sort_order: 'up' })).status).toBe(400);
    expect((await call('list_archives', { filters: { from: '2026-01-01' } })).status).toBe(400);
    expect(
      (await call('list_archives', { filters: { tags: { values: ['x'] } } })).json.error?.message,
    ).toMatch(/not supported/);
    const ids21 = Array.from({ length: 21 }, (_, i) => `T${i}`);
    expect((await call('list_archives', { filters: { thread_ids: ids21 } })).status).toBe(400);
    expect((await call('list_archives', { filters: { thread_ids: ['T1'], chat_ids: ['C0'] } })).status).toBe(
      400,
    );
    const byThread = await call('list_archives', { filters: { thread_ids: ['T1', 'T2'] } });
    expect(byThread.json['next_page_id']).toBeUndefined();
    expect((byThread.json['chats'] as unknown[]).length).toBe(2);
    // a page_id expires (one day here)
    clock += DAY + 1;
    try {
      const r = await call('list_archives', { page_id: pageId });
      expect(r.json.error).toEqual({ type: 'validation', message: 'Expired page_id' });
    } finally {
      clock = NOW;
    }
    // another credential cannot use this walk's page_id
    const other = await call(
      'list_archives',
      { page_id: first.json['next_page_id'] },
      basic('limited', 'pat-limited'),
    );
    expect(other.json.error?.message).toBe('Invalid page_id');
  });

  it('auth: Bearer or PAT Basic, else authentication; scopes checked, else authorization', async () => {
    expect((await call('list_archives', {}, '')).json.error).toEqual({
      type: 'authentication',
      message: 'Invalid access token',
    });
    expect((await call('list_archives', {}, basic('acct', 'nope'))).status).toBe(401);
    expect((await call('list_archives', {}, 'Bearer not-a-token')).status).toBe(401);
    const noScope = await call('list_archives', {}, basic('acct', 'pat-webhooks'));
    expect(noScope.status).toBe(403);
    expect(noScope.json.error?.type).toBe('authorization');
    expect((await call('list_archives', {}, basic('acct', 'pat-access'))).status).toBe(200);
    expect((await call('get_customer', { id: 'cust-1' }, basic('acct', 'pat-access'))).status).toBe(403);
    expect((await call('nope', {})).json.error?.type).toBe('not_found');
  });

  it('chats--access: only the groups of the PAT user; get_chat of a thread outside them is authorization', async () => {
    const grp = basic('grp', 'pat-grp');
    const listed = (await call('list_archives', { limit: 100 }, grp)).json['chats'] as {
      access: { group_ids: number[] };
    }[];
    expect(listed).toHaveLength(8);
    expect(listed.every((c) => c.access.group_ids.includes(1))).toBe(true);
    expect((await call('get_chat', { chat_id: 'C0', thread_id: 'T1' }, grp)).status).toBe(200);
    const refused = await call('get_chat', { chat_id: 'C0', thread_id: 'T0' }, grp);
    expect(refused.status).toBe(403);
    expect(refused.json.error?.type).toBe('authorization');
  });

  it("a token sees its own organization's chats only", async () => {
    const other = basic('other', 'pat-other');
    expect((await call('list_archives', { limit: 100 }, other)).json['chats']).toEqual([]);
    expect((await call('get_chat', { chat_id: 'C1' }, other)).status).toBe(404);
    expect((await call('get_customer', { id: 'cust-1' }, other)).status).toBe(404);
    fake.upsertArchives(
      [{ ...rows(1)[0]!, id: 'C-org2', thread: { ...rows(1)[0]!.thread, id: 'T0' } }],
      'org-2',
    );
    const mine = await call('list_archives', { limit: 100 }, other);
    expect((mine.json['chats'] as { id: string }[]).map((c) => c.id)).toEqual(['C-org2']);
    // the same thread id in another organization is another thread
    expect(
      ((await call('get_chat', { chat_id: 'C0', thread_id: 'T0' })).json['thread'] as { id: string }).id,
    ).toBe('T0');
  });

  it('threads beyond the plan history come back with restricted_access and no events', async () => {
    const r = await call('get_chat', { chat_id: 'OLD' });
    const thread = r.json['thread'] as Record<string, unknown>;
    expect(thread['restricted_access']).toEqual(expect.any(String));
    expect(thread['events']).toBeUndefined();
    const recent = (await call('get_chat', { chat_id: 'C1', thread_id: 'T2' })).json['thread'] as Record<
      string,
      unknown
    >;
    expect(recent['events']).toHaveLength(1);
  });

  it('get_chat (latest thread by default, not_found), list_chats, list_threads, get_customer', async () => {
    expect(((await call('get_chat', { chat_id: 'C12' })).json['thread'] as { id: string }).id).toBe('T24');
    expect((await call('get_chat', { chat_id: 'C1', thread_id: 'T9' })).json.error?.type).toBe('not_found');
    expect((await call('get_chat', { chat_id: 'nope' })).status).toBe(404);
    expect((await call('get_chat', {})).status).toBe(400);
    const active = await call('list_chats', { filters: { active: true } });
    expect((active.json['chats_summary'] as { id: string }[]).map((c) => c.id)).toEqual(['C12']);
    const chats = await call('list_chats', { limit: 100 });
    expect(chats.json['chats_summary']).toHaveLength(14);
    const threads = await call('list_threads', { chat_id: 'C5' });
    expect((threads.json['threads'] as { id: string }[]).map((t) => t.id)).toEqual(['T11', 'T10']);
    expect((await call('list_threads', { chat_id: 'C5', limit: 101 })).status).toBe(400);
    expect((await call('list_threads', { chat_id: 'C5', min_events_count: 1, limit: 2 })).status).toBe(400);
    const customer = await call('get_customer', { id: 'cust-2' });
    expect(customer.json).toMatchObject({
      id: 'cust-2',
      type: 'customer',
      name: 'Ann Lee',
      chat_ids: ['C2'],
    });
    expect(customer.json).not.toHaveProperty('last_visit');
    expect(customer.json).not.toHaveProperty('phone_number');
    expect((await call('get_customer', { id: 'nobody' })).status).toBe(404);
  });

  it('too_many_requests when the budget is spent, without Retry-After', async () => {
    const limited = await startFakeLiveChat({
      clients: [],
      account: { accountId: 'a1', organizationId: 'org-1', licenseId: 1, email: 'a@example.com' },
      pats: [{ accountId: 'acct', token: 'pat-full', organizationId: 'org-1', scopes: ['chats--all:ro'] }],
      agentChat: { rateLimit: { capacity: 3, refillPerSecond: 0 } },
    });
    try {
      const statuses: number[] = [];
      let last;
      for (let i = 0; i < 5; i++) {
        const res = await fetch(`${limited.apiUrl}/agent/action/list_archives`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: FULL },
          body: '{}',
        });
        statuses.push(res.status);
        last = { retryAfter: res.headers.get('retry-after'), json: await res.json() };
      }
      expect(statuses).toEqual([200, 200, 200, 429, 429]);
      expect(last).toEqual({
        retryAfter: null,
        json: { error: { type: 'too_many_requests', message: 'Too many requests' } },
      });
    } finally {
      await limited.close();
    }
  });
});
