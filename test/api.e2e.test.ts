import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import type { LightMyRequestResponse } from 'fastify';
import { pino } from 'pino';
import { buildApi, createApiDeps, loadApiConfig } from '@livechat-pipeline/api';
import { createApiTestBed, type ApiTestBed } from './support/api-bed.js';

/**
 * services/api on the real Postgres, over transcripts and analytics projections filled from simulated traffic of
 * two tenants by the projections' own code. The expectations are read from the projections' public views.
 */
const run = promisify(execFile);
let bed: ApiTestBed;
let doc: OpenApi;
/** Ids of tenant B, to be asked for with tenant A's key. */
let other: { chatId: string; customerId: string };
/** Ids of tenant A (the caller's own). */
let own: { chatId: string; customerId: string; ratedChatId: string };

interface OpenApi {
  paths: Record<
    string,
    Record<
      string,
      {
        operationId: string;
        parameters: { name: string; in: string }[];
        responses: Record<string, { content: Record<string, { schema: unknown }> }>;
      }
    >
  >;
  components: { schemas: Record<string, unknown> };
}

const as = (
  key: string,
  url: string,
  headers: Record<string, string> = {},
): Promise<LightMyRequestResponse> =>
  bed.app.inject({ url, headers: { authorization: `Bearer ${key}`, ...headers } });
const asA = (url: string, headers: Record<string, string> = {}) => as(bed.keys[0], url, headers);

beforeAll(async () => {
  bed = await createApiTestBed({ seed: 1601, chats: 40 });
  doc = (await bed.app.inject({ url: '/openapi.json' })).json<OpenApi>();
  const pick = async (tenant: string) => {
    const { rows } = await bed.pool.query<{ chat_id: string; customer_id: string }>(
      `select chat_id, customer_id from transcripts.chat_summary where tenant = $1 and customer_id is not null
       order by message_count desc, chat_id limit 1`,
      [tenant],
    );
    return { chatId: rows[0]!.chat_id, customerId: rows[0]!.customer_id };
  };
  const rated = await bed.pool.query<{ chat_id: string }>(
    `select chat_id from analytics.thread_facts where tenant = $1 and rating is not null order by chat_id limit 1`,
    [bed.tenantIds[0]],
  );
  own = { ...(await pick(bed.tenantIds[0])), ratedChatId: rated.rows[0]!.chat_id };
  other = await pick(bed.tenantIds[1]);
});
afterAll(async () => {
  await bed?.close();
});

/** A concrete URL of every documented operation, with `ids` in its path parameters. */
function operationUrls(ids: { chatId: string; customerId: string }, query = ''): Map<string, string> {
  const urls = new Map<string, string>();
  for (const [path, methods] of Object.entries(doc.paths)) {
    // GET operations only: POST /v1/admin/erasures has its own test (services/api/test/erasures.int.test.ts)
    for (const [method, op] of Object.entries(methods)) {
      if (method !== 'get') continue;
      const url = path
        .replace('{chat_id}', encodeURIComponent(ids.chatId))
        .replace('{customer_id}', encodeURIComponent(ids.customerId));
      expect(url, `${path} has a path parameter this test does not fill`).not.toMatch(/[{}]/);
      urls.set(op.operationId, `${url}${query}`);
    }
  }
  return urls;
}

const allOwnChatIds = async (): Promise<string[]> =>
  (
    await bed.pool.query<{ chat_id: string }>(
      `select chat_id from transcripts.chats where tenant = $1
       order by coalesce(first_thread_started_us, -1) desc, chat_id desc`,
      [bed.tenantIds[0]],
    )
  ).rows.map((r) => r.chat_id);

