import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { createTestDatabase, type TestDatabase } from '@livechat-pipeline/testkit';
import { simulateTraffic, generateChats, renderV2, renderV3 } from '@livechat-pipeline/traffic-simulator';
import { applyInTransaction, createProjectionSchema, eventsFromDeliveries, viewsChecksum } from './support/projection-db.js';

let db: TestDatabase;
let pool: pg.Pool;
let schemaCounter = 0;
const freshSchema = async () => {
  const schema = `transcripts_${++schemaCounter}`;
  await createProjectionSchema(pool, schema);
  return schema;
};

beforeAll(async () => {
  db = await createTestDatabase('transcripts');
  pool = new pg.Pool({ connectionString: db.url, max: 4 });
});
afterAll(async () => {
  await pool.end();
  await db.drop();
});

interface TranscriptRow {
  chat_id: string;
  author_type: string;
  author_id: string | null;
  visibility: string;
  kind: string;
  text: string | null;
  created_us: string;
}

async function transcriptOf(schema: string, chatId: string): Promise<TranscriptRow[]> {
  const { rows } = await pool.query<TranscriptRow>(
    `select chat_id, author_type, author_id, visibility, kind, text, created_us::text
     from "${schema}".chat_transcript where chat_id = $1 and kind = 'message' order by position`,
    [chatId],
  );
  return rows;
}

describe('transcripts projection: simulated traffic, as delivered (duplicates, reordering)', () => {
  it('v3.6: every chat shows its messages in order with texts, author kinds, visibility and exact times; tags, start, email', async () => {
    const traffic = simulateTraffic({ seed: 11, chats: 8, format: 'v3', duplicateRate: 0.2, reorderRate: 0.2 });
    const schema = await freshSchema();
    await applyInTransaction(pool, schema, eventsFromDeliveries(traffic.deliveries));

    for (const chat of traffic.expected) {
      const transcript = await transcriptOf(schema, chat.chatId);
      expect(transcript.map((r) => r.text)).toEqual(chat.messages.map((m) => m.text));
      expect(transcript.map((r) => r.author_type)).toEqual(chat.messages.map((m) => m.authorKind));
      expect(transcript.map((r) => r.visibility)).toEqual(chat.messages.map((m) => m.visibility));
      expect(transcript.map((r) => BigInt(r.created_us))).toEqual(
        chat.messages.map((m) => BigInt(Date.parse(m.createdAt)) * 1000n + BigInt(m.createdAt.slice(23, 26))),
      );
      const { rows } = await pool.query(
        `select tenant, tags, customer_email, to_char(started_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as started
         from "${schema}".chat_summary where chat_id = $1`,
        [chat.chatId],
      );
      expect(rows).toEqual([{ tenant: chat.tenant.organizationId, tags: [...chat.tags], customer_email: chat.customerEmail, started: chat.startedAt }]);
    }
  });

  it('v2: the same facts at second precision', async () => {
    const traffic = simulateTraffic({ seed: 12, chats: 8, format: 'v2', duplicateRate: 0.2, reorderRate: 0.2 });
    const schema = await freshSchema();
    await applyInTransaction(pool, schema, eventsFromDeliveries(traffic.deliveries));

    for (const chat of traffic.expected) {
      const transcript = await transcriptOf(schema, chat.chatId);
      expect(transcript.map((r) => r.text)).toEqual(chat.messages.map((m) => m.text));
      expect(transcript.map((r) => r.author_type)).toEqual(chat.messages.map((m) => m.authorKind));
      expect(transcript.map((r) => r.visibility)).toEqual(chat.messages.map((m) => m.visibility));
      expect(transcript.map((r) => Number(BigInt(r.created_us) / 1_000_000n))).toEqual(chat.messages.map((m) => m.createdAtEpochSeconds));
      const { rows } = await pool.query(
        `select tenant, tags, customer_email, extract(epoch from started_at)::bigint::int as started from "${schema}".chat_summary where chat_id = $1`,
        [chat.chatId],
      );
      expect(rows).toEqual([{ tenant: chat.tenant.licenseId, tags: [...chat.tags], customer_email: chat.customerEmail, started: chat.startedAtEpochSeconds }]);
    }
  });
});

describe('transcripts projection: any order of arrival gives the same views', () => {
  for (const format of ['v3', 'v2'] as const) {
    it(`${format}: forward, reversed and shuffled arrival give identical view contents`, async () => {
      const chats = generateChats({ seed: 21, chats: 5 });
      const events = eventsFromDeliveries(format === 'v3' ? renderV3(chats) : renderV2(chats));
      const forward = await freshSchema();
      await applyInTransaction(pool, forward, events);
      const reversed = await freshSchema();
      await applyInTransaction(pool, reversed, [...events].reverse(), 7);
      const shuffled = await freshSchema();
      // A fixed permutation (not Math.random): the test must fail the same way every time.
      const permuted = events.map((e, i) => ({ e, k: (i * 7919) % 101 })).sort((a, b) => a.k - b.k).map((x) => x.e);
      await applyInTransaction(pool, shuffled, permuted, 3);

      const expected = await viewsChecksum(pool, forward);
      expect(await viewsChecksum(pool, reversed)).toEqual(expected);
      expect(await viewsChecksum(pool, shuffled)).toEqual(expected);
      const { rows } = await pool.query(`select count(*)::int as n from "${forward}".chat_transcript`);
      expect(rows[0].n).toBeGreaterThan(10);
    });
  }
});
