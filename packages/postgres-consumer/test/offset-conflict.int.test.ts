import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { waitFor } from '@livechat-pipeline/testkit';
import {
  createPostgresConsumer,
  readAllStoredOffsets,
  type PostgresConsumer,
  type RuntimeEvent,
} from '@livechat-pipeline/postgres-consumer';
import { counterConsumer, type CounterEvent } from '../examples/counter-consumer.js';
import {
  counterEvents,
  counterFixture,
  kafkaClient,
  produceEvents,
  readCounts,
  startCounter,
  type CounterFixture,
} from './support.js';

/**
 * A counter member whose `decode` can be made to hold the next fetched batch: the runtime has
 * already taken the stored offset it will compare-and-set against, and has not opened its
 * transaction yet. While it is held, someone else moves the offset; then it is let go.
 */
function heldMember(
  fixture: CounterFixture,
  groupId: string,
  events: RuntimeEvent[],
): {
  member: PostgresConsumer<CounterEvent>;
  hold(): void;
  heldOffsets(): readonly string[];
  release(): void;
} {
  const counter = counterConsumer({ name: fixture.name, topics: [fixture.topic] });
  let armed = false;
  const held: string[] = [];
  let open: () => void = () => undefined;
  let opened = Promise.resolve();
  const member = createPostgresConsumer(
    {
      ...counter,
      decode: async (message, origin) => {
        if (armed) {
          held.push(origin.offset);
          await opened;
        }
        return counter.decode(message, origin);
      },
    },
    {
      kafka: kafkaClient(`${fixture.name}-${groupId}`),
      databaseUrl: fixture.db.url,
      groupId,
      onEvent: (e) => events.push(e),
    },
  );
  return {
    member,
    hold() {
      opened = new Promise((resolve) => (open = resolve));
      armed = true;
    },
    heldOffsets: () => held,
    release() {
      armed = false;
      open();
    },
  };
}

async function storedOffset(fixture: CounterFixture): Promise<bigint | undefined> {
  return (await readAllStoredOffsets(fixture.pool, fixture.name, fixture.name)).get(`${fixture.topic}:0`);
}

async function conflictCount(member: PostgresConsumer<CounterEvent>): Promise<number> {
  const metric = await member.metricsRegistry
    .getSingleMetric('postgres_consumer_offset_conflicts_total')
    ?.get();
  return (metric?.values ?? []).reduce((sum, v) => sum + v.value, 0);
}

const applied = (list: readonly RuntimeEvent[]): number =>
  list.reduce((sum, e) => sum + (e.type === 'batch-committed' ? e.applied : 0), 0);