describe('authentication', () => {
  it('answers 401 with one body whatever is wrong: no header, not Bearer, malformed, unknown id, wrong secret, revoked', async () => {
    const [key] = bed.keys;
    const wrongSecret = `${key.slice(0, -4)}${key.endsWith('AAAA') ? 'BBBB' : 'AAAA'}`;
    const unknownId = `lcp_0123456789abcdef_${key.slice(-43)}`;
    const revoked = await bed.deps.keys.create({ tenant: bed.tenantIds[0], name: 'to revoke' });
    expect((await as(revoked.key, '/v1/chats')).statusCode).toBe(200);
    await bed.deps.keys.revoke(revoked.record.id);
    const answers = await Promise.all([
      bed.app.inject({ url: '/v1/chats' }),
      bed.app.inject({ url: '/v1/chats', headers: { authorization: `Basic ${key}` } }),
      as('lcp_nonsense', '/v1/chats'),
      as(unknownId, '/v1/chats'),
      as(wrongSecret, '/v1/chats'),
      as(revoked.key, '/v1/chats'),
    ]);
    for (const answer of answers) {
      expect(answer.statusCode).toBe(401);
      expect(answer.headers['www-authenticate']).toBe('Bearer');
      expect(answer.json()).toEqual({ code: 'API_UNAUTHORIZED', message: 'missing or invalid credentials' });
    }
  });

  it('authenticates before validating: a bad parameter without a key is 401, not 400', async () => {
    expect((await bed.app.inject({ url: '/v1/chats?limit=9999' })).statusCode).toBe(401);
  });
});

describe('tenant isolation', () => {
  it("every endpoint asked with another tenant's ids answers 404 and no data", async () => {
    for (const [operation, url] of operationUrls(other)) {
      const answer = await asA(url);
      if (url.includes(other.chatId) || url.includes(other.customerId)) {
        expect(answer.statusCode, operation).toBe(404);
        expect(answer.json(), operation).toEqual({ code: 'API_NOT_FOUND', message: expect.any(String) });
      } else {
        // no id in the path: the answer is the caller's tenant only (checked per endpoint below)
        expect(answer.statusCode, operation).toBe(200);
        expect(answer.body, operation).not.toContain(other.chatId);
        expect(answer.body, operation).not.toContain(other.customerId);
      }
    }
    // and the same ids with their own tenant's key are found, so the 404s above are the tenant scoping
    for (const [operation, url] of operationUrls(other)) {
      expect((await as(bed.keys[1], url)).statusCode, operation).toBe(200);
    }
  });

  it("lists, searches and CSV of one tenant never show the other's chats", async () => {
    const b = await bed.pool.query<{ chat_id: string }>(
      `select chat_id from transcripts.chats where tenant = $1`,
      [bed.tenantIds[1]],
    );
    expect(b.rows.length).toBeGreaterThan(0);
    const csv = (await asA('/v1/chats', { accept: 'text/csv' })).body;
    const pages = (await asA('/v1/chats?limit=200')).body;
    const customerEmail = (await asA(`/v1/chats?customer_email=${encodeURIComponent('x@y.z')}`)).body;
    for (const { chat_id } of b.rows) {
      expect(csv).not.toContain(chat_id);
      expect(pages).not.toContain(chat_id);
      expect(customerEmail).not.toContain(chat_id);
    }
  });
});

