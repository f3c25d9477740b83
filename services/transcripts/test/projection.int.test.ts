import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { createTestDatabase, type TestDatabase } from '@livechat-pipeline/testkit';
import {
  Random,
  simulateTraffic,
  generateChats,
  renderV2,
  renderV3,
} from '@livechat-pipeline/traffic-simulator';
import {
  applyInTransaction,
  createProjectionSchema,
  eventCopies,
  eventsFromDeliveries,
  firstCopies,
  viewsChecksum,
  viewsDiff,
  type EventCopy,
} from './support/projection-db.js';

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
    const traffic = simulateTraffic({
      seed: 11,
      chats: 8,
      format: 'v3',
      duplicateRate: 0.2,
      reorderRate: 0.2,
    });
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
      expect(rows).toEqual([
        {
          tenant: chat.tenant.organizationId,
          tags: [...chat.tags],
          customer_email: chat.customerEmail,
          started: chat.startedAt,
        },
      ]);
    }
  });

  it('v2: the same facts at second precision', async () => {
    const traffic = simulateTraffic({
      seed: 12,
      chats: 8,
      format: 'v2',
      duplicateRate: 0.2,
      reorderRate: 0.2,
    });
    const schema = await freshSchema();
    await applyInTransaction(pool, schema, eventsFromDeliveries(traffic.deliveries));

    for (const chat of traffic.expected) {
      const transcript = await transcriptOf(schema, chat.chatId);
      expect(transcript.map((r) => r.text)).toEqual(chat.messages.map((m) => m.text));
      expect(transcript.map((r) => r.author_type)).toEqual(chat.messages.map((m) => m.authorKind));
      expect(transcript.map((r) => r.visibility)).toEqual(chat.messages.map((m) => m.visibility));
      expect(transcript.map((r) => Number(BigInt(r.created_us) / 1_000_000n))).toEqual(
        chat.messages.map((m) => m.createdAtEpochSeconds),
      );
      const { rows } = await pool.query(
        `select tenant, tags, customer_email, extract(epoch from started_at)::bigint::int as started from "${schema}".chat_summary where chat_id = $1`,
        [chat.chatId],
      );
      expect(rows).toEqual([
        {
          tenant: chat.tenant.licenseId,
          tags: [...chat.tags],
          customer_email: chat.customerEmail,
          started: chat.startedAtEpochSeconds,
        },
      ]);
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
      const permuted = events
        .map((e, i) => ({ e, k: (i * 7919) % 101 }))
        .sort((a, b) => a.k - b.k)
        .map((x) => x.e);
      await applyInTransaction(pool, shuffled, permuted, 3);

      const expected = await viewsChecksum(pool, forward);
      expect(await viewsChecksum(pool, reversed)).toEqual(expected);
      expect(await viewsChecksum(pool, shuffled)).toEqual(expected);
      const { rows } = await pool.query(`select count(*)::int as n from "${forward}".chat_transcript`);
      expect(rows[0].n).toBeGreaterThan(10);
    });
  }
});

/** A seeded Fisher-Yates shuffle: the same seed gives the same order on every run. */
function shuffled<T>(items: readonly T[], seed: number): T[] {
  const random = Random.derive(seed, 'arrival-order');
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = random.int(0, i);
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

describe('transcripts projection: whichever copy of a redelivered webhook arrives first, the views are the same', () => {
  for (const format of ['v3', 'v2'] as const) {
    it(`${format}: every webhook delivered 1-4 times, all copies shuffled with several seeds, deduplicated on arrival`, async () => {
      const chats = generateChats({ seed: 31, chats: 5 });
      const webhooks = format === 'v3' ? renderV3(chats) : renderV2(chats);
      const copyCount = Random.derive(32, 'copies');
      const counts = webhooks.map(() => (copyCount.chance(0.6) ? copyCount.int(2, 4) : 1));
      const copies = eventCopies(webhooks, (i) => counts[i]!);
      const redelivered = new Set(copies.filter((c) => c.copy > 0).map((c) => c.event.event_id));
      expect(redelivered.size).toBeGreaterThan(20);

      // The reference: webhooks in emission order, the first copy of each wins.
      const reference = await freshSchema();
      await applyInTransaction(
        pool,
        reference,
        firstCopies(copies).map((c) => c.event),
      );
      const expected = await viewsChecksum(pool, reference);

      const winnerOf = (arrivals: readonly EventCopy[]): Map<string, number> =>
        new Map(firstCopies(arrivals).map((c) => [c.event.event_id, c.copy]));
      const winners: Map<string, number>[] = [];
      for (const seed of [1, 2, 3, 4, 5]) {
        // when: all copies, duplicates included, arrive in a seeded random order; the first copy of an id wins
        const arrivals = shuffled(copies, seed);
        winners.push(winnerOf(arrivals));
        const schema = await freshSchema();
        await applyInTransaction(
          pool,
          schema,
          firstCopies(arrivals).map((c) => c.event),
          1 + seed * 6,
        );
        // then: the views are identical to the reference
        if (
          (await viewsChecksum(pool, schema)).transcript !== expected.transcript ||
          (await viewsChecksum(pool, schema)).summary !== expected.summary
        ) {
          expect(
            await viewsDiff(pool, schema, reference),
            `seed ${seed}: rows that differ from the reference (+ this order, - reference)`,
          ).toEqual([]);
        }
      }
      // and the shuffles did vary the winners: redelivered events were won by a later copy, and
      // the seeds disagree on which copy that was
      for (const won of winners)
        expect([...redelivered].filter((id) => won.get(id) !== 0).length).toBeGreaterThan(5);
      expect(
        [...redelivered].filter((id) => new Set(winners.map((w) => w.get(id))).size > 1).length,
      ).toBeGreaterThan(5);
      const { rows } = await pool.query(`select count(*)::int as n from "${reference}".chat_transcript`);
      expect(rows[0].n).toBeGreaterThan(10);
      // and the reference itself is right where the webhooks' copies differ in content (v2 chat_started
      // has no groups, chat_ended has them): every chat shows its group
      const groups = await pool.query<{ chat_id: string; group_ids: number[] }>(
        `select chat_id, group_ids from "${reference}".chat_summary order by chat_id`,
      );
      expect(groups.rows).toEqual(
        chats
          .map((c) => ({ chat_id: c.chatId, group_ids: [c.groupId] }))
          .sort((a, b) => a.chat_id.localeCompare(b.chat_id)),
      );
    });
  }
});
