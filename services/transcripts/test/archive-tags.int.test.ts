import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { createTestDatabase, type TestDatabase } from '@livechat-pipeline/testkit';
import { parseArchiveThread, parseWebhook, type ChatDomainEvent } from '@livechat-pipeline/livechat';
import { applyInTransaction, createProjectionSchema } from './support/projection-db.js';

// The tag merge rule of archive reads (migrations/0003_archive_tags.sql), over every interleaving we can generate:
// a thread's tags change (tag / untag at times t_i); each change's webhook is received at t_i + 1 or lost, and a
// repeated change (the same tag tagged twice) has the same event id, so only its first copy applies; archive reads
// at T_j see the tags as of T_j and are applied anywhere among the webhooks (which keep their receipt order: one
// partition), some twice. Then, per tag, the latest fact wins: the newest read unless a change was received after
// it, then the later of tag and untag. The view must not depend on where the reads and copies land, must give the
// final tags when the newest read follows the last change, and must give them when every change after it arrived.

const org = '5b0c2a9e-3f52-4d1e-9d8a-0c6f3c1e7a11';
const TAGS = ['a', 'b'] as const;
const START = 1_795_600_000_000_000;

interface Op {
  readonly at: number;
  readonly action: 'thread_tagged' | 'thread_untagged';
  readonly tag: string;
  readonly delivered: boolean;
}
interface Read {
  readonly at: number;
  readonly tags: readonly string[];
  readonly delivered: boolean;
}
interface Scenario {
  readonly ops: readonly Op[];
  readonly reads: readonly Read[];
  readonly final: readonly string[];
}

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function scenario(random: () => number): Scenario {
  const state = new Set<string>();
  const ops: Op[] = [];
  const reads: Read[] = [];
  let at = START + 1_000;
  const count = 2 + Math.floor(random() * 6);
  for (let i = 0; i < count; i++) {
    if (random() < 0.35) reads.push({ at: at + 5, tags: [...state].sort(), delivered: random() < 0.8 });
    at += 10;
    const tag = TAGS[Math.floor(random() * TAGS.length)]!;
    const action = state.has(tag) ? 'thread_untagged' : 'thread_tagged';
    if (action === 'thread_tagged') state.add(tag);
    else state.delete(tag);
    ops.push({ at, action, tag, delivered: random() < 0.7 });
  }
  if (random() < 0.5) reads.push({ at: at + 5, tags: [...state].sort(), delivered: random() < 0.8 });
  return { ops, reads, final: [...state].sort() };
}

const v3 = (action: string, payload: unknown) => ({
  webhook_id: 'wh',
  secret_key: 'fixture-secret',
  action,
  organization_id: org,
  payload,
  additional_data: {},
});

/** The event groups of a scenario's thread: its start, each delivered webhook, each delivered read. */
function groups(s: Scenario, chatId: string) {
  const threadId = `T-${chatId}`;
  const start = parseWebhook(
    v3('incoming_chat', {
      chat: {
        id: chatId,
        users: [],
        thread: { id: threadId, created_at: '2026-11-25T10:00:00.000000Z', events: [], tags: [] },
      },
    }),
    { rawEventId: `start-${chatId}`, receivedAtMicros: START },
  );
  const webhooks = s.ops
    .filter((op) => op.delivered)
    .map((op, i) =>
      parseWebhook(v3(op.action, { chat_id: chatId, thread_id: threadId, tag: op.tag }), {
        rawEventId: `wh-${chatId}-${i}`,
        receivedAtMicros: op.at + 1,
      }),
    );
  const reads = s.reads
    .filter((read) => read.delivered)
    .map((read) =>
      parseArchiveThread(
        {
          id: chatId,
          users: [],
          thread: {
            id: threadId,
            active: true,
            created_at: '2026-11-25T10:00:00.000000Z',
            tags: read.tags,
            events: [],
          },
        },
        {
          rawEventId: `read-${chatId}-${read.at}`,
          receivedAtMicros: read.at,
          tenantHint: org,
          archive: { readAtMicros: read.at, part: 1, parts: 1 },
        },
      ),
    );
  return { start, webhooks, reads };
}

/** One arrival order: webhooks in receipt order, the reads anywhere among them, some groups twice; first copy wins. */
function arrival(g: ReturnType<typeof groups>, random: () => number): ChatDomainEvent[] {
  const sequence: ChatDomainEvent[][] = [g.start, ...g.webhooks];
  for (const read of g.reads) sequence.splice(Math.floor(random() * (sequence.length + 1)), 0, read);
  for (const group of [...g.webhooks, ...g.reads]) {
    if (random() < 0.3) {
      const at = Math.floor(random() * (sequence.length + 1));
      sequence.splice(Math.max(at, sequence.indexOf(group) + 1), 0, group);
    }
  }
  const seen = new Set<string>();
  return sequence.flat().filter((e) => !seen.has(e.event_id) && seen.add(e.event_id) !== undefined);
}