describe('OpenAPI contract', () => {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  // real format checks: the contract promises RFC 3339 times and full-dates
  addFormats.default(ajv, ['date-time', 'date']);

  function validate(operation: string, status: string, answer: LightMyRequestResponse): void {
    const op = Object.values(doc.paths)
      .flatMap((m) => Object.values(m))
      .find((o) => o.operationId === operation)!;
    const response = op.responses[status];
    expect(response, `${operation} documents ${status}`).toBeDefined();
    const schema = response!.content['application/json']!.schema as Record<string, unknown>;
    const resolved =
      schema['$ref'] === '#/components/schemas/Error' ? doc.components.schemas['Error'] : schema;
    const check = ajv.compile(resolved as object);
    const ok = check(answer.json());
    expect(ok ? [] : check.errors, `${operation} ${status}: ${answer.body.slice(0, 300)}`).toEqual([]);
  }

  it('is OpenAPI 3.1 with every /v1 route, each with an operation id, parameters and a 200 schema', async () => {
    expect((doc as unknown as { openapi: string }).openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths).sort()).toEqual([
      '/v1/admin/erasures',
      '/v1/analytics/agents',
      '/v1/analytics/daily',
      '/v1/analytics/hourly',
      '/v1/analytics/tags',
      '/v1/chats',
      '/v1/chats/{chat_id}',
      '/v1/customers/{customer_id}',
      '/v1/customers/{customer_id}/chats',
    ]);
    const chats = doc.paths['/v1/chats']!['get']!;
    expect(chats.parameters.map((p) => p.name).sort()).toEqual(
      ['agent', 'cursor', 'customer_email', 'from', 'group', 'limit', 'q', 'tag', 'to'].sort(),
    );
  });

  it('real answers of every endpoint (200, 400, 401, 404) match the document', async () => {
    const missing = operationUrls({ chatId: 'NOPE', customerId: 'nope' });
    const malformed = operationUrls({ chatId: 'bad id', customerId: 'bad id' }, '?from=bad');
    for (const [operation, url] of operationUrls(own)) {
      const answer = await asA(url);
      expect(answer.statusCode, `${operation} ${answer.body.slice(0, 200)}`).toBe(200);
      validate(operation, '200', answer);
      validate(operation, '401', await bed.app.inject({ url }));
      const bad = await asA(malformed.get(operation)!);
      expect(bad.statusCode, operation).toBe(400);
      validate(operation, '400', bad);
      if (url.includes(own.chatId) || url.includes(own.customerId)) {
        const notFound = await asA(missing.get(operation)!);
        expect(notFound.statusCode, operation).toBe(404);
        validate(operation, '404', notFound);
      }
    }
    // analytics over a period with no traffic: empty but valid
    for (const name of ['Daily', 'Hourly', 'Agents', 'Tags'])
      validate(
        `analytics${name}`,
        '200',
        await asA(`/v1/analytics/${name.toLowerCase()}?from=2020-01-01&to=2020-12-31`),
      );
  });

  it('/docs is a self-contained page listing every operation', async () => {
    const page = await bed.app.inject({ url: '/docs' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toContain('text/html');
    for (const path of Object.keys(doc.paths)) expect(page.body).toContain(path);
    expect(page.body).not.toMatch(/<script|src="http|href="http/i);
  });
});

describe('chats', () => {
  it('pages through every chat newest first, once each, with an opaque cursor', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const answer = await asA(`/v1/chats?limit=7${cursor === null ? '' : `&cursor=${cursor}`}`);
      expect(answer.statusCode).toBe(200);
      const body = answer.json<{ chats: { chat_id: string }[]; next_cursor: string | null }>();
      expect(body.chats.length).toBeLessThanOrEqual(7);
      seen.push(...body.chats.map((c) => c.chat_id));
      cursor = body.next_cursor;
      pages++;
    } while (cursor !== null && pages < 50);
    expect(seen).toEqual(await allOwnChatIds());
  });

  it('refuses a cursor used with other filters, or not one it made', async () => {
    const first = (await asA('/v1/chats?limit=2')).json<{ next_cursor: string }>();
    const reused = await asA(`/v1/chats?limit=2&tag=billing&cursor=${first.next_cursor}`);
    expect(reused.statusCode).toBe(400);
    expect(reused.json<{ code: string }>().code).toBe('API_BAD_CURSOR');
    const forged = await asA(`/v1/chats?cursor=${Buffer.from('{"p":[1]}').toString('base64url')}`);
    expect(forged.json<{ code: string }>().code).toBe('API_BAD_CURSOR');
  });

  it('filters by tag, agent, group, customer e-mail, words and time exactly as the views say', async () => {
    const tenant = bed.tenantIds[0];
    const sample = (
      await bed.pool.query<{
        tags: string[];
        agent_ids: string[];
        group_ids: number[];
        customer_email: string;
        started_at: Date;
      }>(
        `select tags, agent_ids, group_ids, customer_email, started_at from transcripts.chat_summary
         where tenant = $1 and chat_id = $2`,
        [tenant, own.chatId],
      )
    ).rows[0]!;
    const word = (
      await bed.pool.query<{ w: string }>(
        `select w from transcripts.entries e, regexp_split_to_table(lower(e.text), '[^a-z]+') w
         where e.tenant = $1 and e.chat_id = $2 and e.kind = 'message' and length(w) > 5 order by w limit 1`,
        [tenant, own.chatId],
      )
    ).rows[0]!.w;
    const ids = async (query: string) => {
      const answer = await asA(`/v1/chats?limit=200&${query}`);
      expect(answer.statusCode, answer.body).toBe(200);
      return answer
        .json<{ chats: { chat_id: string }[] }>()
        .chats.map((c) => c.chat_id)
        .sort();
    };
    const expected = async (where: string, value: unknown) =>
      (
        await bed.pool.query<{ chat_id: string }>(
          `select chat_id from transcripts.chat_summary s where tenant = $1 and ${where} order by chat_id`,
          [tenant, value],
        )
      ).rows.map((r) => r.chat_id);
    const cases: [string, string, unknown][] = [
      [`tag=${encodeURIComponent(sample.tags[0]!)}`, '$2 = any(tags)', sample.tags[0]],
      [`agent=${encodeURIComponent(sample.agent_ids[0]!)}`, '$2 = any(agent_ids)', sample.agent_ids[0]],
      [`group=${sample.group_ids[0]}`, '$2 = any(group_ids)', sample.group_ids[0]],
      [
        `customer_email=${encodeURIComponent(sample.customer_email.toUpperCase())}`,
        'lower(customer_email) = $2',
        sample.customer_email.toLowerCase(),
      ],
      [
        `q=${encodeURIComponent(word.toUpperCase())}`,
        `exists (select 1 from transcripts.entries e where e.tenant = s.tenant and e.chat_id = s.chat_id and lower(e.text) ~ ('\\m' || $2 || '\\M'))`,
        word,
      ],
      [`from=${encodeURIComponent(sample.started_at.toISOString())}`, 'started_at >= $2', sample.started_at],
      [`to=${encodeURIComponent(sample.started_at.toISOString())}`, 'started_at < $2', sample.started_at],
    ];
    for (const [query, where, value] of cases) {
      const want = await expected(where, value);
      expect(want.length, query).toBeGreaterThan(0);
      expect(await ids(query), query).toEqual(want);
    }
    expect(await ids(`q=${encodeURIComponent('zzqqxx-no-such-word')}`)).toEqual([]);
  });

  it('answers a chat with its threads and transcript entries in order, tags, customer and rating', async () => {
    const answer = await asA(`/v1/chats/${own.ratedChatId}`);
    expect(answer.statusCode).toBe(200);
    const chat = answer.json<{
      chat_id: string;
      rating: string | null;
      customer: { id: string } | null;
      threads: {
        thread_id: string;
        rating: string | null;
        entries: { position: number; event_id: string; text: string | null; author: { type: string } }[];
      }[];
    }>();
    const transcript = await bed.pool.query<{
      event_id: string;
      position: string;
      text: string | null;
      author_type: string;
    }>(
      `select event_id, position, text, author_type from transcripts.chat_transcript where tenant = $1 and chat_id = $2 order by position`,
      [bed.tenantIds[0], own.ratedChatId],
    );
    const entries = chat.threads.flatMap((t) => t.entries).sort((a, b) => a.position - b.position);
    expect(entries.map((e) => [e.position, e.event_id, e.text, e.author.type])).toEqual(
      transcript.rows.map((r) => [Number(r.position), r.event_id, r.text, r.author_type]),
    );
    for (const thread of chat.threads) {
      const positions = thread.entries.map((e) => e.position);
      expect(positions).toEqual([...positions].sort((a, b) => a - b));
    }
    expect(chat.rating).not.toBeNull();
  });

  it('gives every thread the rating and comment analytics.thread_facts gives it', async () => {
    const facts = await bed.pool.query<{
      chat_id: string;
      thread_id: string;
      rating: string | null;
      rating_comment: string | null;
    }>(
      `select chat_id, thread_id, rating, rating_comment from analytics.thread_facts where tenant = $1 order by chat_id, thread_id`,
      [bed.tenantIds[0]],
    );
    expect(facts.rows.filter((f) => f.rating !== null).length).toBeGreaterThan(2);
    expect(facts.rows.some((f) => f.rating_comment !== null)).toBe(true);
    const shown: typeof facts.rows = [];
    for (const chatId of new Set(facts.rows.map((f) => f.chat_id))) {
      const chat = (await asA(`/v1/chats/${chatId}`)).json<{
        threads: { thread_id: string; rating: string | null; rating_comment: string | null }[];
      }>();
      for (const t of chat.threads)
        shown.push({
          chat_id: chatId,
          thread_id: t.thread_id,
          rating: t.rating,
          rating_comment: t.rating_comment,
        });
    }
    const byThread = (
      a: { chat_id: string; thread_id: string },
      b: { chat_id: string; thread_id: string },
    ) => (a.chat_id === b.chat_id ? (a.thread_id < b.thread_id ? -1 : 1) : a.chat_id < b.chat_id ? -1 : 1);
    expect(shown.sort(byThread)).toEqual([...facts.rows].sort(byThread));
  });

  it('streams CSV with a header and one line per chat, the same chats as the JSON pages', async () => {
    const answer = await asA('/v1/chats', { accept: 'text/csv' });
    expect(answer.statusCode).toBe(200);
    expect(answer.headers['content-type']).toBe('text/csv; charset=utf-8');
    const lines = answer.body.trimEnd().split('\r\n');
    expect(lines[0]).toBe(
      'chat_id,started_at,ended_at,customer_id,customer_name,customer_email,agent_ids,group_ids,tags,message_count,thread_count',
    );
    expect(lines.slice(1).map((l) => l.split(',')[0])).toEqual(await allOwnChatIds());
  });
});

