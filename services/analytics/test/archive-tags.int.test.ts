import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { createTestDatabase, type TestDatabase } from '@livechat-pipeline/testkit';
import { parseArchiveThread, parseWebhook, type ChatDomainEvent } from '@livechat-pipeline/livechat';
import {
  expectedTagsOf,
  finalTagsKnowable,
  generateTagHistories,
  tagHistoryDeliveries,
  type TagHistory,
} from '@livechat-pipeline/traffic-simulator';
import { applyInTransaction, createProjectionSchema } from './support/projection-db.js';

// The tag merge rule of archive reads (migrations/0003_archive_tags.sql) over generated tag histories, each applied
// in three arrival orders with duplicates (packages/traffic-simulator tag-histories: tag / untag webhooks received
// in order or lost, archive reads anywhere among them). The view must not depend on the order, must be the rule's
// result, and must give the final tags when they can be known.

const org = '5b0c2a9e-3f52-4d1e-9d8a-0c6f3c1e7a11';
const START = 1_795_600_000_000_000;

/** The deliveries parsed as the normalizer would; the first copy of each event id applies, as in the consumer. */
function events(history: TagHistory, chatId: string, seed: number | null): ChatDomainEvent[] {
  const seen = new Set<string>();
  return tagHistoryDeliveries(history, org, chatId, seed)
    .flatMap((d, i) =>
      d.kind === 'webhook'
        ? parseWebhook(d.body, { rawEventId: `raw-${chatId}-${i}`, receivedAtMicros: d.receivedAt })
        : parseArchiveThread(d.chat, {
            rawEventId: `raw-${chatId}-${i}`,
            receivedAtMicros: d.readAt,
            tenantHint: org,
            archive: { readAtMicros: d.readAt, part: 1, parts: 1 },
          }),
    )
    .filter((e) => !seen.has(e.event_id) && seen.add(e.event_id) !== undefined);
}

let db: TestDatabase;
let pool: pg.Pool;

beforeAll(async () => {
  db = await createTestDatabase('analytics_archive_tags');
  pool = new pg.Pool({ connectionString: db.url, max: 2 });
  await createProjectionSchema(pool, 'p');
});
afterAll(async () => {
  await pool.end();
  await db.drop();
});

async function effectiveTags(): Promise<Map<string, string[]>> {
  const { rows } = await pool.query<{ chat_id: string; tags: string[] }>(
    `select chat_id, tags from p.thread_facts where cardinality(tags) > 0`,
  );
  return new Map(rows.map((r) => [r.chat_id, r.tags]));
}

describe('analytics: archive reads and tag changes in any order', () => {
  it('the reviewer cases: re-tag after untag after a read; a second read with the same tags as the first', async () => {
    const cases: Record<string, TagHistory> = {
      // read {} at 100; then tag a (lost), untag a, tag a again: the re-tag, received last, wins
      retag: {
        changes: [
          { at: START + 200, action: 'thread_tagged', tag: 'a', delivered: false },
          { at: START + 300, action: 'thread_untagged', tag: 'a', delivered: true },
          { at: START + 400, action: 'thread_tagged', tag: 'a', delivered: true },
        ],
        reads: [{ at: START + 100, tags: [], delivered: true }],
        final: ['a'],
      },
      // read {a} at 100; untag a at 200; re-tag a (lost) at 300; read {a} at 400: the second read wins
      reread: {
        changes: [
          { at: START + 50, action: 'thread_tagged', tag: 'a', delivered: false },
          { at: START + 200, action: 'thread_untagged', tag: 'a', delivered: true },
          { at: START + 300, action: 'thread_tagged', tag: 'a', delivered: false },
        ],
        reads: [
          { at: START + 100, tags: ['a'], delivered: true },
          { at: START + 400, tags: ['a'], delivered: true },
        ],
        final: ['a'],
      },
    };
    // webhooks first, then the reads in order: a reconciliation after the fact
    const all = Object.entries(cases).flatMap(([chatId, history]) => events(history, chatId, null));
    await applyInTransaction(pool, 'p', all, 500);
    const tags = await effectiveTags();
    expect(tags.get('retag')).toEqual(['a']);
    expect(tags.get('reread')).toEqual(['a']);
  });

  it('property: 200 generated histories, each applied in 3 arrival orders with duplicates', async () => {
    const histories = generateTagHistories(20261129, 200);
    const all = histories.flatMap((history, i) =>
      [0, 1, 2].flatMap((order) => events(history, `S${i}-${order}`, i * 3 + order)),
    );
    await applyInTransaction(pool, 'p', all, 1000);
    const tags = await effectiveTags();
    const knowable = { 'read-after-last': 0, 'changes-after-read': 0 };
    histories.forEach((history, i) => {
      const [first, ...rest] = [0, 1, 2].map((order) => tags.get(`S${i}-${order}`) ?? []);
      for (const other of rest) expect(other, `history ${i}: order`).toEqual(first);
      expect(first, `history ${i}: ${JSON.stringify(history)}`).toEqual(expectedTagsOf(history));
      const kind = finalTagsKnowable(history);
      if (kind !== null) {
        knowable[kind] += 1;
        expect(first, `history ${i}: final tags`).toEqual(history.final);
      }
    });
    expect(knowable['read-after-last']).toBeGreaterThan(30);
    expect(knowable['changes-after-read']).toBeGreaterThan(10);
  });
});
