import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createPostgresConsumer,
  type PostgresConsumer,
  type RuntimeEvent,
} from '@livechat-pipeline/postgres-consumer';
import { waitFor } from '@livechat-pipeline/testkit';
import { counterConsumer, type CounterEvent } from '../examples/counter-consumer.js';
import {
  counterEvents,
  counterFixture,
  kafkaClient,
  produceEvents,
  readCounts,
  type CounterFixture,
} from './support.js';

/** Lets the event loop run (socket reads, 'end' handlers) for a bounded time; no result is read from it. */
async function turnEventLoop(ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 10));
}

describe('a connection lost while the batch transaction is idle', () => {
  let fixture: CounterFixture;
  let consumer: PostgresConsumer<CounterEvent> | undefined;

  beforeAll(async () => {
    fixture = await counterFixture('conn-lost', 1);
  });
  afterAll(async () => {
    await consumer?.stop();
    await fixture.cleanup();
  });

  it('fails the batch retryably instead of crashing on an unhandled pg error, and the retry applies it once', async () => {
    const events: RuntimeEvent[] = [];
    const all = counterEvents('conn-lost', 20);
    await produceEvents(fixture.topic, all, 0);
    const counter = counterConsumer({ name: fixture.name, topics: [fixture.topic] });
    let terminated = false;
    consumer = createPostgresConsumer(
      {
        ...counter,
        handle: async (batch, tx) => {
          if (!terminated) {
            terminated = true;
            // when: the backend behind this transaction is killed while the client holds it idle
            const { rows } = await tx.query<{ pid: number }>('select pg_backend_pid() as pid');
            const pid = rows[0]!.pid;
            await fixture.pool.query('select pg_terminate_backend($1)', [pid]);
            await waitFor(
              async () =>
                (await fixture.pool.query('select 1 from pg_stat_activity where pid = $1', [pid]))
                  .rowCount === 0,
              { timeoutMs: 10_000, message: `backend ${pid} gone` },
            );
            // The server has closed the socket; give the client's socket its close before returning.
            await turnEventLoop(300);
          }
          await counter.handle(batch, tx);
        },
      },
      { kafka: kafkaClient(fixture.name), databaseUrl: fixture.db.url, onEvent: (e) => events.push(e) },
    );
    await consumer.start();

    // then: the batch failed retryably, and the retry applied every event exactly once
    await waitFor(async () => (await readCounts(fixture.pool, fixture.name)).rows === all.length, {
      timeoutMs: 60_000,
      message: `${all.length} events applied`,
    });
    expect(terminated).toBe(true);
    const failures = events.filter(
      (e): e is Extract<RuntimeEvent, { type: 'transient-failure' }> => e.type === 'transient-failure',
    );
    expect(failures.length).toBeGreaterThanOrEqual(1);
    expect(failures.every((f) => f.error.retryable)).toBe(true);
    expect(failures[0]!.error.code).toBe('CONSUMER_POSTGRES_UNAVAILABLE');
    expect(await readCounts(fixture.pool, fixture.name)).toEqual({
      rows: all.length,
      appliedTotal: all.length,
      maxApplied: 1,
    });
    const offsets = await fixture.pool.query<{ next_offset: string }>(
      `select next_offset from "${fixture.name}"._offsets where consumer = $1 and topic = $2 and partition = 0`,
      [fixture.name, fixture.topic],
    );
    expect(offsets.rows.map((r) => r.next_offset)).toEqual([String(all.length)]);
    expect(events.some((e) => e.type === 'dead-lettered')).toBe(false);
  });
});
