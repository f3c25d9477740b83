import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { createTestDatabase, uniqueName, waitFor, type TestDatabase } from '@livechat-pipeline/testkit';
import { migrateConsumerSchema } from '@livechat-pipeline/postgres-consumer';
import { transcriptsMigrationsDir } from '../src/consumer.js';
import { applyTranscriptEvents, quoteIdent } from '../src/projection/apply.js';
import { chatEventKeyScope, sealChatEvent } from '@livechat-pipeline/events';
import type { ChatDomainEvent } from '@livechat-pipeline/livechat';
import { ChatEventOpener } from '../src/privacy.js';
import {
  canaryChat,
  canaryScopes,
  columnsContaining,
  plantCanaryEverywhere,
  tableChecksums,
} from './support/canary.js';

// Given a tenant's chat full of a canary value, another chat of that tenant and a chat with the same ids in another
// tenant, when the privacy service calls transcripts.erase_chats for the first chat's scopes, then the canary is in
// no text or json column of the schema any more, and every row of the others is byte for byte the same.
let db: TestDatabase;
let pool: pg.Pool;

const PERSONAL_COLUMNS = [
  'customers.email',
  'customers.name',
  'customers.session_fields',
  'customers.visit',
  'entries.author_name',
  'entries.content',
  'entries.text',
  'participants.email',
  'participants.name',
  'survey_answers.answer',
  'survey_answers.answers',
  'threads.summary_text',
  'tickets.body',
  'tickets.requester_email',
  'tickets.requester_name',
  'tickets.subject',
];

async function apply(schema: string, events: readonly ChatDomainEvent[]): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('begin');
    await applyTranscriptEvents(events, client, schema);
    await client.query('commit');
  } finally {
    client.release();
  }
}

/** The events as a replay reads them once their keys are erased: personal values null, [] or reduced. */
async function erasedCopies(events: readonly ChatDomainEvent[]): Promise<ChatDomainEvent[]> {
  const sealed = events.map((e) => {
    const scope = chatEventKeyScope(e);
    return scope === null ? e : sealChatEvent(e, scope, 'erased');
  });
  return new ChatEventOpener(null, { service: 'transcripts' }).open(sealed);
}

async function newSchema(prefix: string): Promise<string> {
  const schema = uniqueName(prefix)
    .toLowerCase()
    .replace(/[^a-z0-9_]/g, '_');
  await migrateConsumerSchema({ databaseUrl: db.url, schema, migrationsDir: transcriptsMigrationsDir });
  return schema;
}

/** Rows per table of one canary chat (its ids all contain `-<id>`). */
async function rowCounts(schema: string, tenant: string, id: string): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const table of [
    'chats',
    'threads',
    'entries',
    'participants',
    'customers',
    'survey_answers',
    'tickets',
  ]) {
    const { rows } = await pool.query<{ n: number }>(
      `select count(*)::int as n from ${quoteIdent(schema)}.${table} r where r.tenant = $1 and r::text like '%-' || $2 || '%'`,
      [tenant, id],
    );
    counts[table] = rows[0]!.n;
  }
  return counts;
}

beforeAll(async () => {
  db = await createTestDatabase('erase');
  pool = new pg.Pool({ connectionString: db.url, max: 2 });
});
afterAll(async () => {
  await pool.end();
  await db.drop();
});

