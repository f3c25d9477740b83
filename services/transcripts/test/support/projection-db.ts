import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import { parseWebhook, type ChatDomainEvent } from '@livechat-pipeline/livechat';
import { applyTranscriptEvents, quoteIdent } from '../../src/projection/apply.js';

const migrationsDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'migrations');

/** Creates a schema with the transcript tables and views (the migrations, run by hand). */
export async function createProjectionSchema(pool: pg.Pool, schema: string): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query(`create schema ${quoteIdent(schema)}`);
    await client.query(`set search_path to ${quoteIdent(schema)}`);
    for (const file of readdirSync(migrationsDir).filter((f) => f.endsWith('.sql')).sort()) {
      await client.query(readFileSync(path.join(migrationsDir, file), 'utf8'));
    }
  } finally {
    await client.query('reset search_path');
    client.release();
  }
}

export async function applyInTransaction(pool: pg.Pool, schema: string, events: readonly ChatDomainEvent[], batchSize = 50): Promise<void> {
  for (let i = 0; i < events.length; i += batchSize) {
    const client = await pool.connect();
    try {
      await client.query('begin');
      await applyTranscriptEvents(events.slice(i, i + batchSize), client, schema);
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
export function eventsFromDeliveries(deliveries: readonly { body: unknown; emittedAt: number }[]): ChatDomainEvent[] {
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

/** A checksum of both views' whole contents, in a stable order. */
export async function viewsChecksum(pool: pg.Pool, schema: string): Promise<{ transcript: string; summary: string }> {
  const s = quoteIdent(schema);
  const transcript = await pool.query<{ md5: string }>(
    `select md5(coalesce(string_agg(t::text, '|' order by t.tenant, t.chat_id, t.thread_id, t.event_id), '')) as md5 from ${s}.chat_transcript t`,
  );
  const summary = await pool.query<{ md5: string }>(
    `select md5(coalesce(string_agg(t::text, '|' order by t.tenant, t.chat_id), '')) as md5 from ${s}.chat_summary t`,
  );
  return { transcript: transcript.rows[0]!.md5, summary: summary.rows[0]!.md5 };
}
