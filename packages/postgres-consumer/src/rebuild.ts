import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { ConsumerError } from './errors.js';
import { migrateConsumerSchema } from './migrations.js';
import { partitionId, readAllStoredOffsets } from './offsets.js';
import { quoteIdent, resolveOptions, type PostgresConsumerOptions, type ResolvedOptions } from './options.js';
import { progressSnapshot, type ProgressSnapshot } from './progress.js';
import { PostgresConsumer } from './runtime.js';
import type { ConsumerDefinition, Queryable } from './types.js';

/** The runtime's own tables, never truncated as "the consumer's tables". */
const BOOKKEEPING_TABLES = ['_offsets', '_dedup', '_rebuild', '_migrations', '_runtime_migrations'];

export interface RebuildOptions extends PostgresConsumerOptions {
  readonly onProgress?: (progress: ProgressSnapshot) => void;
  readonly pollIntervalMs?: number;
}

export interface RebuildResult {
  /** True when an interrupted rebuild was continued (nothing was truncated this time). */
  readonly resumed: boolean;
  readonly total: number;
  readonly durationMs: number;
}

interface PartitionRange {
  readonly key: string;
  readonly low: bigint;
  readonly high: bigint;
}

/**
 * Rebuilds a consumer's tables from the earliest offsets: truncates its tables, dedup records and
 * offsets in one transaction (marking the rebuild in progress), then consumes until every
 * partition reaches the high watermark seen at start. Interrupted, it resumes: the marker stops a
 * second truncate and the stored offsets say where to continue. Stop the live consumer first:
 * it would otherwise race the rebuild for the same partitions (safely, but pointlessly).
 */
export async function rebuild<E>(
  definition: ConsumerDefinition<E>,
  options: RebuildOptions,
): Promise<RebuildResult> {
  const resolved = resolveOptions(definition, options);
  const startedAt = Date.now();
  await migrateConsumerSchema({
    databaseUrl: resolved.databaseUrl,
    schema: resolved.schema,
    migrationsDir: definition.migrationsDir,
  });
  const ranges = await topicRanges(options, resolved.topics);
  const total = ranges.reduce((sum, r) => sum + Number(r.high - r.low), 0);

  const db = new pg.Client({ connectionString: resolved.databaseUrl });
  // The client is held across the whole rebuild: a connection dropped between queries would emit
  // 'error' with no listener and crash the process. The next query fails instead (the rebuild resumes).
  db.on('error', () => undefined);
  await db.connect();
  try {
    const resumed = await resetUnlessInProgress(db, resolved, definition.tables);
    const doneAtStart = doneCount(
      ranges,
      await readAllStoredOffsets(db, resolved.schema, resolved.consumerName),
    );
    const runStarted = Date.now();
    const report = (done: number): boolean => {
      options.onProgress?.(progressSnapshot(done, total, doneAtStart, Date.now() - runStarted));
      return done >= total;
    };
    if (!report(doneAtStart)) {
      const consumer = new PostgresConsumer(definition, options);
      await consumer.start();
      try {
        for (;;) {
          await sleep(options.pollIntervalMs ?? 500);
          const done = doneCount(
            ranges,
            await readAllStoredOffsets(db, resolved.schema, resolved.consumerName),
          );
          if (report(done)) break;
        }
      } finally {
        await consumer.stop();
      }
    }
    await db.query(`delete from ${quoteIdent(resolved.schema)}._rebuild where consumer = $1`, [
      resolved.consumerName,
    ]);
    return { resumed, total, durationMs: Date.now() - startedAt };
  } finally {
    await db.end();
  }
}

/** Events applied so far: for each partition, how far its stored offset is past the low watermark. */
function doneCount(ranges: readonly PartitionRange[], stored: ReadonlyMap<string, bigint>): number {
  let done = 0n;
  for (const r of ranges) {
    const next = stored.get(r.key) ?? r.low;
    const clamped = next < r.low ? r.low : next > r.high ? r.high : next;
    done += clamped - r.low;
  }
  return Number(done);
}

async function topicRanges(
  options: PostgresConsumerOptions,
  topics: readonly string[],
): Promise<PartitionRange[]> {
  const admin = options.kafka.admin();
  await admin.connect();
  try {
    const ranges: PartitionRange[] = [];
    for (const topic of topics) {
      for (const o of await admin.fetchTopicOffsets(topic)) {
        ranges.push({ key: partitionId(topic, o.partition), low: BigInt(o.low), high: BigInt(o.high) });
      }
    }
    return ranges;
  } catch (error) {
    throw new ConsumerError(
      'CONSUMER_KAFKA_UNAVAILABLE',
      'could not read the watermarks of the consumed topics',
      { cause: error },
    );
  } finally {
    await admin.disconnect();
  }
}

/** Truncates and marks in one transaction; returns true when a marker was already there (resume). */
async function resetUnlessInProgress(
  db: pg.Client,
  resolved: ResolvedOptions,
  declaredTables: readonly string[] | undefined,
): Promise<boolean> {
  const schema = quoteIdent(resolved.schema);
  await db.query('begin');
  try {
    // Two rebuilds started together must not both truncate.
    await db.query('select pg_advisory_xact_lock(hashtext($1))', [
      `rebuild:${resolved.schema}:${resolved.consumerName}`,
    ]);
    const marker = await db.query(`select 1 from ${schema}._rebuild where consumer = $1`, [
      resolved.consumerName,
    ]);
    if (marker.rowCount === 1) {
      await db.query('commit');
      return true;
    }
    const tables = declaredTables ?? (await consumerTables(db, resolved.schema));
    if (tables.length > 0)
      await db.query(`truncate table ${tables.map((t) => `${schema}.${quoteIdent(t)}`).join(', ')}`);
    await db.query(`delete from ${schema}._dedup where consumer = $1`, [resolved.consumerName]);
    await db.query(`delete from ${schema}._offsets where consumer = $1`, [resolved.consumerName]);
    await db.query(`insert into ${schema}._rebuild (consumer) values ($1)`, [resolved.consumerName]);
    await db.query('commit');
    return false;
  } catch (error) {
    await db.query('rollback').catch(() => undefined);
    throw new ConsumerError('CONSUMER_REBUILD_FAILED', `could not reset ${resolved.schema} for a rebuild`, {
      cause: error,
    });
  }
}

async function consumerTables(db: Queryable, schema: string): Promise<string[]> {
  const { rows } = await db.query<{ tablename: string }>(
    `select tablename from pg_tables where schemaname = $1 and not (tablename = any($2::text[])) order by tablename`,
    [schema, BOOKKEEPING_TABLES],
  );
  return rows.map((r) => r.tablename);
}