describe('transcripts.erase_chats', () => {
  it('removes every personal value of the chats and changes nothing else', async () => {
    // A schema of its own name, migrated by the service's runner: the function must pin that schema.
    const schema = uniqueName('tr_erase')
      .toLowerCase()
      .replace(/[^a-z0-9_]/g, '_');
    await migrateConsumerSchema({ databaseUrl: db.url, schema, migrationsDir: transcriptsMigrationsDir });
    const tenant = uniqueName('t-a');
    const otherTenant = uniqueName('t-b');
    const canary = `CANARY${Date.now().toString(36)}`;
    const events = [
      ...canaryChat(tenant, 'erased', canary),
      ...canaryChat(tenant, 'kept', 'KEEP-ME'),
      ...canaryChat(otherTenant, 'erased', 'OTHER-TENANT'),
    ];
    const client = await pool.connect();
    try {
      await client.query('begin');
      await applyTranscriptEvents(events, client, schema);
      await client.query('commit');
    } finally {
      client.release();
    }

    // The fixture reaches every personal column, so the check below proves something.
    expect(await columnsContaining(pool, schema, canary)).toEqual(PERSONAL_COLUMNS);
    const others = "not (r::text like '%' || $1 || '%' and r::text like '%-erased%')";
    const before = await tableChecksums(pool, schema, others, [tenant]);

    // The privacy service's own connection: the default search_path, the function named by its schema.
    const erase = `select ${quoteIdent(schema)}.erase_chats($1, $2) as n`;
    const first = await pool.query<{ n: string }>(erase, [tenant, canaryScopes('erased')]);
    expect(Number(first.rows[0]!.n)).toBeGreaterThan(0);

    expect(await columnsContaining(pool, schema, canary)).toEqual([]);
    expect(await tableChecksums(pool, schema, others, [tenant])).toEqual(before);
    // The chat and its thread stay (ids, times, tags); the summary's status too, without its text.
    const kept = await pool.query(
      `select t.summary_status, t.summary_text, c.customer_id from ${quoteIdent(schema)}.threads t
         join ${quoteIdent(schema)}.chats c using (tenant, chat_id) where t.tenant = $1 and t.chat_id = 'chat-erased'`,
      [tenant],
    );
    expect(kept.rows).toEqual([{ summary_status: 'done', summary_text: null, customer_id: 'cust-erased' }]);
    const summary = await pool.query(
      `select tags from ${quoteIdent(schema)}.chat_summary where tenant = $1 and chat_id = 'chat-erased'`,
      [tenant],
    );
    expect(summary.rows).toEqual([{ tags: ['sales'] }]);

    // The sweep calls it again: nothing left to do.
    const again = await pool.query<{ n: string }>(erase, [tenant, canaryScopes('erased')]);
    expect(Number(again.rows[0]!.n)).toBe(0);
  });

  it('after an erasure, a replay of the erased events brings no value back; an opened copy after an erased one fills them', async () => {
    const schema = await newSchema('tr_replay');
    const tenant = uniqueName('t-r');
    const canary = `CANARY${Date.now().toString(36)}`;
    const erasedChat = canaryChat(tenant, 'erased', canary);
    await apply(schema, [...erasedChat, ...canaryChat(tenant, 'kept', 'KEEP-ME')]);
    await pool.query(`select ${quoteIdent(schema)}.erase_chats($1, $2)`, [tenant, canaryScopes('erased')]);
    // A redelivery after the dedup window, a dead-letter replay, a rebuild: the events come again, erased.
    await apply(schema, await erasedCopies(erasedChat));
    expect(await columnsContaining(pool, schema, canary)).toEqual([]);
    expect(await rowCounts(schema, tenant, 'erased')).toEqual(await rowCounts(schema, tenant, 'kept'));

    // The other way round (an undecryptable copy first, then a good one): the opened values are taken.
    const other = await newSchema('tr_reorder');
    await apply(other, await erasedCopies(erasedChat));
    expect(await columnsContaining(pool, other, canary)).toEqual([]);
    await apply(other, erasedChat);
    expect(await columnsContaining(pool, other, canary)).toEqual(PERSONAL_COLUMNS);
  });

  it('erasing one chat of a customer keeps the profile row its other chats use, without the erased values', async () => {
    const schema = await newSchema('tr_profile');
    const tenant = uniqueName('t-c');
    const canary = `CANARY${Date.now().toString(36)}`;
    // Two chats of one customer (cust-erased): the first erased, the second kept.
    const keptChat = JSON.parse(
      JSON.stringify(canaryChat(tenant, 'kept', 'KEEP-ME')).replaceAll('cust-kept', 'cust-erased'),
    ) as ChatDomainEvent[];
    await apply(schema, [...canaryChat(tenant, 'erased', canary), ...keptChat]);
    const profile = `select name, email from ${quoteIdent(schema)}.customers where tenant = $1 and customer_id = 'cust-erased'`;
    const before = (await pool.query<{ name: string | null; email: string | null }>(profile, [tenant])).rows;
    expect(before).toHaveLength(1);

    await pool.query(`select ${quoteIdent(schema)}.erase_chats($1, $2)`, [tenant, canaryScopes('erased')]);

    expect(await columnsContaining(pool, schema, canary)).toEqual([]);
    const after = (await pool.query<{ name: string | null; email: string | null }>(profile, [tenant])).rows;
    expect(after).toHaveLength(1);
    // A value a kept chat's participant row also carries stays; any other is nulled (it may be the erased chat's).
    const kept = await pool.query<{ name: string | null; email: string | null }>(
      `select name, email from ${quoteIdent(schema)}.participants
        where tenant = $1 and chat_id = 'chat-kept' and user_id = 'cust-erased'`,
      [tenant],
    );
    for (const key of ['name', 'email'] as const)
      expect([null, ...kept.rows.map((r) => r[key])]).toContain(after[0]![key]);
    const summary = await pool.query(
      `select customer_id, customer_name from ${quoteIdent(schema)}.chat_summary where tenant = $1 and chat_id = 'chat-kept'`,
      [tenant],
    );
    expect(summary.rows).toEqual([{ customer_id: 'cust-erased', customer_name: after[0]!.name }]);
  });

  it('locks the chats rows first, as the consumer does, so an erasure waits for a batch of the chat', async () => {
    const schema = await newSchema('tr_lock');
    const tenant = uniqueName('t-l');
    await apply(schema, canaryChat(tenant, 'erased', 'LOCKED'));
    const batch = new pg.Client({ connectionString: db.url });
    await batch.connect();
    let erasure: Promise<unknown> | undefined;
    try {
      // A consumer batch of the chat in flight: it has upserted the chat row, nothing else yet.
      await batch.query('begin');
      await batch.query(
        `update ${quoteIdent(schema)}.chats set customer_id = customer_id where tenant = $1 and chat_id = 'chat-erased'`,
        [tenant],
      );
      erasure = pool.query(`select ${quoteIdent(schema)}.erase_chats($1, $2)`, [
        tenant,
        canaryScopes('erased'),
      ]);
      await waitFor(
        async () =>
          (
            await pool.query(
              `select 1 from pg_stat_activity where query like '%erase_chats%' and wait_event_type = 'Lock'
                 and datname = current_database()`,
            )
          ).rowCount! > 0,
        { timeoutMs: 10_000, message: 'erase_chats waits on the chat row' },
      );
      // It has touched nothing else: the batch can still lock the chat's entries.
      const entries = await batch.query(
        `select 1 from ${quoteIdent(schema)}.entries where tenant = $1 and chat_id = 'chat-erased' for update nowait`,
        [tenant],
      );
      expect(entries.rowCount).toBeGreaterThan(0);
      await batch.query('commit');
      await erasure;
    } finally {
      await batch.query('rollback').catch(() => undefined);
      await erasure?.catch(() => undefined);
      await batch.end();
    }
    expect(await columnsContaining(pool, schema, 'LOCKED')).toEqual([]);
  });

  it('reaches every text and json column of the schema, even one no fixture fills', async () => {
    const schema = await newSchema('tr_plant');
    const tenant = uniqueName('t-p');
    await apply(schema, canaryChat(tenant, 'erased', 'FIXTURE'));
    const canary = `PLANTED${Date.now().toString(36)}`;
    const planted = await plantCanaryEverywhere(
      pool,
      schema,
      { tenant, chatId: 'chat-erased' },
      canary,
      NOT_PERSONAL,
      {
        customers: `customer_id in (select customer_id from ${quoteIdent(schema)}.chats where tenant = $1 and chat_id = $2)`,
        tickets: 'source_chat_id = $2',
      },
    );
    expect(planted).toEqual(expect.arrayContaining(PERSONAL_COLUMNS));
    await pool.query(`select ${quoteIdent(schema)}.erase_chats($1, $2)`, [tenant, canaryScopes('erased')]);
    expect(await columnsContaining(pool, schema, canary)).toEqual([]);
  });
});

/**
 * The text, json and array columns of the schema that carry nothing personal (ids, kinds, tags, statuses), by
 * `table.column` (`table.*`: the whole table). Every other such column is planted with a canary before the erasure
 * and must not hold it after: a new personal column fails this test until erase_chats clears it.
 */
const NOT_PERSONAL: readonly string[] = [
  // the consumer's bookkeeping; agents are employees and canned responses the tenant's templates (no chat)
  '_dedup.*',
  '_migrations.*',
  '_offsets.*',
  '_rebuild.*',
  '_runtime_migrations.*',
  'agents.*',
  'canned_responses.*',
  // ids, kinds, statuses, tags
  'chats.customer_id',
  'chats.first_thread_id',
  'chats.last_thread_id',
  'thread_tags.tag',
  'thread_tags.thread_id',
  'threads.archive_tags',
  'threads.closed_by_kind',
  'threads.closed_by_user_id',
  'threads.summary_status',
  'threads.tags_snapshot',
  'threads.thread_id',
  'customers.customer_id',
  'tickets.ticket_id',
  'tickets.source_chat_id',
];
