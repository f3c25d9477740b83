import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { waitFor } from '@livechat-pipeline/testkit';
import {
  readStoredOffset,
  type PostgresConsumer,
  type RuntimeEvent,
} from '@livechat-pipeline/postgres-consumer';
import {
  counterEvents,
  counterFixture,
  produceEvents,
  startCounter,
  type CounterFixture,
} from './support.js';
import type { CounterEvent } from '../examples/counter-consumer.js';

async function gauge(
  registry: Registry,
  name: string,
  labels: Record<string, string>,
): Promise<number | undefined> {
  const metric = registry.getSingleMetric(name);
  if (metric === undefined) return undefined;
  const { values } = await metric.get();
  const found = values.find((v) => Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want));
  return found?.value;
}

describe('lag and dead-letter topic size while the consumer is stuck', () => {
  let fixture: CounterFixture;
  let consumer: PostgresConsumer<CounterEvent> | undefined;
  let release: () => void = () => undefined;
  const stuck = new Promise<void>((resolve) => (release = resolve));

  beforeAll(async () => {
    fixture = await counterFixture('lagrefresh', 1);
  });
  afterAll(async () => {
    release();
    await consumer?.stop();
    await fixture.cleanup();
  });

  it('reports the lag per group and partition and the dead letters, though no batch completes', async () => {
    // given: five records, one of them poison, consumed by a member whose batch then hangs for good (after its
    // Postgres commit: offset 5 is stored and the poison record is on the dead-letter topic)
    await produceEvents(fixture.topic, [
      { id: 'e1', key: 'a' },
      { id: 'e2', key: 'a' },
      { id: 'p1', key: 'a', poison: true },
      { id: 'e3', key: 'a' },
      { id: 'e4', key: 'a' },
    ]);
    const registry = new Registry();
    consumer = startCounter(fixture, {
      groupId: `${fixture.name}-group`,
      metricsRegistry: registry,
      metricsRefreshIntervalMs: 200,
      hooks: {
        afterPostgresCommit: async ({ nextOffset }) => (BigInt(nextOffset) >= 5n ? stuck : undefined),
      },
    });
    await consumer.start();
    const position = { consumer: fixture.name, topic: fixture.topic, partition: 0 };
    await waitFor(async () => (await readStoredOffset(fixture.pool, fixture.name, position)) === 5n, {
      message: 'the first five records committed',
    });

    // when: seven more records arrive while the member is stuck
    await produceEvents(fixture.topic, counterEvents('late', 7));

    // then: its lag shows them, labelled with the group, topic and partition; the dead-letter topic holds one
    const labels = {
      consumer: fixture.name,
      group: `${fixture.name}-group`,
      topic: fixture.topic,
      partition: '0',
    };
    await waitFor(async () => (await gauge(registry, 'postgres_consumer_lag', labels)) === 7, {
      message: 'postgres_consumer_lag = 7 while stuck',
      timeoutMs: 10_000,
    });
    const dlq = { consumer: fixture.name, topic: consumer.options.deadLetterTopic };
    await waitFor(
      async () => (await gauge(registry, 'postgres_consumer_dead_letter_topic_records', dlq)) === 1,
      {
        message: 'postgres_consumer_dead_letter_topic_records = 1',
        timeoutMs: 10_000,
      },
    );
    expect(await readStoredOffset(fixture.pool, fixture.name, position)).toBe(5n);
  });
});

describe('a failing lag refresh', () => {
  let fixture: CounterFixture;
  let consumer: PostgresConsumer<CounterEvent> | undefined;

  beforeAll(async () => {
    fixture = await counterFixture('lagfail', 1);
  });
  afterAll(async () => {
    await consumer?.stop();
    await fixture.cleanup();
  });

  it('is reported once per outage, and its recovery once', async () => {
    // given: a running member whose refresh (every 100 ms) works
    const events: RuntimeEvent[] = [];
    const registry = new Registry();
    consumer = startCounter(fixture, {
      groupId: `${fixture.name}-group`,
      metricsRegistry: registry,
      metricsRefreshIntervalMs: 100,
      events,
    });
    await consumer.start();
    const labels = { consumer: fixture.name, topic: fixture.topic, partition: '0' };
    await waitFor(async () => (await gauge(registry, 'postgres_consumer_lag', labels)) === 0, {
      message: 'the first refresh',
      timeoutMs: 10_000,
    });
    const refreshEvents = () =>
      events.flatMap((e) =>
        (e.type === 'background-failure' || e.type === 'background-recovered') && e.task === 'metrics-refresh'
          ? [e.type]
          : [],
      );
    expect(refreshEvents()).toEqual([]);

    // when: the stored offsets cannot be read for at least 10 refreshes (a view that counts reads and fails)
    const schema = consumer.options.schema;
    await fixture.pool.query(`
      alter table "${schema}"._offsets rename to _offsets_kept;
      create sequence "${schema}".offset_reads;
      create function "${schema}".failing_offsets()
        returns table (consumer text, topic text, partition int, next_offset bigint) language plpgsql as $$
        begin perform nextval('"${schema}".offset_reads'); raise exception 'offsets unavailable'; end $$;
      create view "${schema}"._offsets as select * from "${schema}".failing_offsets();`);
    const reads = async () =>
      Number(
        (await fixture.pool.query(`select last_value from "${schema}".offset_reads`)).rows[0].last_value,
      );
    await waitFor(async () => (await reads()) >= 10, { message: '10 failed refreshes', timeoutMs: 10_000 });

    // then: one failure was reported
    expect(refreshEvents()).toEqual(['background-failure']);

    // and when the offsets are back: one recovery
    await fixture.pool.query(`
      drop view "${schema}"._offsets;
      alter table "${schema}"._offsets_kept rename to _offsets;`);
    await waitFor(() => refreshEvents().length === 2, { message: 'the recovery', timeoutMs: 10_000 });
    expect(refreshEvents()).toEqual(['background-failure', 'background-recovered']);
  });
});
