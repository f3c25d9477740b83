import type pg from 'pg';

/**
 * Checks a client out of `pool` for `fn`. pg-pool drops its 'error' listener while a client is checked out: a
 * connection dropped between queries (Postgres restarting) would emit 'error' unheard and crash the process.
 * Here the loss is recorded instead (the next query fails), and a client that lost its connection is closed,
 * not pooled.
 */
export async function withPoolClient<T>(
  pool: pg.Pool,
  fn: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  const client = await pool.connect();
  let lost: Error | undefined;
  const onError = (error: Error): void => {
    lost ??= error;
  };
  client.on('error', onError);
  try {
    return await fn(client);
  } finally {
    client.off('error', onError);
    client.release(lost);
  }
}
