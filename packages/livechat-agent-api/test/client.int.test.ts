import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeLiveChat } from '@livechat-pipeline/livechat-fake';
import type { FakeLiveChat } from '@livechat-pipeline/livechat-fake';
import { AgentChatClient, archiveTime, isAgentApiError, walkArchives } from '../src/index.js';
import type { AgentApiEvent, AgentChatClientOptions } from '../src/index.js';

const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;

function rows(n: number) {
  const start = Date.parse('2026-11-01T00:00:00Z');
  return Array.from({ length: n }, (_, i) => {
    const created = new Date(start + i * 1000).toISOString().replace('Z', '000Z');
    return {
      id: `C${i}`,
      users: [{ id: `cust-${i}`, type: 'customer' }],
      thread: { id: `T${i}`, active: false, created_at: created, events: [] },
    };
  });
}

async function expectCode(p: Promise<unknown>, code: string): Promise<void> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isAgentApiError(err) ? err.code : err).toBe(code);
}

describe('Agent Chat API client against the fake', () => {
  let fake: FakeLiveChat;
  beforeAll(async () => {
    fake = await startFakeLiveChat({
      clients: [],
      account: { accountId: 'a1', organizationId: 'org-1', licenseId: 1, email: 'a@example.com' },
      pats: [
        {
          accountId: 'acct',
          token: 'good',
          organizationId: 'org-1',
          scopes: ['chats--all:ro', 'customers:ro'],
        },
        { accountId: 'acct', token: 'no-scope', organizationId: 'org-1', scopes: ['webhooks.state:rw'] },
      ],
    });
    fake.upsertArchives(rows(250));
  });
  afterAll(async () => {
    await fake?.close();
  });

  const client = (overrides: Partial<AgentChatClientOptions> = {}, events: AgentApiEvent[] = []) =>
    new AgentChatClient({
      apiUrl: fake.apiUrl,
      authorization: () => Promise.resolve(basic('acct', 'good')),
      backoff: { baseMs: 1, maxMs: 4 },
      onEvent: (e) => events.push(e),
      ...overrides,
    });

  it('validation, authorization and not_found fail at once, each with its own code', async () => {
    const events: AgentApiEvent[] = [];
    const c = client({}, events);
    await expectCode(c.call('list_archives', { page_id: 'x', limit: 5 }), 'AGENT_API_VALIDATION');
    await expectCode(c.call('get_chat', { chat_id: 'nope' }), 'AGENT_API_NOT_FOUND');
    const noScope = client({ authorization: () => Promise.resolve(basic('acct', 'no-scope')) }, events);
    await expectCode(noScope.call('list_archives', {}), 'AGENT_API_AUTHORIZATION');
    expect(events.filter((e) => e.kind === 'retry')).toEqual([]);
    expect(events.filter((e) => e.kind === 'error').map((e) => (e.kind === 'error' ? e.type : ''))).toEqual([
      'validation',
      'not_found',
      'authorization',
    ]);
  });

  it('authentication refreshes the token once and tries again; a second refusal fails', async () => {
    let token = 'stale';
    let refreshes = 0;
    const c = client({
      authorization: () => Promise.resolve(basic('acct', token)),
      onUnauthorized: () => {
        refreshes += 1;
        token = 'good';
        return Promise.resolve();
      },
    });
    expect(await c.call('get_chat', { chat_id: 'C1' })).toMatchObject({ id: 'C1' });
    expect(refreshes).toBe(1);
    const never = client({
      authorization: () => Promise.resolve(basic('acct', 'bad')),
      onUnauthorized: () => Promise.resolve(),
    });
    await expectCode(never.call('get_chat', { chat_id: 'C1' }), 'AGENT_API_AUTHENTICATION');
  });

  it('credentials that cannot be opened or refreshed fail as authentication at once, not as a network error', async () => {
    const events: AgentApiEvent[] = [];
    const sealed = client(
      {
        authorization: () => Promise.reject(new Error('APP_TOKEN_DECRYPT_FAILED')),
        onUnauthorized: () => Promise.reject(new Error('refresh revoked')),
      },
      events,
    );
    await expectCode(sealed.call('get_chat', { chat_id: 'C1' }), 'AGENT_API_AUTHENTICATION');
    const revoked = client({
      authorization: () => Promise.resolve(basic('acct', 'bad')),
      onUnauthorized: () => Promise.reject(new Error('refresh token revoked')),
    });
    await expectCode(revoked.call('get_chat', { chat_id: 'C1' }), 'AGENT_API_AUTHENTICATION');
    expect(events.filter((e) => e.kind === 'retry' && e.delayMs > 0)).toEqual([]);
  });

  it('too_many_requests backs off with jitter until it passes, and fails only after its attempts', async () => {
    const events: AgentApiEvent[] = [];
    fake.injectAgentFaults(
      ...Array.from({ length: 4 }, () => ({ kind: 'status' as const, status: 429 as const })),
    );
    expect(await client({}, events).call('get_chat', { chat_id: 'C2' })).toMatchObject({ id: 'C2' });
    const retries = events.filter((e) => e.kind === 'retry');
    expect(retries.map((e) => (e.kind === 'retry' ? e.reason : ''))).toEqual(
      Array(4).fill('too_many_requests'),
    );
    fake.injectAgentFaults(
      ...Array.from({ length: 3 }, () => ({ kind: 'status' as const, status: 429 as const })),
    );
    await expectCode(
      client({ rateLimitedAttempts: 3 }).call('get_chat', { chat_id: 'C2' }),
      'AGENT_API_RATE_LIMITED',
    );
    fake.injectAgentFaults(
      ...Array.from({ length: 3 }, () => ({ kind: 'status' as const, status: 503 as const })),
    );
    await expectCode(client({ maxAttempts: 3 }).call('get_chat', { chat_id: 'C2' }), 'AGENT_API_UNAVAILABLE');
    fake.clearFaults();
  });

  it('a 429 storm slows the walk down without losing or repeating a page', async () => {
    const events: AgentApiEvent[] = [];
    fake.setAgentFaultPlan(({ n }) => (n % 3 !== 0 ? { kind: 'status', status: 429 } : undefined));
    try {
      const seen: string[] = [];
      const result = await walkArchives(
        client({}, events),
        { filters: { from: archiveTime(new Date('2026-10-01T00:00:00Z')) } },
        (page) => {
          seen.push(...page.rows.map((r) => r.thread.id));
          return Promise.resolve();
        },
      );
      expect(result).toEqual({ pages: 3, rows: 250 });
      expect(seen).toEqual(Array.from({ length: 250 }, (_, i) => `T${i}`));
      // two calls in three are refused (the plan counts every call of the file, so the first page may see one): each
      // refusal was waited out and retried
      const retries = events.filter((e) => e.kind === 'retry').length;
      expect(retries).toBeGreaterThanOrEqual(4);
      expect(retries).toBe(
        fake.calls().filter((c) => c.path === 'agent/action/list_archives' && c.status === 429).length,
      );
    } finally {
      fake.setAgentFaultPlan(undefined);
    }
  });

  it('caps the calls in flight per client', async () => {
    let inFlight = 0;
    let peak = 0;
    const server = createServer((_req, res) => {
      inFlight += 1;
      peak = Math.max(peak, inFlight);
      setTimeout(() => {
        inFlight -= 1;
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"chats":[]}');
      }, 20);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const c = new AgentChatClient({
        apiUrl: `http://127.0.0.1:${port}/v3.6`,
        authorization: () => Promise.resolve('Bearer t'),
        concurrency: 3,
      });
      await Promise.all(Array.from({ length: 12 }, () => c.call('list_archives', {})));
      expect(peak).toBe(3);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
