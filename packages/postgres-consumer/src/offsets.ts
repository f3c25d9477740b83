import type { KafkaMessage } from 'kafkajs';
import { quoteIdent } from './options.js';
import type { Queryable } from './types.js';

export interface PartitionKey {
  readonly consumer: string;
  readonly topic: string;
  readonly partition: number;
}

/** The next offset to apply for one partition, as stored in Postgres (the source of truth); null if never stored. */
export async function readStoredOffset(
  db: Queryable,
  schema: string,
  key: PartitionKey,
): Promise<bigint | null> {
  const { rows } = await db.query<{ next_offset: string }>(
    `select next_offset from ${quoteIdent(schema)}._offsets where consumer = $1 and topic = $2 and partition = $3`,
    [key.consumer, key.topic, key.partition],
  );
  const row = rows[0];
  return row === undefined ? null : BigInt(row.next_offset);
}

/** All stored offsets of a consumer, keyed `topic:partition`. */
export async function readAllStoredOffsets(
  db: Queryable,
  schema: string,
  consumer: string,
): Promise<Map<string, bigint>> {
  const { rows } = await db.query<{ topic: string; partition: number; next_offset: string }>(
    `select topic, partition, next_offset from ${quoteIdent(schema)}._offsets where consumer = $1`,
    [consumer],
  );
  return new Map(rows.map((r) => [partitionId(r.topic, r.partition), BigInt(r.next_offset)]));
}

export function partitionId(topic: string, partition: number): string {
  return `${topic}:${partition}`;
}

/**
 * Moves the stored offset from `expected` to `next` only if nobody else moved it: a member that
 * lost the partition in a rebalance (or a crashed run's redelivery) finds a different value and
 * must roll back. `expected === null` means "never stored": the first writer inserts, others lose.
 */
export async function compareAndSetOffset(
  tx: Queryable,
  schema: string,
  key: PartitionKey,
  expected: bigint | null,
  next: bigint,
): Promise<boolean> {
  const table = `${quoteIdent(schema)}._offsets`;
  if (expected === null) {
    const { rowCount } = await tx.query(
      `insert into ${table} (consumer, topic, partition, next_offset) values ($1, $2, $3, $4)
       on conflict (consumer, topic, partition) do nothing`,
      [key.consumer, key.topic, key.partition, next.toString()],
    );
    return rowCount === 1;
  }
  const { rowCount } = await tx.query(
    `update ${table} set next_offset = $4, updated_at = now()
     where consumer = $1 and topic = $2 and partition = $3 and next_offset = $5`,
    [key.consumer, key.topic, key.partition, next.toString(), expected.toString()],
  );
  return rowCount === 1;
}

export interface BatchPlan {
  /** Records at or past the stored offset: the only ones that may be applied. */
  readonly fresh: readonly KafkaMessage[];
  /** Records below the stored offset: already applied (redelivery after a crash or a stale member). */
  readonly skipped: number;
  /** Offset to store after this batch: one past its last record. */
  readonly nextOffset: bigint | null;
}

/** Splits a fetched batch around the stored offset. Pure. */
export function planBatch(messages: readonly KafkaMessage[], stored: bigint | null): BatchPlan {
  const fresh = stored === null ? messages : messages.filter((m) => BigInt(m.offset) >= stored);
  const last = messages[messages.length - 1];
  return {
    fresh,
    skipped: messages.length - fresh.length,
    nextOffset: last === undefined ? null : BigInt(last.offset) + 1n,
  };
}
