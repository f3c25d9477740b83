import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { migrateConsumerSchema } from '@livechat-pipeline/postgres-consumer';
import type { ChatDomainEvent } from '@livechat-pipeline/livechat';
import { createTestDatabase, type TestDatabase } from '@livechat-pipeline/testkit';
import { Random, simulateTraffic } from '@livechat-pipeline/traffic-simulator';
import { crmMigrationsDir } from '../src/consumer.js';
import { applyCrmEvents } from '../src/projection/apply.js';
import { renderNote } from '../src/sync/note.js';
import { SyncStore } from '../src/sync/store.js';
import { customerUpdate, smallChat } from './support/chats.js';
import { eventsOf } from './support/harness.js';

// Given simulated traffic, when its events arrive in any order (and in batches of any size), then the same
// notes and the same outbox rows.
let db: TestDatabase;
let pool: pg.Pool;
let n = 0;
beforeAll(async () => {
  db = await createTestDatabase('crm_projection');
  pool = new pg.Pool({ connectionString: db.url, max: 2 });
});
afterAll(async () => {
  await pool.end();
  await db.drop();
});

/** The events applied in this order and batch size; every thread's rendered note and its outbox row. */
async function project(events: readonly ChatDomainEvent[], batch: number): Promise<string[]> {
  const schema = `crm_order_${++n}`;
  await migrateConsumerSchema({ databaseUrl: db.url, schema, migrationsDir: crmMigrationsDir });
  const seen = new Set<string>();
  const unique = events.filter((e) => !seen.has(e.event_id) && seen.add(e.event_id));
  for (let i = 0; i < unique.length; i += batch) {
    const client = await pool.connect();
    try {
      await client.query('begin');
      await applyCrmEvents(unique.slice(i, i + batch), client, schema, 0);
      await client.query('commit');
    } finally {
      client.release();
    }
  }
  const store = new SyncStore(pool, `"${schema}"`);
  const { rows } = await pool.query<{ tenant: string; chat_id: string; thread_id: string }>(
    `select tenant, chat_id, thread_id from "${schema}".outbox order by 1, 2, 3`,
  );
  const out: string[] = [];
  for (const r of rows) {
    const snapshot = await store.snapshot({
      tenant: r.tenant,
      chatId: r.chat_id,
      threadId: r.thread_id,
      version: '1',
      attempts: 0,
      claimToken: '',
      queuedAtMs: 0,
    });
    out.push(
      `${r.chat_id}/${r.thread_id}: ${snapshot === null ? 'none' : renderNote(snapshot).bodySha256} ${snapshot?.customerEmail ?? ''}`,
    );
  }
  return out;
}

describe('crm projection: order of arrival', () => {
  it('forward, reversed and shuffled arrivals (v3 and v2, with duplicates) give the same notes and intents', async () => {
    const v3 = simulateTraffic({ seed: 31, chats: 6, format: 'v3', duplicateRate: 0.3, reorderRate: 0.3 });
    const v2 = simulateTraffic({ seed: 32, chats: 4, format: 'v2', duplicateRate: 0.3, reorderRate: 0.3 });
    const events = [...eventsOf(v3.deliveries), ...eventsOf(v2.deliveries)];
    const random = new Random(5);
    const shuffled = [...events];
    for (let i = shuffled.length - 1; i > 0; i--) {
      const j = Math.floor(random.float() * (i + 1));
      [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
    }
    const forward = await project(events, 50);
    expect(forward).toHaveLength(10);
    expect(forward.every((line) => !line.includes('none'))).toBe(true);
    expect(await project([...events].reverse(), 7)).toEqual(forward);
    expect(await project(shuffled, 1)).toEqual(forward);
  });

  it('a thread of 2,500 messages: 2,000 entries are loaded, the rest counted, the note stays under the limit', async () => {
    const chat = smallChat(1, { texts: Array.from({ length: 2_500 }, (_, i) => `message number ${i}`) });
    const schema = `crm_big_${++n}`;
    await migrateConsumerSchema({ databaseUrl: db.url, schema, migrationsDir: crmMigrationsDir });
    const client = await pool.connect();
    try {
      await client.query('begin');
      await applyCrmEvents(eventsOf(chat.deliveries), client, schema, 0);
      await client.query('commit');
    } finally {
      client.release();
    }
    const { rows } = await pool.query<{ tenant: string }>(`select tenant from "${schema}".outbox`);
    const snapshot = await new SyncStore(pool, `"${schema}"`).snapshot({
      tenant: rows[0]!.tenant,
      chatId: chat.chatId,
      threadId: chat.threadId,
      version: '1',
      attempts: 0,
      claimToken: '',
      queuedAtMs: 0,
    });
    expect([snapshot!.entries.length, snapshot!.entriesNotLoaded]).toEqual([2_000, 500]);
    const note = renderNote(snapshot!);
    expect(note.body.length).toBeLessThanOrEqual(65_536);
    expect(note.body).toContain(`[transcript cut: ${note.entriesCut} more entries not shown`);
    expect(note.body).toContain('message number 0<');
  });

  it("a returning customer's new thread queues only that thread; a changed e-mail queues all the customer's threads", async () => {
    const schema = `crm_touched_${++n}`;
    await migrateConsumerSchema({ databaseUrl: db.url, schema, migrationsDir: crmMigrationsDir });
    const apply = async (events: readonly ChatDomainEvent[]) => {
      const client = await pool.connect();
      try {
        await client.query('begin');
        await applyCrmEvents(events, client, schema, 0);
        await client.query('commit');
      } finally {
        client.release();
      }
    };
    const versions = async () => {
      const { rows } = await pool.query<{ thread_id: string; version: string }>(
        `select thread_id, version::text from "${schema}".outbox order by thread_id`,
      );
      return Object.fromEntries(rows.map((r) => [r.thread_id, Number(r.version)]));
    };
    const first = smallChat(5);
    await apply(eventsOf(first.deliveries));
    const before = await versions();
    expect(Object.keys(before)).toEqual([first.threadId]);

    const second = smallChat(5, { thread: 2 });
    expect(second.chatId).toBe(first.chatId);
    // Event by event, as a live chat arrives: no batch of the new thread touches the old thread's intent.
    for (const event of eventsOf(second.deliveries)) await apply([event]);
    const after = await versions();
    expect(after[first.threadId]).toBe(before[first.threadId]);
    expect(after[second.threadId]).toBeGreaterThanOrEqual(1);

    // The customer's e-mail corrected (no chat id): both notes show it, both are queued again.
    await apply(eventsOf([customerUpdate(5, 'fixed5@mail.example', Date.parse('2026-11-26T00:00:00Z'))]));
    const corrected = await versions();
    expect(corrected[first.threadId]).toBe(after[first.threadId]! + 1);
    expect(corrected[second.threadId]).toBe(after[second.threadId]! + 1);
  });
});
