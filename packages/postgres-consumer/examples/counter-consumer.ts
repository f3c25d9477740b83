// A complete consumer: counts events per key in its own Postgres schema. Run it with
//   KAFKA_BROKERS=localhost:9092 DATABASE_URL=postgres://... tsx examples/counter-consumer.ts
import { fileURLToPath } from 'node:url';
import { Kafka } from 'kafkajs';
import {
  EventRejectedError,
  createPostgresConsumer,
  type ConsumerDefinition,
} from '@livechat-pipeline/postgres-consumer';

export interface CounterEvent {
  readonly id: string;
  readonly key: string;
  readonly poison?: boolean;
}

export function counterConsumer(opts: {
  name: string;
  topics: string[];
  acceptPoison?: () => boolean;
}): ConsumerDefinition<CounterEvent> {
  return {
    name: opts.name,
    topics: opts.topics,
    migrationsDir: fileURLToPath(new URL('./migrations', import.meta.url)),
    // Real consumers decode Avro with @livechat-pipeline/events; any throw here dead-letters the record.
    decode: async (message) => {
      const value: unknown = JSON.parse(message.value?.toString('utf8') ?? '');
      if (typeof value !== 'object' || value === null || !('id' in value) || !('key' in value))
        throw new Error('not a counter event');
      return value as CounterEvent;
    },
    eventId: (event) => event.id,
    // One statement per table for the whole batch: batches hold thousands of events.
    handle: async (events, tx) => {
      if (events.some((e) => e.poison) && !(opts.acceptPoison?.() ?? false))
        throw new EventRejectedError('poison event');
      const ids = events.map((e) => e.id);
      const keys = events.map((e) => e.key);
      await tx.query(
        `insert into counts (event_id, key, applied) select id, key, 1 from unnest($1::text[], $2::text[]) as t(id, key)
         on conflict (event_id) do update set applied = counts.applied + 1`,
        [ids, keys],
      );
      await tx.query(
        `insert into totals (key, n) select key, count(*) from unnest($1::text[]) as key group by key
         on conflict (key) do update set n = totals.n + excluded.n`,
        [keys],
      );
    },
  };
}

/** What `cli.ts rebuild --definition examples/counter-consumer.ts` loads. */
export const definition = counterConsumer({ name: 'counter', topics: ['counter.events'] });

async function main(): Promise<void> {
  const kafka = new Kafka({
    clientId: 'counter',
    brokers: (process.env['KAFKA_BROKERS'] ?? 'localhost:9092').split(','),
  });
  const consumer = createPostgresConsumer(definition, {
    kafka,
    databaseUrl: process.env['DATABASE_URL'] ?? 'postgres://postgres@localhost:5432/postgres',
  });
  await consumer.start();
  for (const signal of ['SIGINT', 'SIGTERM'] as const)
    process.once(signal, () => void consumer.stop().then(() => process.exit(0)));
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
