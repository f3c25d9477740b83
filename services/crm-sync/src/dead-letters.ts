import type pg from 'pg';
import { CrmSyncError } from './errors.js';
import { withPoolClient } from './pg-client.js';

export interface CrmDeadLetter {
  readonly id: string;
  readonly tenant: string;
  readonly chatId: string;
  readonly threadId: string;
  readonly code: string;
  readonly httpStatus: number | null;
  readonly message: string;
  readonly failedAt: Date;
  readonly replayedAt: Date | null;
}

/** The dead letters of crm.dead_letters, oldest first; `all: false` leaves out those already replayed. */
export async function listDeadLetters(
  pool: pg.Pool,
  schema: string,
  options: { all?: boolean } = {},
): Promise<CrmDeadLetter[]> {
  const { rows } = await pool.query<{
    id: string;
    tenant: string;
    chat_id: string;
    thread_id: string;
    code: string;
    http_status: number | null;
    message: string;
    failed_at: Date;
    replayed_at: Date | null;
  }>(
    `select id::text, tenant, chat_id, thread_id, code, http_status, message, failed_at, replayed_at
     from "${schema}".dead_letters ${options.all === true ? '' : 'where replayed_at is null'} order by id`,
  );
  return rows.map((r) => ({
    id: r.id,
    tenant: r.tenant,
    chatId: r.chat_id,
    threadId: r.thread_id,
    code: r.code,
    httpStatus: r.http_status,
    message: r.message,
    failedAt: r.failed_at,
    replayedAt: r.replayed_at,
  }));
}

/**
 * Sends dead-lettered threads again: their outbox rows become due (the worker renders what the projection holds
 * now, so a fixed e-mail or a shorter transcript goes through), and the dead letters are marked replayed. A thread
 * HubSpot refuses again comes back as a new dead letter. `ids: 'all'` replays every one not yet replayed.
 */
export async function replayDeadLetters(
  pool: pg.Pool,
  schema: string,
  ids: readonly string[] | 'all',
): Promise<number> {
  return withPoolClient(pool, async (client) => {
    try {
      await client.query('begin');
      const selected = await client.query<{ id: string; tenant: string; chat_id: string; thread_id: string }>(
        `select id::text, tenant, chat_id, thread_id from "${schema}".dead_letters
       where replayed_at is null ${ids === 'all' ? '' : 'and id = any($1::bigint[])'} order by id for update`,
        ids === 'all' ? [] : [ids],
      );
      if (ids !== 'all') {
        const found = new Set(selected.rows.map((r) => r.id));
        const missing = ids.filter((id) => !found.has(id));
        if (missing.length > 0)
          throw new CrmSyncError(
            'CRM_DEAD_LETTER_NOT_FOUND',
            `no dead letter waiting with id ${missing.join(', ')}`,
          );
      }
      for (const r of selected.rows) {
        await client.query(
          `update "${schema}".outbox set status = 'pending', next_attempt_at = now(), attempts = 0, claimed_until = null,
           version = version + 1, updated_at = now()
         where tenant = $1 and chat_id = $2 and thread_id = $3 and status = 'dead'`,
          [r.tenant, r.chat_id, r.thread_id],
        );
        await client.query(`update "${schema}".dead_letters set replayed_at = now() where id = $1`, [r.id]);
      }
      await client.query('commit');
      return selected.rows.length;
    } catch (error) {
      await client.query('rollback').catch(() => undefined);
      throw error;
    }
  });
}