describe('offset compare-and-set conflicts', () => {
  let fixture: CounterFixture;
  const running: PostgresConsumer<CounterEvent>[] = [];

  beforeEach(async () => {
    fixture = await counterFixture('cas', 1);
  });
  afterEach(async () => {
    for (const m of running.splice(0)) await m.stop();
    await fixture.cleanup();
  });

  it('two members on one partition: the stale one rolls back, its old offset never lands, the stream goes on', async () => {
    const events = counterEvents('cas2', 200);
    const eventsA: RuntimeEvent[] = [];
    const eventsB: RuntimeEvent[] = [];
    // given: member A (group a) has applied the first 50 events
    const a = heldMember(fixture, `${fixture.name}-a`, eventsA);
    running.push(a.member);
    await produceEvents(fixture.topic, events.slice(0, 50));
    await a.member.start();
    await waitFor(async () => (await storedOffset(fixture)) === 50n, {
      timeoutMs: 60_000,
      message: 'A stored offset 50',
    });

    // and A fetched the next records and stalls on them, expecting the stored offset to be 50
    a.hold();
    await produceEvents(fixture.topic, events.slice(50, 100));
    await waitFor(() => a.heldOffsets().length > 0, { timeoutMs: 30_000, message: 'A holds a batch' });
    expect(a.heldOffsets()[0]).toBe('50');
    const heldEnd = BigInt(a.heldOffsets()[a.heldOffsets().length - 1]!) + 1n;

    // when: member B (the same consumer in another group, as a member that was given the partition
    // while A was stalled) applies all of it and more, moving the stored offset past A's batch
    await produceEvents(fixture.topic, events.slice(100, 150));
    const b = startCounter(fixture, { groupId: `${fixture.name}-b`, events: eventsB });
    running.push(b);
    await b.start();
    await waitFor(async () => (await storedOffset(fixture)) === 150n, {
      timeoutMs: 60_000,
      message: 'B stored offset 150',
    });
    await b.stop();
    expect(applied(eventsB)).toBe(100);
    expect(heldEnd).toBeLessThan(150n);

    // and A is let go with its stale expectation
    a.release();

    // then: A's compare-and-set fails, its transaction rolls back and says so (event + metric)
    const conflict = await waitFor(() => eventsA.find((e) => e.type === 'offset-conflict'), {
      timeoutMs: 30_000,
      message: 'A reports an offset conflict',
    });
    expect(conflict).toMatchObject({ topic: fixture.topic, partition: 0, expected: '50' });
    expect(await conflictCount(a.member)).toBe(1);
    // the stale offset did not land: Postgres still has B's, nothing moved backwards
    expect(await storedOffset(fixture)).toBe(150n);
    expect(applied(eventsA)).toBe(50);
    expect(await readCounts(fixture.pool, fixture.name)).toEqual({
      rows: 150,
      appliedTotal: 150,
      maxApplied: 1,
    });

    // and the stream goes on: A re-reads the stored offset, skips what B applied, applies the rest
    await produceEvents(fixture.topic, events.slice(150));
    await waitFor(async () => (await storedOffset(fixture)) === 200n, {
      timeoutMs: 60_000,
      message: 'A stored offset 200',
    });
    expect(applied(eventsA)).toBe(100);
    expect(
      eventsA
        .filter((e) => e.type === 'batch-committed')
        .every((e) => e.type === 'batch-committed' && e.duplicates === 0),
    ).toBe(true);
    expect(await readCounts(fixture.pool, fixture.name)).toEqual({
      rows: 200,
      appliedTotal: 200,
      maxApplied: 1,
    });
    const { rows } = await fixture.pool.query<{ n: string }>(
      `select sum(n)::text as n from "${fixture.name}".totals`,
    );
    expect(rows[0]?.n).toBe('200');
  });

  it('a writer that moved the offset behind a member’s back: the member’s applied effects are rolled back with its batch', async () => {
    const events = counterEvents('casw', 150);
    const eventsA: RuntimeEvent[] = [];
    // given: member A has applied the first 50 events
    const a = heldMember(fixture, fixture.name, eventsA);
    running.push(a.member);
    await produceEvents(fixture.topic, events.slice(0, 50));
    await a.member.start();
    await waitFor(async () => (await storedOffset(fixture)) === 50n, {
      timeoutMs: 60_000,
      message: 'A stored offset 50',
    });

    // and it holds a batch of 50 new events, expecting offset 50
    a.hold();
    await produceEvents(fixture.topic, events.slice(50, 100));
    await waitFor(() => a.heldOffsets().length === 50, {
      timeoutMs: 30_000,
      message: 'A holds the 50 new events',
    });

    // when: another writer's transaction stores offset 100 for the partition (it claims those
    // records; nobody has applied them here, so only the compare-and-set can stop A)
    await fixture.pool.query(
      `update "${fixture.name}"._offsets set next_offset = 100 where consumer = $1 and topic = $2 and partition = 0`,
      [fixture.name, fixture.topic],
    );
    a.release();

    // then: A's handler ran on fresh events, but the compare-and-set fails and everything it wrote
    // in that transaction -- effects and dedup claims -- is rolled back
    const conflict = await waitFor(() => eventsA.find((e) => e.type === 'offset-conflict'), {
      timeoutMs: 30_000,
      message: 'A reports an offset conflict',
    });
    expect(conflict).toMatchObject({ topic: fixture.topic, partition: 0, expected: '50' });
    expect(await conflictCount(a.member)).toBe(1);
    expect(await storedOffset(fixture)).toBe(100n);
    expect(await readCounts(fixture.pool, fixture.name)).toEqual({
      rows: 50,
      appliedTotal: 50,
      maxApplied: 1,
    });
    const claims = await fixture.pool.query<{ n: string }>(
      `select count(*)::text as n from "${fixture.name}"._dedup where consumer = $1`,
      [fixture.name],
    );
    expect(claims.rows[0]?.n).toBe('50');

    // and the stream goes on from the offset the other writer stored
    await produceEvents(fixture.topic, events.slice(100));
    await waitFor(async () => (await storedOffset(fixture)) === 150n, {
      timeoutMs: 60_000,
      message: 'A stored offset 150',
    });
    const { rows } = await fixture.pool.query<{ event_id: string }>(
      `select event_id from "${fixture.name}".counts order by event_id`,
    );
    expect(rows.map((r) => r.event_id)).toEqual(
      [...events.slice(0, 50), ...events.slice(100)].map((e) => e.id).sort(),
    );
    expect(await readCounts(fixture.pool, fixture.name)).toMatchObject({ rows: 100, maxApplied: 1 });
  });
});
