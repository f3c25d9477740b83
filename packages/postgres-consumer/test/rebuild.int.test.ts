import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '@livechat-pipeline/testkit';
import { readAllStoredOffsets, rebuild, type ProgressSnapshot } from '@livechat-pipeline/postgres-consumer';
import { counterConsumer } from '../examples/counter-consumer.js';
import {
  counterEvents,
  counterFixture,
  kafkaClient,
  produceEvents,
  readCounts,
  startCounter,
  tablesChecksum,
  type CounterFixture,
} from './support.js';

describe('rebuild', () => {
  let fixture: CounterFixture;
  const TOTAL = 4_000;

  beforeAll(async () => {
    fixture = await counterFixture('rebuild', 3);
  });
  afterAll(async () => {
    await fixture.cleanup();
  });

  it('gives the same tables as incremental processing, and a restarted rebuild resumes without truncating', async () => {
    // given: tables built incrementally, in two waves, with redelivered ids among them
    const events = counterEvents('rebuild', TOTAL);
    const redelivered = events.slice(0, 300);
    const incremental = startCounter(fixture, { maxBytesPerPartition: 16_384 });
    await incremental.start();
    await produceEvents(fixture.topic, events.slice(0, TOTAL / 2));
    await produceEvents(fixture.topic, [...events.slice(TOTAL / 2), ...redelivered]);
    const expectedStored = BigInt(TOTAL + redelivered.length);
    const storedTotal = async (): Promise<bigint> =>
      [...(await readAllStoredOffsets(fixture.pool, fixture.name, fixture.name)).values()].reduce(
        (a, b) => a + b,
        0n,
      );
    await waitFor(async () => (await storedTotal()) === expectedStored, {
      timeoutMs: 60_000,
      message: 'incremental run caught up',
    });
    await incremental.stop();
    expect(await readCounts(fixture.pool, fixture.name)).toEqual({
      rows: TOTAL,
      appliedTotal: TOTAL,
      maxApplied: 1,
    });
    const incrementalChecksum = await tablesChecksum(fixture.pool, fixture.name);

    // when: the consumer is rebuilt from the earliest offsets
    const progress: ProgressSnapshot[] = [];
    const definition = counterConsumer({ name: fixture.name, topics: [fixture.topic] });
    const options = {
      kafka: kafkaClient('rebuild'),
      databaseUrl: fixture.db.url,
      pollIntervalMs: 100,
      onProgress: (p: ProgressSnapshot) => progress.push(p),
    };
    const result = await rebuild(definition, options);

    // then: same contents, progress counted up to the high watermarks, marker gone
    expect(result).toMatchObject({ resumed: false, total: TOTAL + redelivered.length });
    expect(await tablesChecksum(fixture.pool, fixture.name)).toBe(incrementalChecksum);
    expect(progress[0]?.done).toBe(0); // the truncate reset everything
    expect(progress.at(-1)).toMatchObject({
      done: TOTAL + redelivered.length,
      total: TOTAL + redelivered.length,
    });
    expect((await fixture.pool.query(`select * from "${fixture.name}"._rebuild`)).rowCount).toBe(0);

    // when: a rebuild was interrupted after its truncate (the marker is still there)
    await fixture.pool.query(`insert into "${fixture.name}"._rebuild (consumer) values ($1)`, [fixture.name]);
    const resumed = await rebuild(definition, options);
    // then: it continues from the stored offsets instead of starting over
    expect(resumed.resumed).toBe(true);
    expect(await tablesChecksum(fixture.pool, fixture.name)).toBe(incrementalChecksum);
    expect((await fixture.pool.query(`select * from "${fixture.name}"._rebuild`)).rowCount).toBe(0);
  });
});