/** The rule, stated over what a consumer keeps: the first copy of each fact id, the newest read. */
function expectedTags(s: Scenario): string[] {
  const applied = new Map<string, { action: Op['action']; at: number }>();
  for (const op of s.ops) {
    const id = `${op.action}/${op.tag}`;
    if (op.delivered && !applied.has(id)) applied.set(id, { action: op.action, at: op.at + 1 });
  }
  const newest = s.reads.filter((r) => r.delivered).sort((x, y) => y.at - x.at)[0];
  return TAGS.filter((tag) => {
    const tagged = applied.get(`thread_tagged/${tag}`)?.at;
    const untagged = applied.get(`thread_untagged/${tag}`)?.at;
    if (newest === undefined) return tagged !== undefined && untagged === undefined;
    // thread_started of the read that won the dedup lists its tags as tagged at its read time: never after a read
    const lastTag = tagged !== undefined && tagged > newest.at ? tagged : undefined;
    const lastUntag = untagged !== undefined && untagged > newest.at ? untagged : undefined;
    if (lastTag === undefined && lastUntag === undefined) return newest.tags.includes(tag);
    return lastTag !== undefined && (lastUntag === undefined || lastTag > lastUntag);
  });
}

let db: TestDatabase;
let pool: pg.Pool;

beforeAll(async () => {
  db = await createTestDatabase('archive_tags');
  pool = new pg.Pool({ connectionString: db.url, max: 2 });
  await createProjectionSchema(pool, 'p');
});
afterAll(async () => {
  await pool.end();
  await db.drop();
});

async function effectiveTags(): Promise<Map<string, string[]>> {
  const { rows } = await pool.query<{ chat_id: string; tags: string[] }>(
    `select chat_id, array_agg(tag order by tag) as tags from p.thread_effective_tags group by chat_id`,
  );
  return new Map(rows.map((r) => [r.chat_id, r.tags]));
}

describe('transcripts: archive reads and tag changes in any order', () => {
  it('the reviewer cases: re-tag after untag after a read; a second read with the same tags as the first', async () => {
    // 1. read {} at 100; then tag a (lost), untag a, tag a again: the re-tag, received last, wins.
    // 2. read {a} at 100; untag a at 200; re-tag a (lost) at 300; read {a} at 400: the second read wins.
    const cases: Record<string, Scenario> = {
      retag: {
        ops: [
          { at: START + 200, action: 'thread_tagged', tag: 'a', delivered: false },
          { at: START + 300, action: 'thread_untagged', tag: 'a', delivered: true },
          { at: START + 400, action: 'thread_tagged', tag: 'a', delivered: true },
        ],
        reads: [{ at: START + 100, tags: [], delivered: true }],
        final: ['a'],
      },
      reread: {
        ops: [
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
    const events = Object.entries(cases).flatMap(([chatId, s]) => {
      const g = groups(s, chatId);
      // webhooks first, then the reads in order: the order of a reconciliation after the fact
      const seen = new Set<string>();
      return [g.start, ...g.webhooks, ...g.reads]
        .flat()
        .filter((e) => !seen.has(e.event_id) && seen.add(e.event_id) !== undefined);
    });
    await applyInTransaction(pool, 'p', events, 500);
    const tags = await effectiveTags();
    expect(tags.get('retag')).toEqual(['a']);
    expect(tags.get('reread')).toEqual(['a']);
  });

  it('property: 200 generated histories, each applied in 3 arrival orders with duplicates', async () => {
    const random = rng(20261129);
    const scenarios = Array.from({ length: 200 }, () => scenario(random));
    const events: ChatDomainEvent[] = [];
    scenarios.forEach((s, i) => {
      for (let order = 0; order < 3; order++) events.push(...arrival(groups(s, `S${i}-${order}`), random));
    });
    await applyInTransaction(pool, 'p', events, 1000);
    const tags = await effectiveTags();
    let newestAfterLast = 0;
    let allAfterNewest = 0;
    scenarios.forEach((s, i) => {
      const results = [0, 1, 2].map((order) => tags.get(`S${i}-${order}`) ?? []);
      // the same whatever the order and the duplicates, and the rule's result
      expect(results[1], `scenario ${i}`).toEqual(results[0]);
      expect(results[2], `scenario ${i}`).toEqual(results[0]);
      expect(results[0], `scenario ${i}: ${JSON.stringify(s)}`).toEqual(expectedTags(s));
      const newest = s.reads.filter((r) => r.delivered).sort((x, y) => y.at - x.at)[0];
      const lastOp = s.ops.at(-1)!.at;
      // a read after the last change gives the final tags, whatever was lost before it
      if (newest !== undefined && newest.at > lastOp) {
        newestAfterLast += 1;
        expect(results[0], `scenario ${i}`).toEqual(s.final);
      }
      // every change after the newest read arrived, and no change repeats one (same action, same tag): final tags
      const after = s.ops.filter((op) => newest !== undefined && op.at > newest.at);
      const ids = s.ops.map((op) => `${op.action}/${op.tag}`);
      if (
        newest !== undefined &&
        after.length > 0 &&
        after.every((op) => op.delivered) &&
        new Set(ids).size === ids.length
      ) {
        allAfterNewest += 1;
        expect(results[0], `scenario ${i}`).toEqual(s.final);
      }
    });
    expect(newestAfterLast).toBeGreaterThan(30);
    expect(allAfterNewest).toBeGreaterThan(10);
  });
});
