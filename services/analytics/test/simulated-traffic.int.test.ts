import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { createTestDatabase, type TestDatabase } from '@livechat-pipeline/testkit';
import {
  applyInTransaction,
  createProjectionSchema,
  eventCopies,
  eventsFromDeliveries,
  viewDiff,
} from './support/projection-db.js';
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
      // a returning customer queued again (v2: the queue names the visitor, not the chat)
      expect(
        traffic[format].chats.some((c) => c.report?.previousThreadId != null && c.report.queue !== null),
      ).toBe(true);
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

  it('v3: agent availability is the time between each agent’s routing statuses (one repeated), split at midnight', async () => {
    const { deliveries, agentStatuses } = traffic.v3;
    expect(agentStatuses.filter((s) => s.status === 'accepting_chats').length).toBeGreaterThan(
      new Set(agentStatuses.map((s) => s.agentId)).size,
    );
    const schema = await freshSchema();
    const events = eventsFromDeliveries(deliveries);
    await applyInTransaction(pool, schema, events, 25);
    // routing_status_set carries no time: each status is dated by its receipt. The expectation walks each agent's
    // statuses in receipt order (retried copies included: they repeat the status in force) and sums the time
    // from each accepting status to the agent's next status.
    const received = new Map<string, { status: string; at: number }[]>();
    for (const e of events) {
      if (e.type !== 'routing_status_set') continue;
      const { agent_id: agent, status } = e.body.routing_status_set;
      received.set(agent!, [...(received.get(agent!) ?? []), { status: status!, at: e.received_at }]);
    }
    const expected = new Map<string, number>();
    for (const [agent, statuses] of received) {
      statuses.sort((a, b) => a.at - b.at);
      let seconds = 0;
      statuses.forEach((s, i) => {
        if (s.status === 'accepting_chats' && i + 1 < statuses.length)
          seconds += (statuses[i + 1]!.at - s.at) / 1e6;
      });
      expect(statuses.at(-1)!.status).toBe('offline');
      expected.set(agent, seconds);
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

describe('analytics: any order of arrival, with duplicates, gives the same facts and aggregates', () => {
  for (const format of ['v3', 'v2'] as const) {
    it(`${format}: forward, reversed and shuffled arrival with every third webhook twice, and one batch (a rebuild) vs one event per transaction`, async () => {
      // Each webhook once, in emission order (receipt times follow emission), one event per transaction.
      const webhooks = traffic[format].deliveries
        .filter((d) => d.attempt === 1)
        .sort((a, b) => a.emissionIndex - b.emissionIndex);
      const once = eventCopies(webhooks, () => 1);
      const forward = await freshSchema();
      await applyInTransaction(pool, forward, once, 1);
      const expected = await viewChecksums(pool, forward);
      const same = async (schema: string) => {
        const got = await viewChecksums(pool, schema);
        const diffs: string[] = [];
        for (const view of Object.keys(expected))
          if (got[view] !== expected[view]) diffs.push(...(await viewDiff(pool, schema, forward, view)));
        expect(diffs).toEqual([]);
      };

      // Every copy reaches the projection (no dedup): the projection alone must make a duplicate harmless.
      const copies = eventCopies(webhooks, (i) => (i % 3 === 0 ? 2 : 1));
      expect(copies.length).toBeGreaterThan(once.length);
      const reversed = await freshSchema();
      await applyInTransaction(pool, reversed, [...copies].reverse(), 20);
      await same(reversed);

      const random = Random.derive(73, 'arrival');
      const shuffled = [...copies];
      for (let i = shuffled.length - 1; i > 0; i--) {
        const j = random.int(0, i);
        [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
      }
      const shuffledSchema = await freshSchema();
      await applyInTransaction(pool, shuffledSchema, shuffled, 10);
      await same(shuffledSchema);

      const oneBatch = await freshSchema();
      await applyInTransaction(pool, oneBatch, copies, copies.length);
      await same(oneBatch);
      const { rows } = await pool.query(`select count(*)::int as n from "${forward}".thread_facts`);
      expect(rows[0].n).toBeGreaterThan(40);
    });
  }
});
