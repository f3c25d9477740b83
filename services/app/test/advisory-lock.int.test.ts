import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, waitFor, type TestDatabase } from '@livechat-pipeline/testkit';
import { withAdvisoryLock } from '../src/webhooks/lock.js';

/** Lets the event loop run (socket reads, 'end' handlers) for a bounded time; no result is read from it. */
async function turnEventLoop(ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 10));
}

describe('withAdvisoryLock', () => {
  let db: TestDatabase;
  let pool: pg.Pool;
  let other: pg.Pool;

  beforeAll(async () => {
    db = await createTestDatabase('app-lock');
    pool = new pg.Pool({ connectionString: db.url, max: 2 });
    pool.on('error', () => undefined);
    other = new pg.Pool({ connectionString: db.url, max: 1 });
  });
  afterAll(async () => {
    await pool.end();
    await other.end();
    await db.drop();
  });

  it('survives the lock connection dropping while it runs the locked work, and the lock is free after', async () => {
    const key = 'lock-test';
    const lockHolder = async (): Promise<number | undefined> => {
      const { rows } = await other.query<{ pid: number }>(
        `select pid from pg_locks where locktype = 'advisory' and objid = hashtext($1)::oid and granted`,
        [key],
      );
      return rows[0]?.pid;
    };
    const result = await withAdvisoryLock(pool, key, 'wait', 'busy', async () => {
      // when: the session holding the lock is terminated while the locked work is running (idle client)
      const pid = await lockHolder();
      expect(pid).toBeDefined();
      await other.query('select pg_terminate_backend($1)', [pid]);
      await waitFor(
        async () =>
          (await other.query('select 1 from pg_stat_activity where pid = $1', [pid])).rowCount === 0,
        { timeoutMs: 10_000, message: `backend ${pid} gone` },
      );
      // The server has closed the socket; give the client's socket its close before returning.
      await turnEventLoop(300);
      return 'done';
    });

    // then: no crash, the work's answer comes back, the dead client left the pool, and the lock is free
    expect(result).toBe('done');
    expect(await lockHolder()).toBeUndefined();
    await waitFor(() => pool.totalCount === 0, { timeoutMs: 5_000, message: 'dead client removed' });
    expect(await withAdvisoryLock(pool, key, 'try', 'busy', async () => 'again')).toBe('again');
  });
});
