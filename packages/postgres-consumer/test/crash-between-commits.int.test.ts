import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stackEndpoints, waitFor } from '@livechat-pipeline/testkit';
import { readAllStoredOffsets } from '@livechat-pipeline/postgres-consumer';
import {
  counterEvents,
  counterFixture,
  kafkaClient,
  produceEvents,
  readCounts,
  type CounterFixture,
} from './support.js';

const fixtureScript = fileURLToPath(new URL('./fixtures/counter-process.ts', import.meta.url));

interface ChildRun {
  readonly child: ChildProcess;
  readonly exited: Promise<NodeJS.Signals | number | null>;
  /** The JSON lines the child printed (runtime events and its own "first-decoded" lines). */
  lines(): Record<string, unknown>[];
}

function runCounter(fixture: CounterFixture, extraEnv: Record<string, string>): ChildRun {
  let output = '';
  const child = spawn(process.execPath, ['--import', 'tsx', fixtureScript], {
    env: {
      ...process.env,
      KAFKA_BROKERS: stackEndpoints().kafkaBrokers.join(','),
      DATABASE_URL: fixture.db.url,
      CONSUMER_NAME: fixture.name,
      TOPIC: fixture.topic,
      ...extraEnv,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<NodeJS.Signals | number | null>((resolve) =>
    child.once('exit', (code, signal) => resolve(signal ?? code)),
  );
  const lines = (): Record<string, unknown>[] =>
    output
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  return { child, exited, lines };
}

describe('hard kill between the Postgres commit and the Kafka commit', () => {
  let fixture: CounterFixture;
  const BEFORE_CRASH = 3_000;
  const AFTER_CRASH = 200;
  const TOTAL = BEFORE_CRASH + AFTER_CRASH;
  const PARTITIONS = 2;
  const events = counterEvents('crash', TOTAL);

  beforeAll(async () => {
    fixture = await counterFixture('crash', PARTITIONS);
    await produceEvents(fixture.topic, events.slice(0, BEFORE_CRASH));
  });
  afterAll(async () => {
    await fixture.cleanup();
  });

  it('resumes from the offsets stored in Postgres, not from Kafka, and applies nothing twice', async () => {
    // given: a consumer that SIGKILLs itself right after its 3rd Postgres COMMIT
    const first = runCounter(fixture, { KILL_AFTER_POSTGRES_COMMITS: '3' });
    expect(await first.exited).toBe('SIGKILL');
    const stored = await readAllStoredOffsets(fixture.pool, fixture.name, fixture.name);
    const appliedBeforeCrash = (await readCounts(fixture.pool, fixture.name)).rows;
    expect(appliedBeforeCrash).toBeGreaterThan(0);
    expect(appliedBeforeCrash).toBeLessThan(BEFORE_CRASH);
    // Postgres' offsets account for exactly the applied events (offsets start at 0 on a new topic).
    expect([...stored.values()].reduce((sum, o) => sum + Number(o), 0)).toBe(appliedBeforeCrash);

    // and Kafka never heard of the last batch: on its partition Kafka's committed offset is behind
    // Postgres' (-1 = never committed, where a restart without Postgres would start at 0)
    const admin = kafkaClient('crash-admin').admin();
    await admin.connect();
    const [committed] = await admin.fetchOffsets({ groupId: fixture.name, topics: [fixture.topic] });
    await admin.disconnect();
    const kafkaOffset = (partition: number): bigint =>
      BigInt(committed?.partitions.find((p) => p.partition === partition)?.offset ?? '-1');
    const postgresOffset = (partition: number): bigint => stored.get(`${fixture.topic}:${partition}`) ?? 0n;
    const partitions = Array.from({ length: PARTITIONS }, (_, p) => p);
    const behind = partitions.filter((p) => kafkaOffset(p) < postgresOffset(p));
    expect(
      behind.length,
      `Kafka committed ${partitions.map((p) => `${p}:${kafkaOffset(p)}`).join(' ')}; Postgres ${partitions.map((p) => `${p}:${postgresOffset(p)}`).join(' ')}`,
    ).toBeGreaterThan(0);
    // Kafka never got ahead of Postgres either (its commit follows the Postgres commit).
    for (const p of partitions) expect(kafkaOffset(p)).toBeLessThanOrEqual(postgresOffset(p));

    // and every partition has records past its stored offset (the crash may have come after the last
    // record of a partition), so the restarted member has something to decode on each
    const half = AFTER_CRASH / PARTITIONS;
    for (const p of partitions)
      await produceEvents(
        fixture.topic,
        events.slice(BEFORE_CRASH + p * half, BEFORE_CRASH + (p + 1) * half),
        p,
      );

    // when: it restarts without the hook
    const second = runCounter(fixture, {});
    try {
      await waitFor(async () => (await readCounts(fixture.pool, fixture.name)).rows === TOTAL, {
        timeoutMs: 60_000,
        message: `all ${TOTAL} events applied`,
      });
    } finally {
      second.child.kill('SIGTERM');
      await second.exited;
    }

    // then: the first record the restarted member decoded on each partition is the one at the offset
    // Postgres stored, also where Kafka's committed offset pointed further back
    const lines = second.lines();
    const firstDecoded = new Map(
      lines
        .filter((l) => l['type'] === 'first-decoded')
        .map((l) => [Number(l['partition']), BigInt(String(l['offset']))]),
    );
    for (const p of partitions)
      expect(firstDecoded.get(p), `first decoded offset of partition ${p}`).toBe(postgresOffset(p));
    // and it re-applied nothing: no record already in Postgres reached the handler or even the dedup
    const batches = lines.filter((l) => l['type'] === 'batch-committed');
    const sum = (field: string): number => batches.reduce((total, b) => total + Number(b[field]), 0);
    expect(sum('duplicates')).toBe(0);
    expect(sum('applied')).toBe(TOTAL - appliedBeforeCrash);
    // and every event exactly once, the per-key totals adding up to exactly TOTAL
    expect(await readCounts(fixture.pool, fixture.name)).toEqual({
      rows: TOTAL,
      appliedTotal: TOTAL,
      maxApplied: 1,
    });
    const { rows } = await fixture.pool.query<{ n: string }>(
      `select sum(n)::text as n from "${fixture.name}".totals`,
    );
    expect(rows[0]?.n).toBe(String(TOTAL));
    const finalStored = await readAllStoredOffsets(fixture.pool, fixture.name, fixture.name);
    expect([...finalStored.values()].reduce((total, o) => total + Number(o), 0)).toBe(TOTAL);
  });
});