describe('customers', () => {
  it('answers a customer and their chats, and 404 for an unknown one', async () => {
    const customer = await asA(`/v1/customers/${own.customerId}`);
    expect(customer.statusCode).toBe(200);
    const chats = await asA(`/v1/customers/${own.customerId}/chats`);
    const expected = await bed.pool.query<{ chat_id: string }>(
      `select chat_id from transcripts.chats where tenant = $1 and customer_id = $2 order by chat_id`,
      [bed.tenantIds[0], own.customerId],
    );
    expect(
      chats
        .json<{ chats: { chat_id: string }[] }>()
        .chats.map((c) => c.chat_id)
        .sort(),
    ).toEqual(expected.rows.map((r) => r.chat_id));
    expect(customer.json<{ chat_count: number }>().chat_count).toBe(expected.rows.length);
    expect((await asA('/v1/customers/nobody/chats')).statusCode).toBe(404);
  });
});

describe('analytics', () => {
  const period = async () => {
    const { rows } = await bed.pool.query<{ from: string; to: string }>(
      `select min(day)::text as from, max(day)::text as to from analytics.daily where tenant = $1`,
      [bed.tenantIds[0]],
    );
    return rows[0]!;
  };

  it("daily totals and days equal the analytics views of the key's tenant, with medians and p90", async () => {
    const { from, to } = await period();
    const body = (await asA(`/v1/analytics/daily?from=${from}&to=${to}`)).json<{
      days: {
        day: string;
        chats: number;
        rated_good: number;
        rated_bad: number;
        queued: number;
        left_queue: number;
        first_response_p90_seconds: number | null;
        first_response_median_seconds: number | null;
      }[];
      totals: { chats: number; first_response_median_seconds: number | null };
    }>();
    const views = await bed.pool.query<{
      day: string;
      chats: number;
      rated_good: number;
      rated_bad: number;
      queued: number;
      left_queue: number;
    }>(
      `select day::text as day, sum(chats)::int as chats, sum(rated_good)::int as rated_good, sum(rated_bad)::int as rated_bad,
              sum(queued)::int as queued, sum(left_queue)::int as left_queue
       from analytics.daily where tenant = $1 and group_id is not distinct from group_id group by day order by day`,
      [bed.tenantIds[0]],
    );
    const threads = await bed.pool.query<{ n: number; median: number | null }>(
      `select count(*)::int as n, percentile_cont(0.5) within group (order by first_response_seconds) as median
       from analytics.thread_facts where tenant = $1 and started_at is not null`,
      [bed.tenantIds[0]],
    );
    expect(body.totals.chats).toBe(threads.rows[0]!.n);
    expect(body.totals.first_response_median_seconds).toBeCloseTo(threads.rows[0]!.median!, 6);
    // the daily view counts a thread in each of its groups; with one group per thread the sums are equal
    expect(
      body.days.map(({ day, chats, rated_good, rated_bad, queued, left_queue }) => ({
        day,
        chats,
        rated_good,
        rated_bad,
        queued,
        left_queue,
      })),
    ).toEqual(views.rows);
    expect(body.days.some((d) => d.first_response_p90_seconds !== null)).toBe(true);
  });

  it('hourly has the 168 hours of the week, tags and agents equal the views', async () => {
    const { from, to } = await period();
    const hours = (await asA(`/v1/analytics/hourly?from=${from}&to=${to}`)).json<{
      hours: { chats: number }[];
    }>().hours;
    expect(hours).toHaveLength(168);
    const daily = (await asA(`/v1/analytics/daily?from=${from}&to=${to}`)).json<{
      totals: { chats: number };
    }>();
    expect(hours.reduce((n, h) => n + h.chats, 0)).toBe(daily.totals.chats);

    const tags = (await asA(`/v1/analytics/tags?from=${from}&to=${to}`)).json<{
      tags: { tag: string; chats: number }[];
    }>().tags;
    const tagView = await bed.pool.query<{ tag: string; chats: number }>(
      `select tag, sum(chats)::int as chats from analytics.tag_daily where tenant = $1 group by tag order by chats desc, tag`,
      [bed.tenantIds[0]],
    );
    expect(tags.map(({ tag, chats }) => ({ tag, chats }))).toEqual(tagView.rows);

    const agents = (await asA(`/v1/analytics/agents?from=${from}&to=${to}`)).json<{
      agents: { agent_id: string; rated_good: number; rated_bad: number; chats: number; rank: number }[];
    }>().agents;
    const ranking = await bed.pool.query<{ agent_id: string; good: number; bad: number }>(
      `select agent_id, good, bad from analytics.agent_ranking where tenant = $1 order by agent_id`,
      [bed.tenantIds[0]],
    );
    expect(ranking.rows.length).toBeGreaterThan(0);
    for (const r of ranking.rows) {
      const agent = agents.find((a) => a.agent_id === r.agent_id);
      expect(agent && [agent.rated_good, agent.rated_bad], r.agent_id).toEqual([r.good, r.bad]);
    }
    expect(agents.map((a) => a.rank)).toEqual(agents.map((_, i) => i + 1));
  });

  it('a group filter keeps only that group', async () => {
    const { from, to } = await period();
    const { rows } = await bed.pool.query<{ group_id: number; chats: number }>(
      `select group_id, sum(chats)::int as chats from analytics.daily where tenant = $1 and group_id is not null
       group by group_id order by group_id limit 1`,
      [bed.tenantIds[0]],
    );
    const body = (await asA(`/v1/analytics/daily?from=${from}&to=${to}&group=${rows[0]!.group_id}`)).json<{
      totals: { chats: number };
    }>();
    expect(body.totals.chats).toBe(rows[0]!.chats);
  });
});

