/**
 * Benchmark (not a test): the api's latency on a database of 1 million transcript entries.
 *
 *   pnpm bench:api [--chats 50000] [--entries-per-chat 20] [--requests 1000] [--keep] [--reuse <database>]
 *
 * Creates a database `api_bench_<pid>` on DATABASE_URL's server (default: the local stack), migrates the
 * transcripts and analytics schemas with their services' own migrations, seeds it with SQL (chats of two tenants,
 * one thread each, customers, participants, entries with words; analytics tables stay empty), ANALYZEs, then
 * serves the api on a loopback port and times, one request at a time over HTTP keep-alive:
 *   - a chat page: GET /v1/chats?limit=50 at a random depth (cursors collected beforehand);
 *   - a transcript: GET /v1/chats/{random chat id};
 * and, for information, a page filtered by tag and word searches (q) for a rare and a common word. Prints p50/p99 of each and MET/MISSED for
 * the goal (p99 < 50 ms for a chat page and a transcript). Drops the database unless --keep; --reuse measures
 * again on a database a --keep run left (its name is printed), without seeding.
 */
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { pino } from 'pino';
import { migrateConsumerSchema } from '@livechat-pipeline/postgres-consumer';
import { buildApi } from '../src/app.js';
import { loadApiConfig } from '../src/config.js';
import { createApiDeps } from '../src/deps.js';

const GOAL_P99_MS = 50;
// The transcripts and analytics services' own migrations, applied as they apply them (files, not imports).
const transcriptsMigrations = fileURLToPath(new URL('../../transcripts/migrations', import.meta.url));
const analyticsMigrations = fileURLToPath(new URL('../../analytics/migrations', import.meta.url));

const { values } = parseArgs({
  options: {
    chats: { type: 'string', default: '50000' },
    'entries-per-chat': { type: 'string', default: '20' },
    requests: { type: 'string', default: '1000' },
    keep: { type: 'boolean', default: false },
    reuse: { type: 'string' },
  },
});
const chats = Number(values.chats);
const perChat = Number(values['entries-per-chat']);
const requests = Number(values.requests);
const say = (line: string) => process.stderr.write(`bench:api: ${line}\n`);

