import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { runCli } from '@livechat-pipeline/app';
import { ConfluentAvroSerde, SchemaRegistryClient, readRawWebhook } from '@livechat-pipeline/events';
import { startFakeLiveChat } from '@livechat-pipeline/livechat-fake';
import type { ArchiveRow, FakeLiveChat } from '@livechat-pipeline/livechat-fake';
import {
  createTestDatabase,
  createTopic,
  readTopic,
  stackEndpoints,
  uniqueName,
} from '@livechat-pipeline/testkit';
import type { TestDatabase } from '@livechat-pipeline/testkit';
import { generateChats, renderArchive, simulatedTenant } from '@livechat-pipeline/traffic-simulator';

const THREADS = 2000;
const PAT_ACCOUNT = 'backfill-operator';
const PAT = 'backfill-pat-0123456789';

/**
 * `pnpm livechat backfill` against the fake Agent Chat API serving the simulator's archive rendering of 2,000 threads:
 * interrupted mid-walk (as Ctrl-C does) and run again, every thread reaches the raw topic exactly once.
 */
describe('backfill: interrupted and resumed, each thread once', () => {
  let fake: FakeLiveChat;
  let db: TestDatabase;
  let topic: string;
  let organizationId: string;
  let env: NodeJS.ProcessEnv;
  let since: string;
  let until: string;

  beforeAll(async () => {
    const tenant = simulatedTenant(7101);
    organizationId = tenant.organizationId;
    const chats = generateChats({ seed: 7101, chats: THREADS, tenants: [tenant] });
    const rows = renderArchive(chats).map((t) => t.row as unknown as ArchiveRow);
    expect(rows).toHaveLength(THREADS);
    since = new Date(Date.parse(rows[0]!.thread.created_at) - 1000).toISOString();
    until = new Date(Date.parse(rows[rows.length - 1]!.thread.created_at) + 1000).toISOString();
    fake = await startFakeLiveChat({
      clients: [],
      account: { accountId: 'a', organizationId, licenseId: 1, email: 'a@example.com' },
      pats: [
        { accountId: PAT_ACCOUNT, token: PAT, organizationId, scopes: ['chats--all:ro', 'customers:ro'] },
      ],
    });
    fake.upsertArchives(rows);
    db = await createTestDatabase('backfill');
    topic = uniqueName('backfill-raw');
    await createTopic(topic, 3);
    const stack = stackEndpoints();
    env = {
      DATABASE_URL: db.url,
      APP_DB_INGEST_ROLE: 'none',
      KAFKA_BROKERS: stack.kafkaBrokers.join(','),
      SCHEMA_REGISTRY_URL: stack.schemaRegistryUrl,
      RAW_WEBHOOK_TOPIC: topic,
      LIVECHAT_API_URL: fake.apiUrl,
      LIVECHAT_ACCOUNTS_URL: fake.accountsUrl,
      LIVECHAT_PAT: `${PAT_ACCOUNT}:${PAT}`,
      APP_LOG_LEVEL: 'warn',
    };
  });
  afterAll(async () => {
    await fake?.close();
    await db?.drop();
  });

  const run = async (signal?: AbortSignal, onPage?: () => void) => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runCli(
      ['backfill', '--tenant', organizationId, '--since', since, '--until', until],
      env,
      {
        out: (t) => out.push(t),
        err: (t) => err.push(t),
        progress: (line, final) => {
          if (!final) onPage?.();
          if (final) out.push(line);
        },
        ...(signal === undefined ? {} : { signal }),
      },
    );
    return { code, out: out.join('\n'), err: err.join('\n') };
  };

  it('stops after the page in hand on abort, resumes from its checkpoint, and writes every thread once', async () => {
    const controller = new AbortController();
    let pages = 0;
    const first = await run(controller.signal, () => {
      pages += 1;
      if (pages === 7) controller.abort(new Error('Ctrl-C'));
    });
    expect(first.code, first.err).toBe(75);
    expect(first.out).toMatch(/backfill paused \(AGENT_API_ABORTED\): 700 threads read/);

    const pool = new pg.Pool({ connectionString: db.url, max: 1 });
    try {
      const walk = await pool.query<{
        status: string;
        threads: number;
        pages: number;
        page_id: string | null;
      }>(`select status, threads, pages, page_id from app.archive_walks`);
      expect(walk.rows).toEqual([{ status: 'running', threads: 700, pages: 7, page_id: expect.any(String) }]);
    } finally {
      await pool.end();
    }

    const second = await run();
    expect(second.code, second.err).toBe(0);
    expect(second.err).toMatch(/resuming walk \d+ .* after 700 threads, 7 pages/);
    expect(second.out).toMatch(/backfill done: 1300 threads read this run \(2000 in all, 2000 written/);

    // The list_archives calls: a first request with filters, then page_id alone, ascending, 100 a page.
    const calls = fake.calls().filter((c) => c.path === 'agent/action/list_archives');
    expect(calls).toHaveLength(20); // 7 pages, then 13 from the checkpoint: none read twice
    const records = await readTopic(topic, { count: THREADS, timeoutMs: 60_000 });
    const serde = new ConfluentAvroSerde(
      new SchemaRegistryClient({ baseUrl: stackEndpoints().schemaRegistryUrl }),
    );
    const perThread = new Map<string, number>();
    for (const r of records) {
      const raw = await readRawWebhook(serde, r.value!);
      expect(raw.action).toBe('archive_thread');
      expect(raw.tenant).toBe(organizationId);
      expect(r.key?.toString()).toBe(`${organizationId}|${raw.chat_id}`);
      perThread.set(raw.thread_id!, (perThread.get(raw.thread_id!) ?? 0) + 1);
    }
    expect(perThread.size).toBe(THREADS);
    expect([...perThread.values()].every((n) => n === 1)).toBe(true);
  });

  it('a 429 storm (two calls in three, no Retry-After) slows the walk down without losing a page', async () => {
    const stormTopic = uniqueName('backfill-storm');
    await createTopic(stormTopic, 1);
    const stormDb = await createTestDatabase('backfill_storm');
    fake.setAgentFaultPlan(({ n }) => (n % 3 !== 0 ? { kind: 'status', status: 429 } : undefined));
    try {
      const out: string[] = [];
      const err: string[] = [];
      const code = await runCli(
        ['backfill', '--tenant', organizationId, '--since', since, '--until', until],
        // Short backoff steps keep the test fast; the full-jitter rule is the client's (packages/livechat-agent-api).
        {
          ...env,
          DATABASE_URL: stormDb.url,
          RAW_WEBHOOK_TOPIC: stormTopic,
          APP_AGENT_API_BACKOFF_BASE_MS: '10',
        },
        { out: (t) => out.push(t), err: (t) => err.push(t), progress: () => undefined },
      );
      expect(code, err.join('\n')).toBe(0);
      const summary = out.join('\n');
      expect(summary).toMatch(/backfill done: 2000 threads read this run .* in 20 pages/);
      const retries = Number(/(\d+) × too_many_requests/.exec(summary)?.[1] ?? 0);
      expect(retries).toBeGreaterThanOrEqual(20 * 2 - 2);
      const records = await readTopic(stormTopic, { count: THREADS, timeoutMs: 60_000 });
      expect(records).toHaveLength(THREADS);
      const serde = new ConfluentAvroSerde(
        new SchemaRegistryClient({ baseUrl: stackEndpoints().schemaRegistryUrl }),
      );
      const ids = new Set<string>();
      for (const r of records) ids.add((await readRawWebhook(serde, r.value!)).thread_id!);
      expect(ids.size).toBe(THREADS);
    } finally {
      fake.setAgentFaultPlan(undefined);
      await stormDb.drop();
    }
  });
});