describe('bad requests', () => {
  it('answers 400 with a code and a message naming the parameter', async () => {
    const cases: [string, RegExp][] = [
      ['/v1/chats?limit=0', /limit/],
      ['/v1/chats?limit=201', /limit/],
      ['/v1/chats?limit=ten', /limit/],
      ['/v1/chats?from=yesterday', /from/],
      ['/v1/chats?from=2026-11-02T00:00:00Z&to=2026-11-01T00:00:00Z', /from/],
      ['/v1/chats?group=-1', /group/],
      ['/v1/chats?cursor=!!', /cursor/],
      ['/v1/chats?q=', /q/],
      ['/v1/analytics/daily?from=2026-02-30', /from/],
      ['/v1/analytics/daily?from=2020-01-01&to=2026-01-01', /366/],
      ['/v1/analytics/tags?to=11/29/2026', /to/],
      ['/v1/chats/bad%20id', /chat_id/],
    ];
    for (const [url, message] of cases) {
      const answer = await asA(url);
      expect(answer.statusCode, url).toBe(400);
      const body = answer.json<{ code: string; message: string }>();
      expect(body.code, url).toBe('API_BAD_PARAMETER');
      expect(body.message, url).toMatch(message);
    }
  });

  it('answers 406 when Accept allows neither JSON nor CSV, and 404 for an unknown route', async () => {
    expect((await asA(`/v1/chats/${own.chatId}`, { accept: 'text/csv' })).statusCode).toBe(406);
    expect((await asA('/v1/chats', { accept: 'text/html' })).json<{ code: string }>().code).toBe(
      'API_NOT_ACCEPTABLE',
    );
    expect((await asA('/v1/nothing')).json<{ code: string }>().code).toBe('API_NOT_FOUND');
  });
});

