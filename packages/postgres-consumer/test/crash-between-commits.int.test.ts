import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stackEndpoints, waitFor } from '@livechat-pipeline/testkit';
import { readAllStoredOffsets } from '@livechat-pipeline/postgres-consumer';
import { counterEvents, counterFixture, kafkaClient, produceEvents, readCounts, type CounterFixture } from './support.js';

const fixtureScript = fileURLToPath(new URL('./fixtures/counter-process.ts', import.meta.url));

function runCounter(fixture: CounterFixture, extraEnv: Record<string, string>): { child: ChildProcess; exited: Promise<NodeJS.Signals | number | null>; output: () => string } {
  let output = '';
  const child = spawn(process.execPath, ['--import', 'tsx', fixtureScript], {
    env: { ...process.env, KAFKA_BROKERS: stackEndpoints().kafkaBrokers.join(','), DATABASE_URL: fixture.db.url, CONSUMER_NAME: fixture.name, TOPIC: fixture.topic, ...extraEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<NodeJS.Signals | number | null>((resolve) => child.once('exit', (code, signal) => resolve(signal ?? code)));
  return { child, exited, output: () => output };
}

describe('hard kill between the Postgres commit and the Kafka commit', () => {
  let fixture: CounterFixture;
  const TOTAL = 3_000;

  beforeAll(async () => {
    fixture = await counterFixture('crash', 2);
    await produceEvents(fixture.topic, counterEvents('crash', TOTAL));
  });
  afterAll(async () => {
    await fixture.cleanup();
  });

  it('applies nothing twice after a restart', async () => {
    // given: a consumer that SIGKILLs itself right after its 3rd Postgres COMMIT
    const first = runCounter(fixture, { KILL_AFTER_POSTGRES_COMMITS: '3' });
    expect(await first.exited).toBe('SIGKILL');
    const stored = await readAllStoredOffsets(fixture.pool, fixture.name, fixture.name);
    const appliedBeforeCrash = (await readCounts(fixture.pool, fixture.name)).rows;
    expect(appliedBeforeCrash).toBeGreaterThan(0);
    expect(appliedBeforeCrash).toBeLessThan(TOTAL);

    // and Kafka never heard of the last batch: its committed offsets lag Postgres'
    const admin = kafkaClient('crash-admin').admin();
    await admin.connect();
    const [committed] = await admin.fetchOffsets({ groupId: fixture.name, topics: [fixture.topic] });
    await admin.disconnect();
    const kafkaTotal = (committed?.partitions ?? []).reduce((sum, p) => sum + Math.max(0, Number(p.offset)), 0);
    const postgresTotal = [...stored.values()].reduce((sum, o) => sum + Number(o), 0);
    expect(kafkaTotal).toBeLessThan(postgresTotal);

    // when: it restarts without the hook
    const second = runCounter(fixture, {});
    try {
      await waitFor(async () => (await readCounts(fixture.pool, fixture.name)).rows === TOTAL, { timeoutMs: 60_000, message: `all ${TOTAL} events applied` });
    } finally {
      second.child.kill('SIGTERM');
      await second.exited;
    }
    // then: every event exactly once, and the per-key totals add up to exactly TOTAL
    expect(await readCounts(fixture.pool, fixture.name)).toEqual({ rows: TOTAL, appliedTotal: TOTAL, maxApplied: 1 });
    const { rows } = await fixture.pool.query<{ n: string }>(`select sum(n)::text as n from "${fixture.name}".totals`);
    expect(rows[0]?.n).toBe(String(TOTAL));
    // and the restarted member resumed from Postgres' offsets (a seek or a skip of the replayed records)
    expect(second.output()).toMatch(/"type":"(seek|records-skipped)"/);
  });
});
