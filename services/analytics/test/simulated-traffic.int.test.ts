import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { createTestDatabase, type TestDatabase } from '@livechat-pipeline/testkit';
import { applyInTransaction, createProjectionSchema, eventsFromDeliveries } from './support/projection-db.js';
import {
  Random,
  simulateTraffic,
  expectedAgentDaily,
  expectedDaily,
  expectedHourly,
  expectedTagDaily,
  rounded,
  sortRows,
  wilsonScore,
} from '@livechat-pipeline/traffic-simulator';
import {
  agentDailyOf,
  byThread,
  dailyOf,
  hourlyOf,
  tagDailyOf,
  threadFactsOf,
  viewChecksums,
} from './support/facts-query.js';

let db: TestDatabase;
let pool: pg.Pool;
let counter = 0;
async function freshSchema(): Promise<string> {
  const schema = `analytics_${++counter}`;
  await createProjectionSchema(pool, schema);
  return schema;
}

beforeAll(async () => {
  db = await createTestDatabase('analytics_sim');
  pool = new pg.Pool({ connectionString: db.url, max: 4 });
});
afterAll(async () => {
  await pool.end();
  await db.drop();
});

const traffic = {
  v3: simulateTraffic({
    seed: 71,
    chats: 40,
    format: 'v3',
    duplicateRate: 0.2,
    reorderRate: 0.2,
    reportFacts: true,
  }),
  v2: simulateTraffic({
    seed: 72,
    chats: 40,
    format: 'v2',
    duplicateRate: 0.2,
    reorderRate: 0.2,
    reportFacts: true,
  }),
};

describe('analytics: simulated traffic (duplicates, reordering) gives the simulator’s facts', () => {
  for (const format of ['v3', 'v2'] as const) {
    it(`${format}: every thread's facts, and the aggregates summed from those facts`, async () => {
      const { deliveries, expectedThreads } = traffic[format];
      // The traffic exercises what the reports are about.
      expect(expectedThreads.filter((f) => f.rating !== null).length).toBeGreaterThan(5);
      expect(expectedThreads.filter((f) => f.queued).length).toBeGreaterThan(2);
      expect(new Set(expectedThreads.map((f) => f.chatId)).size).toBeLessThan(
        expectedThreads.length + (format === 'v2' ? 1 : 0),
      );
      if (format === 'v3') {
        expect(expectedThreads.filter((f) => f.transfers > 0).length).toBeGreaterThan(2);
        expect(expectedThreads.filter((f) => f.leftQueue).length).toBeGreaterThan(0);
        expect(expectedThreads.filter((f) => f.startedFromGreeting).length).toBeGreaterThan(0);
        expect(new Set(expectedThreads.map((f) => f.chatId)).size).toBeLessThan(expectedThreads.length);
      }
      const schema = await freshSchema();
      await applyInTransaction(pool, schema, eventsFromDeliveries(deliveries), 25);

      expect(await threadFactsOf(pool, schema)).toEqual([...expectedThreads].sort(byThread));
      expect(sortRows(rounded(await dailyOf(pool, schema)))).toEqual(
        sortRows(rounded(expectedDaily(expectedThreads))),
      );
      expect(sortRows(rounded(await hourlyOf(pool, schema)))).toEqual(
        sortRows(rounded(expectedHourly(expectedThreads))),
      );
      expect(sortRows(rounded(await agentDailyOf(pool, schema)))).toEqual(
        sortRows(rounded(expectedAgentDaily(expectedThreads))),
      );
      expect(sortRows(await tagDailyOf(pool, schema))).toEqual(sortRows(expectedTagDaily(expectedThreads)));
      const ranking = await pool.query(
        `select agent_id, good, bad, score from "${schema}".agent_ranking order by agent_id`,
      );
      expect(ranking.rows.length).toBeGreaterThan(0);
      for (const row of ranking.rows) expect(row.score).toBeCloseTo(wilsonScore(row.good, row.bad)!, 12);
    });
  }

  it('v3: agent availability is the time between each agent’s routing statuses, split at midnight', async () => {
    const { deliveries, agentStatuses } = traffic.v3;
    const schema = await freshSchema();
    const events = eventsFromDeliveries(deliveries);
    await applyInTransaction(pool, schema, events, 25);
    // routing_status_set carries no time: each status is dated by its receipt (here: its emission + a few ms).
    const receivedAt = new Map(
      events
        .filter((e) => e.type === 'routing_status_set')
        .map((e) => {
          const body = e.body.routing_status_set;
          return [`${body.agent_id}/${body.status}`, e.received_at];
        }),
    );
    const expected = new Map<string, number>();
    for (const agent of new Set(agentStatuses.map((s) => s.agentId))) {
      const from = receivedAt.get(`${agent}/accepting_chats`)!;
      const to = receivedAt.get(`${agent}/not_accepting_chats`)!;
      expect(to).toBeGreaterThan(from);
      expected.set(agent, (to - from) / 1e6);
    }
    const { rows } = await pool.query<{ agent_id: string; seconds: number }>(
      `select agent_id, sum(accepting_chats_seconds)::float8 as seconds from "${schema}".agent_availability
       group by agent_id`,
    );
    expect(new Map(rows.map((r) => [r.agent_id, Number(r.seconds.toFixed(6))]))).toEqual(
      new Map([...expected].map(([a, s]) => [a, Number(s.toFixed(6))])),
    );
  });
});

describe('analytics: any order of arrival gives the same facts and aggregates', () => {
  for (const format of ['v3', 'v2'] as const) {
    it(`${format}: forward, reversed and shuffled arrival, and one batch (a rebuild) vs one event per transaction`, async () => {
      const events = eventsFromDeliveries(traffic[format].deliveries);
      const forward = await freshSchema();
      await applyInTransaction(pool, forward, events, 1);
      const expected = await viewChecksums(pool, forward);

      const reversed = await freshSchema();
      await applyInTransaction(pool, reversed, [...events].reverse(), 7);
      expect(await viewChecksums(pool, reversed)).toEqual(expected);

      const random = Random.derive(73, 'arrival');
      const shuffled = [...events];
      for (let i = shuffled.length - 1; i > 0; i--) {
        const j = random.int(0, i);
        [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
      }
      const shuffledSchema = await freshSchema();
      await applyInTransaction(pool, shuffledSchema, shuffled, 3);
      expect(await viewChecksums(pool, shuffledSchema)).toEqual(expected);

      const oneBatch = await freshSchema();
      await applyInTransaction(pool, oneBatch, events, events.length);
      expect(await viewChecksums(pool, oneBatch)).toEqual(expected);
      const { rows } = await pool.query(`select count(*)::int as n from "${forward}".thread_facts`);
      expect(rows[0].n).toBeGreaterThan(40);
    });
  }
});