describe('unavailable projections', () => {
  it('answer 503 API_UNAVAILABLE with Retry-After, not 500, while a schema the api reads is missing', async () => {
    const deps = await createApiDeps(
      loadApiConfig({
        DATABASE_URL: bed.db.url,
        API_LOG_LEVEL: 'silent',
        API_TRANSCRIPTS_SCHEMA: 'missing',
        API_ANALYTICS_SCHEMA: 'missing',
      }),
      pino({ level: 'silent' }),
    );
    const app = await buildApi(deps);
    try {
      for (const url of [
        '/v1/chats',
        `/v1/chats/${own.chatId}`,
        '/v1/analytics/daily',
        `/v1/customers/${own.customerId}`,
      ]) {
        const answer = await app.inject({ url, headers: { authorization: `Bearer ${bed.keys[0]}` } });
        expect(answer.statusCode, url).toBe(503);
        expect(answer.headers['retry-after'], url).toBe('5');
        expect(answer.json<{ code: string }>().code, url).toBe('API_UNAVAILABLE');
      }
    } finally {
      await app.close();
      await deps.close();
    }
  });
});

describe('README', () => {
  it('every curl example of services/api/README.md runs against the api and succeeds', async () => {
    const readme = readFileSync(fileURLToPath(new URL('../services/api/README.md', import.meta.url)), 'utf8');
    const section = readme.slice(readme.indexOf('## Examples'), readme.indexOf('## API keys'));
    const lines = section.split('\n').filter((l) => l.startsWith('curl '));
    expect(lines.length).toBeGreaterThanOrEqual(6);
    const address = await bed.app.listen({ host: '127.0.0.1', port: 0 });
    const dir = mkdtempSync(path.join(tmpdir(), 'api-readme-'));
    try {
      for (const line of lines) {
        const { stdout } = await run('sh', ['-c', line], {
          cwd: dir,
          env: { ...process.env, API: address, KEY: bed.keys[0], CHAT: own.chatId, CUSTOMER: own.customerId },
        });
        if (!line.includes(' -o ')) expect(() => JSON.parse(stdout), line).not.toThrow();
      }
      expect(readFileSync(path.join(dir, 'chats.csv'), 'utf8')).toMatch(/^chat_id,started_at,/);
      expect(JSON.parse(readFileSync(path.join(dir, 'openapi.json'), 'utf8'))).toMatchObject({
        openapi: '3.1.0',
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('metrics', () => {
  it('records each answer in a latency histogram by route pattern', async () => {
    await asA('/v1/chats?limit=1');
    const text = await bed.deps.metrics.registry.metrics();
    expect(text).toMatch(/api_http_request_duration_seconds_count\{route="\/v1\/chats"\} [1-9]/);
    expect(text).toMatch(/api_http_requests_total\{route="\/v1\/chats",status="200"\} [1-9]/);
  });
});

describe('bounded answers', () => {
  it('a transcript carries at most 5 000 entries and says it was cut', async () => {
    const tenant = bed.tenantIds[0];
    await bed.pool.query(
      `insert into transcripts.chats (tenant, chat_id, first_thread_id, first_thread_started_us) values ($1, 'LONGCHAT', 'LONGTH', 0)`,
      [tenant],
    );
    await bed.pool.query(
      `insert into transcripts.threads (tenant, chat_id, thread_id, started_us) values ($1, 'LONGCHAT', 'LONGTH', 0)`,
      [tenant],
    );
    await bed.pool.query(
      `insert into transcripts.entries (tenant, chat_id, thread_id, entry_id, kind, author_kind, text, created_us)
       select $1, 'LONGCHAT', 'LONGTH', 'e' || i, 'message', 'customer', 'line ' || i, i from generate_series(1, 5001) i`,
      [tenant],
    );
    // as autovacuum would after such a burst: the planner knows how many entries a chat has
    await bed.pool.query('analyze transcripts.entries');
    const chat = (await asA('/v1/chats/LONGCHAT')).json<{
      entries_truncated: boolean;
      threads: { entries: { position: number }[] }[];
    }>();
    expect(chat.entries_truncated).toBe(true);
    expect(chat.threads[0]!.entries.map((e) => e.position)).toEqual(
      Array.from({ length: 5000 }, (_, i) => i + 1),
    );
    expect(
      (await asA(`/v1/chats/${own.chatId}`)).json<{ entries_truncated: boolean }>().entries_truncated,
    ).toBe(false);
  });
});
