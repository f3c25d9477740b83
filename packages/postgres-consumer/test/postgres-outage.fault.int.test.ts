import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres, stopPostgres, waitFor } from '@livechat-pipeline/testkit';
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

describe('Postgres outage under load', () => {
  let fixture: CounterFixture;
  let consumer: PostgresConsumer<CounterEvent> | undefined;
  const TOTAL = 6_000;

  beforeAll(async () => {
    fixture = await counterFixture('outage', 2);
  });
  afterAll(async () => {
    await startPostgres();
    await consumer?.stop();
    await fixture.cleanup();
  });

  it('backs off while Postgres is down, loses nothing, applies nothing twice, and resumes by itself', async () => {
    const events: RuntimeEvent[] = [];
    const all = counterEvents('outage', TOTAL);
    await produceEvents(fixture.topic, all.slice(0, 2_000));
    consumer = startCounter(fixture, {
      events,
      maxBytesPerPartition: 8_192,
      connectionTimeoutMs: 2_000,
      statementTimeoutMs: 5_000,
      sessionTimeoutMs: 6_000,
      heartbeatIntervalMs: 1_000,
    });
    await consumer.start();
    await waitFor(async () => (await readCounts(fixture.pool, fixture.name)).rows >= 500, {
      timeoutMs: 60_000,
      message: '500 events applied',
    });

    // when: Postgres goes away while events keep arriving
    await stopPostgres();
    const outageStarted = Date.now();
    await produceEvents(fixture.topic, all.slice(2_000));
    // Hold the outage until the consumer has backed off through several attempts (~13 s of back-off, plus connect timeouts).
    await waitFor(() => events.some((e) => e.type === 'transient-failure' && e.attempt >= 7), {
      timeoutMs: 60_000,
      message: 'seven transient failures',
    });
    expect((await consumer.ready()).ok).toBe(false);
    // The scenario: Postgres gone for 30 s under load (this is the fault's length, not a sleep for a result).
    await waitFor(() => Date.now() - outageStarted >= 30_000, {
      timeoutMs: 60_000,
      intervalMs: 250,
      message: '30 s of outage',
    });
    await startPostgres();
    const outageMs = Date.now() - outageStarted;

    // then: it resumes by itself and every event is applied exactly once
    await waitFor(async () => (await readCounts(fixture.pool, fixture.name)).rows === TOTAL, {
      timeoutMs: 90_000,
      message: `${TOTAL} events applied`,
    });
    expect(await readCounts(fixture.pool, fixture.name)).toEqual({
      rows: TOTAL,
      appliedTotal: TOTAL,
      maxApplied: 1,
    });
    const failures = events.filter(
      (e): e is Extract<RuntimeEvent, { type: 'transient-failure' }> => e.type === 'transient-failure',
    );
    expect(failures.every((f) => f.error.retryable)).toBe(true);
    expect(failures.some((f) => f.error.code === 'CONSUMER_POSTGRES_UNAVAILABLE')).toBe(true);
    expect(events.some((e) => e.type === 'dead-lettered')).toBe(false);
    expect(outageMs).toBeGreaterThanOrEqual(30_000);
    // Heartbeats during the back-off kept the membership: an outage longer than the 6 s session
    // timeout caused no rebalance.
    expect(events.filter((e) => e.type === 'joined')).toHaveLength(1);
    await waitFor(async () => (await consumer!.ready()).ok, { message: 'ready again' });
  });
});
