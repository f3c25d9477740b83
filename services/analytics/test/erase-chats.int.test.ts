import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { createTestDatabase, uniqueName, type TestDatabase } from '@livechat-pipeline/testkit';
import { migrateConsumerSchema } from '@livechat-pipeline/postgres-consumer';
import { analyticsMigrationsDir } from '../src/consumer.js';
import { applyAnalyticsEvents, quoteIdent } from '../src/facts/apply.js';
import { chatEventKeyScope, sealChatEvent } from '@livechat-pipeline/events';
import type { ChatDomainEvent } from '@livechat-pipeline/livechat';
import { ChatEventOpener } from '../src/privacy.js';
import { canaryChat, columnsContaining, plantCanaryEverywhere, tableChecksums } from './support/canary.js';

// Given a tenant's rated chat whose comments carry a canary, another chat of that tenant and a chat with the same ids
// in another tenant, when the privacy service calls analytics.erase_chats for the first chat, then the canary is in no
// text or json column of the schema any more, every count and rating is the same, and the others' rows are unchanged.
let db: TestDatabase;
let pool: pg.Pool;

beforeAll(async () => {
  db = await createTestDatabase('erase');
  pool = new pg.Pool({ connectionString: db.url, max: 2 });
});
afterAll(async () => {
  await pool.end();
  await db.drop();
});

async function newSchema(prefix: string): Promise<string> {
  const schema = uniqueName(prefix)
    .toLowerCase()
    .replace(/[^a-z0-9_]/g, '_');
  await migrateConsumerSchema({ databaseUrl: db.url, schema, migrationsDir: analyticsMigrationsDir });
  return schema;
}

async function apply(schema: string, events: readonly ChatDomainEvent[]): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('begin');
    await applyAnalyticsEvents(events, client, schema);
    await client.query('commit');
  } finally {
    client.release();
  }
}

