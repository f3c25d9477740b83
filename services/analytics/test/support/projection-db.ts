import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import { parseWebhook, type ChatDomainEvent } from '@livechat-pipeline/livechat';
import { applyAnalyticsEvents, quoteIdent } from '../../src/facts/apply.js';

const migrationsDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'migrations');

/** Creates a schema with the analytics tables and views (the migrations, run by hand). */
export async function createProjectionSchema(pool: pg.Pool, schema: string): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query(`create schema ${quoteIdent(schema)}`);
    await client.query(`set search_path to ${quoteIdent(schema)}`);
    for (const file of readdirSync(migrationsDir)
      .filter((f) => f.endsWith('.sql'))
      .sort()) {
      await client.query(readFileSync(path.join(migrationsDir, file), 'utf8'));
    }
  } finally {
    await client.query('reset search_path');
    client.release();
  }
}

export async function applyInTransaction(
  pool: pg.Pool,
  schema: string,
  events: readonly ChatDomainEvent[],
  batchSize = 50,
): Promise<void> {
  for (let i = 0; i < events.length; i += batchSize) {
    const client = await pool.connect();
    try {
      await client.query('begin');
      await applyAnalyticsEvents(events.slice(i, i + batchSize), client, schema);
      await client.query('commit');
    } catch (error) {
      await client.query('rollback');
      throw error;
    } finally {
      client.release();
    }
  }
}

/**
 * Parses deliveries as the normalizer would, in arrival order, and keeps every copy: the runtime drops an
 * event id it has seen within its dedup window, but a duplicate after the window (or a replay after a rebuild)
 * reaches the projection, which must therefore be idempotent on its own. Each delivery arrives 1 ms after the
 * previous one, and never before LiveChat emitted it: a late or repeated delivery has a later receipt time.
 */
export function eventsFromDeliveries(
  deliveries: readonly { body: unknown; emittedAt: number }[],
): ChatDomainEvent[] {
  const events: ChatDomainEvent[] = [];
  let receivedAt = 0;
  deliveries.forEach(({ body, emittedAt }, index) => {
    receivedAt = Math.max(receivedAt + 1000, emittedAt + 1000);
    events.push(
      ...parseWebhook(structuredClone(body), { rawEventId: `raw-${index}`, receivedAtMicros: receivedAt }),
    );
  });
  return events;
}

/**
 * Every copy of every webhook, parsed, without dropping anything: webhook `i` (in emission order) is
 * delivered `copiesOf(i)` times, each copy from its own raw record (`raw_event_id`). The copies share
 * the receipt time of the webhook (a replay of the raw record), so they are copies of one fact even where the
 * receipt time is the fact's time (a v3 close, a routing status).
 */
export function eventCopies(
  webhooks: readonly { body: unknown; emittedAt: number }[],
  copiesOf: (webhook: number) => number,
): ChatDomainEvent[] {
  const copies: ChatDomainEvent[] = [];
  let receivedAt = 0;
  webhooks.forEach(({ body, emittedAt }, webhook) => {
    receivedAt = Math.max(receivedAt + 1000, emittedAt + 1000);
    for (let copy = 0; copy < copiesOf(webhook); copy++) {
      const context = { rawEventId: `raw-${webhook}-${copy}`, receivedAtMicros: receivedAt };
      copies.push(...parseWebhook(structuredClone(body), context));
    }
  });
  return copies;
}

/** The rows of a view that differ between two schemas (as text), to say what a checksum mismatch is. */
export async function viewDiff(
  pool: pg.Pool,
  schema: string,
  reference: string,
  view: string,
): Promise<string[]> {
  const a = `${quoteIdent(schema)}.${view}`;
  const b = `${quoteIdent(reference)}.${view}`;
  const { rows } = await pool.query<{ side: string; row: string }>(
    `(select '+' as side, t::text as row from (select * from ${a} except all select * from ${b}) t)
     union all
     (select '-' as side, t::text as row from (select * from ${b} except all select * from ${a}) t)
     order by row, side`,
  );
  return rows.map((r) => `${view} ${r.side} ${r.row}`);
}