async function main(): Promise<void> {
  const serverUrl = process.env['DATABASE_URL'] ?? 'postgres://postgres:postgres@127.0.0.1:55432/postgres';
  const reuse = values.reuse;
  if (reuse !== undefined && !/^api_bench_\d+$/.test(reuse))
    throw new Error('--reuse takes a database a --keep run printed');
  const dbName = reuse ?? `api_bench_${process.pid}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  const url = new URL(serverUrl);
  url.pathname = `/${dbName}`;
  const databaseUrl = url.toString();
  if (reuse !== undefined) {
    try {
      const count = new pg.Client({ connectionString: databaseUrl });
      await count.connect();
      const { rows } = await count.query<{ n: number }>('select count(*)::int as n from transcripts.entries');
      await count.end();
      await measure(databaseUrl, rows[0]!.n);
    } finally {
      await admin.end();
    }
    return;
  }
  await admin.query(`create database ${dbName}`);
  try {
    await migrateConsumerSchema({ databaseUrl, schema: 'transcripts', migrationsDir: transcriptsMigrations });
    await migrateConsumerSchema({ databaseUrl, schema: 'analytics', migrationsDir: analyticsMigrations });
    const pool = new pg.Pool({ connectionString: databaseUrl, max: 2 });
    let t0 = performance.now();
    await seed(pool);
    const { rows } = await pool.query<{ n: number }>('select count(*)::int as n from transcripts.entries');
    say(
      `seeded ${rows[0]!.n} transcript entries in ${chats} chats in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
    );
    t0 = performance.now();
    await pool.query('vacuum analyze');
    say(`vacuum analyze in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    await pool.end();
    await measure(databaseUrl, rows[0]!.n);
  } finally {
    if (!values.keep) await admin.query(`drop database if exists ${dbName} with (force)`);
    else say(`kept database ${dbName}`);
    await admin.end();
  }
}

/** Set-based inserts: chat i belongs to tenant bench-a (4 in 5) or bench-b, starts a minute after chat i-1. */
async function seed(pool: pg.Pool): Promise<void> {
  const start = Date.UTC(2026, 0, 1) * 1000;
  await pool.query(`
    insert into transcripts.customers (tenant, customer_id, name, email, updated_us)
    select t, 'cust-' || i, 'Customer ' || i, 'customer' || i || '@mail.example', ${start}
    from generate_series(0, ${Math.ceil(chats / 2.5)}) i, (values ('bench-a'), ('bench-b')) v(t);
    insert into transcripts.agents (tenant, agent_id, name, email)
    select t, 'agent' || i || '@acme.example', 'Agent ' || i, 'agent' || i || '@acme.example'
    from generate_series(0, 19) i, (values ('bench-a'), ('bench-b')) v(t);
    create temporary table bench_chats as
      select i, case when i % 5 = 4 then 'bench-b' else 'bench-a' end as tenant, 'CHAT' || lpad(i::text, 8, '0') as chat_id,
             'TH' || lpad(i::text, 8, '0') as thread_id, ${start}::bigint + i::bigint * 60000000 as started_us,
             'cust-' || (i % ${Math.ceil(chats / 2.5)}) as customer_id, 'agent' || (i % 20) || '@acme.example' as agent_id
      from generate_series(1, ${chats}) i;
    insert into transcripts.chats (tenant, chat_id, first_thread_id, first_thread_started_us, last_thread_id,
                                   last_thread_started_us, customer_id, group_ids)
    select tenant, chat_id, thread_id, started_us, thread_id, started_us, customer_id, array[i % 5]
    from bench_chats;
    insert into transcripts.threads (tenant, chat_id, thread_id, started_us, closed_us, closed_by_kind, tags_snapshot,
                                     tags_snapshot_us)
    select tenant, chat_id, thread_id, started_us, started_us + 900000000, 'agent',
           array['tag' || (i % 7), 'topic' || (i % 11)], started_us
    from bench_chats;
    insert into transcripts.participants (tenant, chat_id, user_id, kind, name, email)
    select tenant, chat_id, customer_id, 'customer', 'Customer', null from bench_chats
    union all
    select tenant, chat_id, agent_id, 'agent', 'Agent', agent_id from bench_chats;
  `);
  // entries in slices, so that one statement does not hold a million rows of work
  const slice = 5_000;
  for (let from = 1; from <= chats; from += slice) {
    await pool.query(
      `insert into transcripts.entries (tenant, chat_id, thread_id, entry_id, event_id, kind, author_kind, author_id,
                                        author_name, visibility, text, created_us, transcript_position)
       select c.tenant, c.chat_id, c.thread_id, c.chat_id || '_' || j, c.chat_id || '_' || j, 'message',
              case when j % 2 = 1 then 'customer' else 'agent' end,
              case when j % 2 = 1 then c.customer_id else c.agent_id end,
              case when j % 2 = 1 then 'Customer' else 'Agent' end, 'all',
              (array['hello','order','refund','invoice','shipping','password','account','thanks','delay','broken',
                     'upgrade','discount','cancel','address','payment','login'])[1 + (c.i * 7 + j * 13) % 16]
                || ' ' || (array['please','today','again','still','quickly','number','status','help'])[1 + (c.i + j) % 8]
                || ' ' || md5(c.i::text || ':' || j::text),
              c.started_us + j * 15000000, j
       from bench_chats c, generate_series(1, ${perChat}) j
       where c.i between $1 and $2`,
      [from, from + slice - 1],
    );
  }
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

async function measure(databaseUrl: string, entryCount: number): Promise<void> {
  const config = loadApiConfig({ DATABASE_URL: databaseUrl, API_LOG_LEVEL: 'silent', API_PORT: '0' });
  const deps = await createApiDeps(config, pino({ level: 'silent' }));
  const app = await buildApi(deps);
  const base = await app.listen({ host: '127.0.0.1', port: 0 });
  const { key } = await deps.keys.create({ tenant: 'bench-a', name: 'bench' });
  const headers = { authorization: `Bearer ${key}` };
  const get = async (path: string): Promise<{ ms: number; body: unknown }> => {
    const t0 = performance.now();
    const response = await fetch(`${base}${path}`, { headers });
    const body: unknown = await response.json();
    const ms = performance.now() - t0;
    if (response.status !== 200) throw new Error(`${path}: ${response.status} ${JSON.stringify(body)}`);
    return { ms, body };
  };
  try {
    // cursors at depths 0..199 pages of 50 (the first 10 000 chats of bench-a)
    const cursors: (string | null)[] = [null];
    while (cursors.length < 200) {
      const { body } = await get(`/v1/chats?limit=50${cursors.at(-1) ? `&cursor=${cursors.at(-1)}` : ''}`);
      const next = (body as { next_cursor: string | null }).next_cursor;
      if (next === null) break;
      cursors.push(next);
    }
    const ids = (
      await deps.pool.query<{ chat_id: string }>(
        `select chat_id from transcripts.chats where tenant = 'bench-a' order by random() limit ${requests}`,
      )
    ).rows.map((r) => r.chat_id);
    const rareWords = (
      await deps.pool.query<{ word: string }>(
        `select split_part(text, ' ', 3) as word from transcripts.entries tablesample system (1)
         where tenant = 'bench-a' limit 100`,
      )
    ).rows.map((r) => r.word);
    const random = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)]!;
    const scenarios: { name: string; goal: boolean; path: () => string }[] = [
      {
        name: 'chat page (limit 50, random depth)',
        goal: true,
        path: () => {
          const cursor = random(cursors);
          return `/v1/chats?limit=50${cursor === null ? '' : `&cursor=${cursor}`}`;
        },
      },
      {
        name: 'transcript (GET /v1/chats/{id}, 20 entries)',
        goal: true,
        path: () => `/v1/chats/${random(ids)}`,
      },
      {
        name: 'chat page filtered by tag (info)',
        goal: false,
        path: () => `/v1/chats?limit=50&tag=tag${Math.floor(Math.random() * 7)}`,
      },
      {
        name: 'word search, a rare word (info)',
        goal: false,
        path: () => `/v1/chats?limit=50&q=${random(rareWords)}`,
      },
      {
        name: 'word search, a word in 1 entry of 16 (info)',
        goal: false,
        path: () => '/v1/chats?limit=50&q=refund',
      },
    ];
    const results: { name: string; goal: boolean; p50: number; p99: number }[] = [];
    for (const scenario of scenarios) {
      for (let i = 0; i < (scenario.goal ? 50 : 5); i++) await get(scenario.path()); // warm-up
      const times: number[] = [];
      const n = scenario.goal ? requests : Math.max(20, Math.floor(requests / 20));
      for (let i = 0; i < n; i++) times.push((await get(scenario.path())).ms);
      times.sort((a, b) => a - b);
      results.push({
        name: scenario.name,
        goal: scenario.goal,
        p50: percentile(times, 50),
        p99: percentile(times, 99),
      });
    }
    process.stdout.write(
      `api latency on ${entryCount} transcript entries (${chats} chats), ${requests} requests each, one at a time\n`,
    );
    for (const r of results) {
      const verdict = r.goal ? (r.p99 < GOAL_P99_MS ? 'MET' : 'MISSED') : '';
      process.stdout.write(
        `  ${r.name.padEnd(48)} p50 ${r.p50.toFixed(1).padStart(6)} ms   p99 ${r.p99.toFixed(1).padStart(6)} ms   ${verdict}${r.goal ? ` (goal p99 < ${GOAL_P99_MS} ms)` : ''}\n`,
      );
    }
  } finally {
    await app.close();
    await deps.close();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
