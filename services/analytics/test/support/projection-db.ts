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
 * Parses deliveries as the normalizer would, in arrival order, and drops event ids already seen, as
 * the runtime does. Each arrives 1 ms after the previous one, and never before LiveChat emitted it.
 */
export function eventsFromDeliveries(
  deliveries: readonly { body: unknown; emittedAt: number }[],
): ChatDomainEvent[] {
  const seen = new Set<string>();
  const events: ChatDomainEvent[] = [];
  let receivedAt = 0;
  deliveries.forEach(({ body, emittedAt }, index) => {
    receivedAt = Math.max(receivedAt + 1000, emittedAt + 1000);
    for (const event of parseWebhook(body, { rawEventId: `raw-${index}`, receivedAtMicros: receivedAt })) {
      if (seen.has(event.event_id)) continue;
      seen.add(event.event_id);
      events.push(event);
    }
  });
  return events;
}

/** One copy of a domain event as it reaches the projection: which webhook it came from, and which copy of it. */
export interface EventCopy {
  readonly event: ChatDomainEvent;
  readonly webhook: number;
  readonly copy: number;
}

/**
 * Every copy of every webhook, parsed, without dropping anything: webhook `i` (in emission order) is
 * delivered `copiesOf(i)` times, each copy from its own raw record (`raw_event_id`). The copies share
 * the receipt time of the webhook: for a fact LiveChat gives no time for (a v3 thread close), the
 * receipt time IS the fact's time, so copies received at different times would be different facts,
 * not different copies. Events repeated by different webhooks (v2 `chat_started` and `chat_ended`
 * repeat the start and the messages) keep each webhook's own content and receipt time.
 */
export function eventCopies(
  webhooks: readonly { body: unknown; emittedAt: number }[],
  copiesOf: (webhook: number) => number,
): EventCopy[] {
  const copies: EventCopy[] = [];
  let receivedAt = 0;
  webhooks.forEach(({ body, emittedAt }, webhook) => {
    receivedAt = Math.max(receivedAt + 1000, emittedAt + 1000);
    for (let copy = 0; copy < copiesOf(webhook); copy++) {
      const context = { rawEventId: `raw-${webhook}-${copy}`, receivedAtMicros: receivedAt };
      for (const event of parseWebhook(structuredClone(body), context)) copies.push({ event, webhook, copy });
    }
  });
  return copies;
}

/** What the runtime does with arrivals: the first copy of each event id is applied, later ones are duplicates. */
export function firstCopies(arrivals: readonly EventCopy[]): EventCopy[] {
  const seen = new Set<string>();
  return arrivals.filter(({ event }) => {
    if (seen.has(event.event_id)) return false;
    seen.add(event.event_id);
    return true;
  });
}

/** A checksum of a view's whole contents, in a stable order (every column, as text). */
export async function viewChecksum(pool: pg.Pool, schema: string, view: string): Promise<string> {
  const { rows } = await pool.query<{ md5: string }>(
    `select md5(coalesce(string_agg(t::text, '|' order by t::text), '')) as md5 from ${quoteIdent(schema)}.${view} t`,
  );
  return rows[0]!.md5;
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
