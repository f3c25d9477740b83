import type pg from 'pg';

export interface ConnectionWatch {
  /** The error the connection died with while checked out, if it did. */
  readonly lost: () => Error | undefined;
  /** Removes the listener; call it right before `release()` (the pool then re-adds its own). */
  readonly stop: () => void;
}

/**
 * pg-pool removes its idle 'error' listener from a client while it is checked out. A connection
 * that drops between queries (Postgres restarting while we await Kafka or a hook) then emits
 * 'error' with no listener, which crashes the process. This listener records the loss instead;
 * the next query on the client fails, and the caller releases it with `release(true)`.
 */
export function watchConnection(client: pg.ClientBase): ConnectionWatch {
  let lost: Error | undefined;
  const onError = (error: Error): void => {
    lost ??= error;
  };
  client.on('error', onError);
  return {
    lost: () => lost,
    stop: () => {
      client.off('error', onError);
    },
  };
}
