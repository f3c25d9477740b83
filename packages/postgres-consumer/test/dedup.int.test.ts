import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '@livechat-pipeline/testkit';
import {
  migrateConsumerSchema,
  readStoredOffset,
  type PostgresConsumer,
} from '@livechat-pipeline/postgres-consumer';
import { purgeExpiredEventIds } from '../src/dedup.js';
import { counterFixture, produceEvents, readCounts, startCounter, type CounterFixture } from './support.js';
import type { CounterEvent } from '../examples/counter-consumer.js';

describe('dedup by event id', () => {
  let fixture: CounterFixture;
  let consumer: PostgresConsumer<CounterEvent> | undefined;

  beforeAll(async () => {
    fixture = await counterFixture('dedup', 1);
  });
  afterAll(async () => {
    await consumer?.stop();
    await fixture.cleanup();
  });

  it('applies an event id once, whether the copy is in the same batch or a later one', async () => {
    consumer = startCounter(fixture);
    await consumer.start();
    // given: a batch holding the same id twice at different offsets
    await produceEvents(fixture.topic, [
      { id: 'a', key: 'x' },
      { id: 'b', key: 'x' },
      { id: 'a', key: 'x' },
    ]);
    await waitFor(
      async () =>
        (await readStoredOffset(fixture.pool, fixture.name, {
          consumer: fixture.name,
          topic: fixture.topic,
          partition: 0,
        })) === 3n,
      { message: 'first batch stored' },
    );
    // when: LiveChat redelivers 'b' later (a later batch, another offset)
    await produceEvents(fixture.topic, [
      { id: 'b', key: 'x' },
      { id: 'c', key: 'x' },
    ]);
    await waitFor(
      async () =>
        (await readStoredOffset(fixture.pool, fixture.name, {
          consumer: fixture.name,
          topic: fixture.topic,
          partition: 0,
        })) === 5n,
      { message: 'second batch stored' },
    );
    // then: a, b, c applied exactly once each; the key total counts 3, not 5
    expect(await readCounts(fixture.pool, fixture.name)).toEqual({ rows: 3, appliedTotal: 3, maxApplied: 1 });
    const { rows } = await fixture.pool.query<{ n: string }>(
      `select n from "${fixture.name}".totals where key = 'x'`,
    );
    expect(rows[0]?.n).toBe('3');
    const dedup = await fixture.pool.query(`select event_id from "${fixture.name}"._dedup order by event_id`);
    expect(dedup.rows.map((r: { event_id: string }) => r.event_id)).toEqual(['a', 'b', 'c']);
  });

  it('purges dedup records older than the retention window only', async () => {
    await migrateConsumerSchema({ databaseUrl: fixture.db.url, schema: fixture.name });
    await fixture.pool.query(
      `insert into "${fixture.name}"._dedup (consumer, event_id, seen_at) values ($1, 'old', now() - interval '25 hours')`,
      [fixture.name],
    );
    const deleted = await purgeExpiredEventIds(fixture.pool, fixture.name, fixture.name, 24 * 60 * 60 * 1000);
    expect(deleted).toBe(1);
    const left = await fixture.pool.query(`select count(*)::int as n from "${fixture.name}"._dedup`);
    expect(left.rows[0]).toEqual({ n: 3 });
  });
});
