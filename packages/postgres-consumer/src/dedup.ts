import { quoteIdent } from './options.js';
import type { Queryable } from './types.js';

/**
 * Records the ids in one multi-row INSERT and returns those not seen before (ON CONFLICT DO
 * NOTHING also settles repeats inside the same array: the first wins).
 */
export async function claimEventIds(
  tx: Queryable,
  schema: string,
  consumer: string,
  eventIds: readonly string[],
): Promise<Set<string>> {
  if (eventIds.length === 0) return new Set();
  const { rows } = await tx.query<{ event_id: string }>(
    `insert into ${quoteIdent(schema)}._dedup (consumer, event_id)
     select $1, id from unnest($2::text[]) as id
     on conflict (consumer, event_id) do nothing
     returning event_id`,
    [consumer, eventIds],
  );
  return new Set(rows.map((r) => r.event_id));
}

/** Keeps the first event of each claimed id, in order; the rest are duplicates. Pure. */
export function selectClaimed<T>(
  items: readonly T[],
  idOf: (item: T) => string,
  claimed: ReadonlySet<string>,
): { fresh: T[]; duplicates: number } {
  const taken = new Set<string>();
  const fresh: T[] = [];
  for (const item of items) {
    const id = idOf(item);
    if (claimed.has(id) && !taken.has(id)) {
      taken.add(id);
      fresh.push(item);
    }
  }
  return { fresh, duplicates: items.length - fresh.length };
}

/** Deletes dedup records older than the retention window (redeliveries older than that are not expected). */
export async function purgeExpiredEventIds(
  db: Queryable,
  schema: string,
  consumer: string,
  retentionMs: number,
): Promise<number> {
  const { rowCount } = await db.query(
    `delete from ${quoteIdent(schema)}._dedup where consumer = $1 and seen_at < now() - make_interval(secs => $2)`,
    [consumer, retentionMs / 1000],
  );
  return rowCount ?? 0;
}
