import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readTopic, stackEndpoints, waitFor } from '@livechat-pipeline/testkit';
import {
  readDeadLetters,
  readStoredOffset,
  replayDeadLetters,
  type PostgresConsumer,
  type RuntimeEvent,
} from '@livechat-pipeline/postgres-consumer';
import {
  counterFixture,
  kafkaClient,
  produceEvents,
  readCounts,
  startCounter,
  type CounterFixture,
} from './support.js';
import type { CounterEvent } from '../examples/counter-consumer.js';

const cli = fileURLToPath(new URL('../src/cli.ts', import.meta.url));

describe('poison records', () => {
  let fixture: CounterFixture;
  let consumer: PostgresConsumer<CounterEvent> | undefined;
  let acceptPoison = false;
  const events: RuntimeEvent[] = [];

  beforeAll(async () => {
    fixture = await counterFixture('dlq', 1);
  });
  afterAll(async () => {
    await consumer?.stop();
    await fixture.cleanup();
  });

  it('dead-letters a rejected and an undecodable record with provenance, applies the rest, and replays once fixed', async () => {
    consumer = startCounter(fixture, { acceptPoison: () => acceptPoison, events });
    await consumer.start();
    const dlq = consumer.options.deadLetterTopic;
    // given: a poison event and an undecodable value among good events, all in one batch
    await produceEvents(fixture.topic, [
      { id: 'e1', key: 'a' },
      { id: 'e2', key: 'a' },
      { id: 'p1', key: 'a', poison: true },
      { raw: 'not json', key: 'garbage' },
      { id: 'e3', key: 'a' },
    ]);
    // then: the offset moves past both, the good events are applied
    const position = { consumer: fixture.name, topic: fixture.topic, partition: 0 };
    await waitFor(async () => (await readStoredOffset(fixture.pool, fixture.name, position)) === 5n, {
      message: 'offset past the poison records',
    });
    expect(await readCounts(fixture.pool, fixture.name)).toEqual({ rows: 3, appliedTotal: 3, maxApplied: 1 });

    const letters = await readDeadLetters(kafkaClient('dlq-reader'), dlq);
    expect(letters.map((l) => [l.origin.offset, l.errorCode])).toEqual([
      ['3', 'CONSUMER_DECODE_FAILED'],
      ['2', 'CONSUMER_EVENT_REJECTED'],
    ]);
    const poison = letters.find((l) => l.errorCode === 'CONSUMER_EVENT_REJECTED')!;
    expect(poison).toMatchObject({
      origin: { topic: fixture.topic, partition: 0, offset: '2' },
      consumer: fixture.name,
      attempts: 2,
      errorMessage: 'poison event',
    });
    expect(poison.key?.toString()).toBe('a');
    expect(JSON.parse(poison.value?.toString() ?? '')).toEqual({ id: 'p1', key: 'a', poison: true });
    expect(letters.find((l) => l.errorCode === 'CONSUMER_DECODE_FAILED')?.value?.toString()).toBe('not json');
    expect(events.filter((e) => e.type === 'dead-lettered')).toHaveLength(2);

    // and the CLI lists them
    const env = { ...process.env, KAFKA_BROKERS: stackEndpoints().kafkaBrokers.join(',') };
    const listed = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', cli, 'dead-letters', 'list', '--topic', dlq],
      { env },
    );
    expect(listed.stdout).toContain(`${fixture.topic}/0/2`);
    expect(listed.stdout).toContain('CONSUMER_EVENT_REJECTED');
    expect(listed.stdout).toContain('2 dead letter(s)');
    expect(listed.stdout).toMatch(/CONSUMER_EVENT_REJECTED +poison event +\d{4}-\d\d-\d\dT[\d:.]+Z/);

    // when: the cause is fixed and the rejected one is replayed, with the CLI and again with the function (a replay is idempotent)
    acceptPoison = true;
    const replayed = await promisify(execFile)(
      process.execPath,
      [
        '--import',
        'tsx',
        cli,
        'dead-letters',
        'replay',
        '--topic',
        dlq,
        '--offset',
        `${poison.partition}:${poison.offset}`,
      ],
      { env },
    );
    expect(replayed.stdout).toContain('replayed 1 dead letter(s)');
    await replayDeadLetters(kafkaClient('dlq-replay'), dlq, [poison]);
    await waitFor(async () => (await readStoredOffset(fixture.pool, fixture.name, position)) === 7n, {
      message: 'replays consumed',
    });
    // the replayed records carry dlq.replay-of and no other dlq.* header
    const replays = (await readTopic(fixture.topic, { count: 7 })).filter((m) => BigInt(m.offset) >= 5n);
    expect(replays.map((m) => Object.keys(m.headers ?? {}).filter((k) => k.startsWith('dlq.')))).toEqual([
      ['dlq.replay-of'],
      ['dlq.replay-of'],
    ]);
    expect(replays.map((m) => m.value?.toString())).toEqual([
      poison.value?.toString(),
      poison.value?.toString(),
    ]);
    // then: applied exactly once
    expect(await readCounts(fixture.pool, fixture.name)).toEqual({ rows: 4, appliedTotal: 4, maxApplied: 1 });
    const { rows } = await fixture.pool.query(
      `select applied from "${fixture.name}".counts where event_id = 'p1'`,
    );
    expect(rows).toEqual([{ applied: 1 }]);
  });
});
