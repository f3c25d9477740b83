import type pg from 'pg';

/**
 * Runs `fn` under a Postgres advisory lock named `key` (session-level, on one pooled connection). 'wait' queues
 * behind the holder; 'try' answers `whenBusy` at once when another session holds it, never holding a connection
 * while waiting.
 */
export async function withAdvisoryLock<T>(
  pool: pg.Pool,
  key: string,
  mode: 'wait' | 'try',
  whenBusy: T,
  fn: () => Promise<T>,
): Promise<T> {
  const client = await pool.connect();
  // A connection whose unlock failed is closed, not pooled: closing it is what frees a session lock.
  let broken: Error | undefined;
  // pg-pool drops its 'error' listener while a client is checked out, and this one is held across `fn`: a
  // connection dropped meanwhile (Postgres restarting) would emit 'error' unheard and crash the process.
  const onError = (error: Error): void => {
    broken ??= error;
  };
  client.on('error', onError);
  try {
    if (mode === 'try') {
      const r = await client.query<{ ok: boolean }>('select pg_try_advisory_lock(hashtext($1)) as ok', [key]);
      if (r.rows[0]?.ok !== true) return whenBusy;
    } else await client.query('select pg_advisory_lock(hashtext($1))', [key]);
    try {
      return await fn();
    } finally {
      await client.query('select pg_advisory_unlock(hashtext($1))', [key]).catch((err: unknown) => {
        broken = err instanceof Error ? err : new Error(String(err));
      });
    }
  } finally {
    client.off('error', onError);
    client.release(broken);
  }
}
