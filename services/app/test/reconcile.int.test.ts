import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
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
import { ArchiveStore } from '../src/archives/store.js';
import { runCli } from '../src/cli.js';

const ORG = 'org-reconcile-0001';
const HOUR = 3_600_000;
const micros = (ms: number) => new Date(ms).toISOString().replace('Z', '000Z');

function thread(i: number, createdMs: number, active: boolean, events = 1): ArchiveRow {
  return {
    id: `C${i}`,
    users: [{ id: `cust-${i}`, type: 'customer' }],
    thread: {
      id: `T${i}`,
      active,
      created_at: micros(createdMs),
      events: Array.from({ length: events }, (_, e) => ({
        id: `T${i}_${e}`,
        type: 'message',
        text: `message ${e}`,
        author_id: `cust-${i}`,
        created_at: micros(createdMs + e * 1000),
        visibility: 'all',
      })),
    },
  };
}

/**
 * Reconciliation passes (`pnpm livechat reconcile`) on the real Postgres and Kafka against the fake Agent Chat API:
 * the window since the watermark, nothing written twice, and a thread we last saw open fetched with get_chat once
 * it is older than the window.
 */
describe('reconciliation passes', () => {
  let fake: FakeLiveChat;
  let db: TestDatabase;
  let topic: string;
  let env: NodeJS.ProcessEnv;
  const now = Date.now();

  beforeAll(async () => {
    fake = await startFakeLiveChat({
      clients: [],
      account: { accountId: 'a', organizationId: ORG, licenseId: 1, email: 'a@example.com' },
      pats: [
        { accountId: 'ops', token: 'ops-pat', organizationId: ORG, scopes: ['chats--all:ro'] },
        {
          accountId: 'grp',
          token: 'grp-pat',
          organizationId: ORG,
          scopes: ['chats--access:ro'],
          groupIds: [5],
        },
      ],
    });
    db = await createTestDatabase('reconcile');
    topic = uniqueName('reconcile-raw');
    await createTopic(topic, 1);
    const stack = stackEndpoints();
    env = {
      DATABASE_URL: db.url,
      APP_DB_INGEST_ROLE: 'none',
      KAFKA_BROKERS: stack.kafkaBrokers.join(','),
      SCHEMA_REGISTRY_URL: stack.schemaRegistryUrl,
      RAW_WEBHOOK_TOPIC: topic,
      LIVECHAT_API_URL: fake.apiUrl,
      LIVECHAT_ACCOUNTS_URL: fake.accountsUrl,
      LIVECHAT_PAT: 'ops:ops-pat',
      APP_RECONCILE_FIRST_WINDOW_SECONDS: String(6 * 3600),
      APP_RECONCILE_OVERLAP_SECONDS: '120',
      APP_RECONCILE_OPEN_THREAD_SECONDS: '60',
      APP_LOG_LEVEL: 'warn',
    };
  });
  afterAll(async () => {
    await fake?.close();
    await db?.drop();
  });

  const reconcile = async () => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runCli(['reconcile', '--tenant', ORG], env, {
      out: (t) => out.push(t),
      err: (t) => err.push(t),
    });
    expect(code, err.join('\n')).toBe(0);
    return out.join('\n');
  };

  it('refuses a PAT of another organization than --tenant (its chats would be written under the wrong tenant)', async () => {
    const err: string[] = [];
    const code = await runCli(['reconcile', '--tenant', 'org-someone-else'], env, {
      out: () => undefined,
      err: (t) => err.push(t),
    });
    expect(code).toBe(1);
    expect(err.join('\n')).toMatch(
      /LIVECHAT_PAT belongs to organization org-reconcile-0001, not to org-someone-else/,
    );
    expect(fake.calls().filter((c) => c.path.startsWith('agent/'))).toEqual([]);
  });

  it('walks the window, writes only what changed, and fetches threads left open with get_chat', async () => {
    // Three threads in the first window, one still open; one thread older than the window.
    fake.upsertArchives([
      thread(0, now - 10 * HOUR, false),
      thread(1, now - 3 * HOUR, false, 2),
      thread(2, now - 2 * HOUR, true),
      thread(3, now - HOUR, false),
    ]);
    expect(await reconcile()).toMatch(
      /threads checked 3, threads recovered 3, events recovered 4, open threads fetched 0/,
    );
    expect(await readTopic(topic, { count: 3 })).toHaveLength(3);

    // Nothing changed: the next window (watermark − 2 min) reads nothing new and writes nothing.
    expect(await reconcile()).toMatch(/threads recovered 0, events recovered 0, open threads fetched 0/);

    // The open thread closes at LiveChat (its close webhook lost); it is older than any new window. Once we last saw
    // it open longer ago than APP_RECONCILE_OPEN_THREAD_SECONDS, get_chat fetches it and the new version is written.
    fake.upsertArchives([thread(2, now - 2 * HOUR, false, 3)]);
    const pool = new pg.Pool({ connectionString: db.url, max: 2 });
    try {
      await pool.query(
        `update app.archive_threads set written_at = now() - interval '2 minutes' where thread_id = 'T2'`,
      );
      // Another replica in the threads-left-open phase for this tenant: this pass leaves it to that one.
      const other = await new ArchiveStore(pool, { schema: 'app' }).tryTenantLock(ORG, 'open-threads');
      expect(other).not.toBeNull();
      try {
        expect(await reconcile()).toMatch(/open threads fetched 0/);
      } finally {
        await other!.release();
      }
      expect(await reconcile()).toMatch(
        /threads checked 1, threads recovered 1, events recovered 3, open threads fetched 1/,
      );
      const held = await pool.query<{ active: boolean }>(
        `select active from app.archive_threads where thread_id = 'T2'`,
      );
      expect(held.rows).toEqual([{ active: false }]);
    } finally {
      await pool.end();
    }
    const records = await readTopic(topic, { count: 4 });
    expect(records).toHaveLength(4);
    expect(fake.calls().filter((c) => c.path === 'agent/action/get_chat')).toHaveLength(1);
    // Closed now: not fetched again.
    expect(await reconcile()).toMatch(/open threads fetched 0/);
  });

  it('a thread left open that moved out of the token user groups is counted unreadable, not a blocker', async () => {
    const groupEnv = { ...env, LIVECHAT_PAT: 'grp:grp-pat', APP_DB_SCHEMA: 'app_grp' };
    const run = async () => {
      const out: string[] = [];
      const err: string[] = [];
      const code = await runCli(['reconcile', '--tenant', ORG], groupEnv, {
        out: (t) => out.push(t),
        err: (t) => err.push(t),
      });
      expect(code, err.join('\n')).toBe(0);
      return out.join('\n');
    };
    const open = (group: number, active: boolean): ArchiveRow => {
      const row = thread(10, now - 2 * HOUR, active);
      return { ...row, access: { group_ids: [group] } };
    };
    const behind = { ...thread(11, now - 2 * HOUR + 1000, true), access: { group_ids: [5] } };
    fake.upsertArchives([open(5, true), behind]);
    expect(await run()).toMatch(/threads checked 2, threads recovered 2, /);
    // Thread 10 is transferred to a group this user is not in and closes; thread 11 closes too.
    fake.upsertArchives([open(6, false), { ...behind, thread: { ...behind.thread, active: false } }]);
    const pool = new pg.Pool({ connectionString: db.url, max: 1 });
    try {
      await pool.query(`update app_grp.archive_threads set written_at = now() - interval '2 minutes'`);
    } finally {
      await pool.end();
    }
    // T10 is refused (authorization) and counted; T11 behind it is still fetched and written.
    expect(await run()).toMatch(/threads recovered 1, .*open threads fetched 1, gone 0, unreadable 1,/);
    expect(await run()).toMatch(/open threads fetched 0, gone 0, unreadable 0,/);
  });
});
