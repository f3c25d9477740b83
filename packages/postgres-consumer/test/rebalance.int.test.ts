import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '@livechat-pipeline/testkit';
import type { PostgresConsumer, RuntimeEvent } from '@livechat-pipeline/postgres-consumer';
import {
  counterEvents,
  counterFixture,
  produceEvents,
  readCounts,
  startCounter,
  type CounterFixture,
} from './support.js';
import type { CounterEvent } from '../examples/counter-consumer.js';

describe('two members and a rebalance mid-stream', () => {
  let fixture: CounterFixture;
  const members: PostgresConsumer<CounterEvent>[] = [];
  const TOTAL = 10_000;

  beforeAll(async () => {
    fixture = await counterFixture('rebalance', 4);
  });
  afterAll(async () => {
    for (const m of members) await m.stop();
    await fixture.cleanup();
  });

  it('applies each of 10k events exactly once', async () => {
    const eventsA: RuntimeEvent[] = [];
    const eventsB: RuntimeEvent[] = [];
    // Small fetches keep member A busy long enough for B to join in the middle.
    const tuning = { maxBytesPerPartition: 8_192, sessionTimeoutMs: 10_000, heartbeatIntervalMs: 500 };
    const events = counterEvents('rebalance', TOTAL);
    // given: the first half is there and member A is consuming it
    await produceEvents(fixture.topic, events.slice(0, TOTAL / 2));
    const a = startCounter(fixture, { ...tuning, events: eventsA });
    members.push(a);
    await a.start();
    await waitFor(async () => (await readCounts(fixture.pool, fixture.name)).rows >= 1_000, {
      timeoutMs: 60_000,
      message: 'A applied 1000 events',
    });

    // when: member B joins while A is mid-stream and the second half keeps arriving
    const b = startCounter(fixture, { ...tuning, events: eventsB });
    members.push(b);
    await b.start();
    // The second half is produced once B holds partitions, so the stream certainly spans the rebalance.
    await waitFor(
      () => eventsB.some((e) => e.type === 'joined' && Object.values(e.assignment).some((p) => p.length > 0)),
      { timeoutMs: 60_000, message: 'B got partitions' },
    );
    expect((await readCounts(fixture.pool, fixture.name)).rows).toBeLessThan(TOTAL);
    await produceEvents(fixture.topic, events.slice(TOTAL / 2));

    // then: everything is applied, each event once
    await waitFor(async () => (await readCounts(fixture.pool, fixture.name)).rows === TOTAL, {
      timeoutMs: 90_000,
      message: `${TOTAL} events applied`,
    });
    expect(await readCounts(fixture.pool, fixture.name)).toEqual({
      rows: TOTAL,
      appliedTotal: TOTAL,
      maxApplied: 1,
    });
    const { rows } = await fixture.pool.query<{ n: string }>(
      `select sum(n)::text as n from "${fixture.name}".totals`,
    );
    expect(rows[0]?.n).toBe(String(TOTAL));
    // and both members did part of the work after the rebalance
    const applied = (list: RuntimeEvent[]): number =>
      list.reduce((sum, e) => sum + (e.type === 'batch-committed' ? e.applied : 0), 0);
    expect(applied(eventsB)).toBeGreaterThan(0);
    expect(applied(eventsA) + applied(eventsB)).toBe(TOTAL);
    expect(eventsA.filter((e) => e.type === 'joined').length).toBeGreaterThanOrEqual(2);
  });
});