describe('analytics.erase_chats', () => {
  it('clears the rating comments of the chats and changes no count', async () => {
    const schema = uniqueName('an_erase')
      .toLowerCase()
      .replace(/[^a-z0-9_]/g, '_');
    await migrateConsumerSchema({ databaseUrl: db.url, schema, migrationsDir: analyticsMigrationsDir });
    const s = quoteIdent(schema);
    const tenant = uniqueName('t-a');
    const otherTenant = uniqueName('t-b');
    const canary = `CANARY${Date.now().toString(36)}`;
    const client = await pool.connect();
    try {
      await client.query('begin');
      await applyAnalyticsEvents(
        [
          ...canaryChat(tenant, 'erased', canary),
          ...canaryChat(tenant, 'kept', 'KEEP-ME'),
          ...canaryChat(otherTenant, 'erased', 'OTHER-TENANT'),
        ],
        client,
        schema,
      );
      await client.query('commit');
    } finally {
      client.release();
    }
    expect(await columnsContaining(pool, schema, canary)).toEqual(['ratings.comment', 'transfers.reason']);
    const facts = `select tenant, chat_id, thread_id, started_at, ended_at, duration_seconds, first_response_seconds,
                          customer_messages, agent_messages, agent_ids, tags, rating, queued, started_by
                     from ${s}.thread_facts order by 1, 2, 3`;
    const factsBefore = (await pool.query(facts)).rows;
    expect(factsBefore).toHaveLength(3);
    expect(factsBefore.map((r: { rating: string }) => r.rating)).toEqual(['good', 'good', 'good']);
    const daily = `select * from ${s}.daily order by tenant, day, group_id`;
    const dailyBefore = (await pool.query(daily)).rows;
    const others = "not (r::text like '%' || $1 || '%' and r::text like '%-erased%')";
    const before = await tableChecksums(pool, schema, others, [tenant]);

    const erase = `select ${s}.erase_chats($1, $2) as n`;
    const first = await pool.query<{ n: string }>(erase, [tenant, ['chat-erased']]);
    expect(Number(first.rows[0]!.n)).toBeGreaterThan(0);

    expect(await columnsContaining(pool, schema, canary)).toEqual([]);
    expect(await tableChecksums(pool, schema, others, [tenant])).toEqual(before);
    expect((await pool.query(facts)).rows).toEqual(factsBefore);
    expect((await pool.query(daily)).rows).toEqual(dailyBefore);
    const comments = await pool.query(
      `select chat_id, rating_comment from ${s}.thread_facts where tenant = $1 order by 1`,
      [tenant],
    );
    expect(comments.rows).toEqual([
      { chat_id: 'chat-erased', rating_comment: null },
      { chat_id: 'chat-kept', rating_comment: expect.stringContaining('KEEP-ME') },
    ]);

    const reasons = await pool.query(`select reason from ${s}.transfers where tenant = $1 and chat_id = $2`, [
      tenant,
      'chat-erased',
    ]);
    expect(reasons.rows.map((r: { reason: string | null }) => r.reason).sort()).toEqual(['assigned', null]);

    const again = await pool.query<{ n: string }>(erase, [tenant, ['chat-erased']]);
    expect(Number(again.rows[0]!.n)).toBe(0);
  });

  it('leaves the same rating and transfer rows as a replay of the erased events', async () => {
    const tenant = uniqueName('t-r');
    const events = canaryChat(tenant, 'erased', `CANARY${Date.now().toString(36)}`);
    const live = await newSchema('an_live');
    await apply(live, events);
    await pool.query(`select ${quoteIdent(live)}.erase_chats($1, $2)`, [tenant, ['chat-erased']]);
    // A rebuild after the erasure reads every event erased: personal values null or reduced.
    const sealed = events.map((e) => {
      const scope = chatEventKeyScope(e);
      return scope === null ? e : sealChatEvent(e, scope, 'erased');
    });
    const rebuilt = await newSchema('an_rebuilt');
    await apply(rebuilt, await new ChatEventOpener(null, { service: 'analytics' }).open(sealed));
    for (const table of ['ratings', 'transfers']) {
      const rows = async (schema: string) =>
        (await pool.query(`select * from ${quoteIdent(schema)}.${table} r order by r::text`)).rows;
      expect(await rows(live), table).toEqual(await rows(rebuilt));
    }
  });

  it('reaches every text and json column of the schema, even one no fixture fills', async () => {
    const schema = uniqueName('an_plant')
      .toLowerCase()
      .replace(/[^a-z0-9_]/g, '_');
    await migrateConsumerSchema({ databaseUrl: db.url, schema, migrationsDir: analyticsMigrationsDir });
    const tenant = uniqueName('t-p');
    const client = await pool.connect();
    try {
      await client.query('begin');
      await applyAnalyticsEvents(canaryChat(tenant, 'erased', 'FIXTURE'), client, schema);
      await client.query('commit');
    } finally {
      client.release();
    }
    const canary = `PLANTED${Date.now().toString(36)}`;
    const planted = await plantCanaryEverywhere(
      pool,
      schema,
      { tenant, chatId: 'chat-erased' },
      canary,
      NOT_PERSONAL,
    );
    expect(planted).toEqual(expect.arrayContaining(['ratings.comment', 'transfers.reason']));
    await pool.query(`select ${quoteIdent(schema)}.erase_chats($1, $2)`, [tenant, ['chat-erased']]);
    expect(await columnsContaining(pool, schema, canary)).toEqual([]);
  });
});

/**
 * The text, json and array columns of the schema that carry nothing personal (ids, kinds, tags, enum values), by
 * `table.column` (`table.*`: the whole table). Every other such column is planted with a canary before the erasure
 * and must not hold it after: a new personal column fails this test until erase_chats clears it.
 */
const NOT_PERSONAL: readonly string[] = [
  // the consumer's bookkeeping and the tables without a chat: agents' statuses, visitors' queue ids, settings
  '_dedup.*',
  '_migrations.*',
  '_offsets.*',
  '_rebuild.*',
  '_runtime_migrations.*',
  'agent_statuses.*',
  'tenant_settings.*',
  'visitor_queues.*',
  // ids (threads, entries, facts, users), kinds, tags, formats
  'entries.author_id',
  'entries.author_kind',
  'entries.automatic',
  'entries.entry_id',
  'entries.kind',
  'entries.system_message_type',
  'entries.thread_id',
  'entries.visibility',
  'participants.kind',
  'participants.user_id',
  'queues.fact_id',
  'queues.thread_id',
  'ratings.fact_id',
  'ratings.kind',
  'ratings.thread_id',
  'thread_tags.tag',
  'thread_tags.thread_id',
  'threads.archive_tags',
  'threads.customer_id',
  'threads.source_format',
  'threads.tags_snapshot',
  'threads.thread_id',
  'transfers.fact_id',
  'transfers.thread_id',
  'transfers.to_agent_ids',
];
