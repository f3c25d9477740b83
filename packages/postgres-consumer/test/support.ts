import { Kafka, logLevel } from 'kafkajs';
import pg from 'pg';
import {
  createTestDatabase,
  createTopic,
  stackEndpoints,
  testKafka,
  uniqueName,
  type TestDatabase,
} from '@livechat-pipeline/testkit';
import {
  createPostgresConsumer,
  type PostgresConsumer,
  type PostgresConsumerOptions,
  type RuntimeEvent,
} from '@livechat-pipeline/postgres-consumer';
import { counterConsumer, type CounterEvent } from '../examples/counter-consumer.js';

export interface CounterFixture {
  readonly name: string;
  readonly topic: string;
  readonly db: TestDatabase;
  readonly pool: pg.Pool;
  cleanup(): Promise<void>;
}

/** A fresh topic, consumer name and database for one test file. */
export async function counterFixture(prefix: string, partitions: number): Promise<CounterFixture> {
  const name = uniqueName(prefix).replace(/[^a-z0-9]/g, '_');
  const topic = uniqueName(`${prefix}-events`);
  await createTopic(topic, partitions);
  const db = await createTestDatabase(prefix);
  const pool = new pg.Pool({ connectionString: db.url, max: 2 });
  pool.on('error', () => undefined);
  return {
    name,
    topic,
    db,
    pool,
    async cleanup() {
      await pool.end();
      await db.drop();
    },
  };
}

export function kafkaClient(clientId: string): Kafka {
  return new Kafka({ clientId, brokers: stackEndpoints().kafkaBrokers, logLevel: logLevel.NOTHING });
}

/** Produces counter events (JSON values, key = event key) in chunks. */
export async function produceEvents(
  topic: string,
  events: readonly (CounterEvent | { raw: string; key: string })[],
  partition?: number,
): Promise<void> {
  // Idempotent: a send kafkajs retries must not write the records twice.
  const producer = testKafka('test-producer').producer({ idempotent: true });
  await producer.connect();
  try {
    for (let i = 0; i < events.length; i += 1000) {
      await producer.send({
        topic,
        acks: -1,
        messages: events.slice(i, i + 1000).map((e) => ({
          key: e.key,
          value: 'raw' in e ? e.raw : JSON.stringify(e),
          ...(partition === undefined ? {} : { partition }),
        })),
      });
    }
  } finally {
    await producer.disconnect();
  }
}

export function counterEvents(prefix: string, count: number, keys = 7): CounterEvent[] {
  return Array.from({ length: count }, (_, i) => ({ id: `${prefix}-${i}`, key: `k${i % keys}` }));
}

export interface Counts {
  readonly rows: number;
  readonly appliedTotal: number;
  readonly maxApplied: number;
}

export async function readCounts(pool: pg.Pool, schema: string): Promise<Counts> {
  const { rows } = await pool.query<{ rows: string; applied: string | null; max: number | null }>(
    `select count(*) as rows, sum(applied) as applied, max(applied) as max from "${schema}".counts`,
  );
  const row = rows[0]!;
  return { rows: Number(row.rows), appliedTotal: Number(row.applied ?? 0), maxApplied: row.max ?? 0 };
}

/** counts + totals digested in a stable order: equal checksums = equal table contents. */
export async function tablesChecksum(pool: pg.Pool, schema: string): Promise<string> {
  const { rows } = await pool.query<{ counts: string; totals: string }>(
    `select (select md5(coalesce(string_agg(event_id || ':' || key || ':' || applied, ',' order by event_id), '')) from "${schema}".counts) as counts,
            (select md5(coalesce(string_agg(key || ':' || n, ',' order by key), '')) from "${schema}".totals) as totals`,
  );
  return `${rows[0]!.counts}/${rows[0]!.totals}`;
}

export function startCounter(
  fixture: CounterFixture,
  opts: Partial<PostgresConsumerOptions> & { acceptPoison?: () => boolean; events?: RuntimeEvent[] } = {},
): PostgresConsumer<CounterEvent> {
  const { acceptPoison, events, ...rest } = opts;
  return createPostgresConsumer(
    counterConsumer({ name: fixture.name, topics: [fixture.topic], acceptPoison }),
    {
      kafka: kafkaClient(fixture.name),
      databaseUrl: fixture.db.url,
      onEvent: (e) => events?.push(e),
      ...rest,
    },
  );
}
