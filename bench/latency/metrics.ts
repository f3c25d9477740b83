/**
 * The services' own batch figures over the measured window, from their Prometheus endpoints (scraped when the
 * measured window starts and once its rows are visible): how many batches each stage ran, how many records each
 * held and how long each took. They explain the per-stage times: a consumer's record waits for the batch in hand to
 * finish, then for its own.
 */
export type Scrape = ReadonlyMap<string, number>;

/** Sums every sample of a metric (all label sets), keyed by the sample's name (`x_sum`, `x_count`, `x_total`). */
export async function scrape(url: string): Promise<Scrape> {
  const sums = new Map<string, number>();
  try {
    const text = await (await fetch(url, { signal: AbortSignal.timeout(5_000) })).text();
    for (const line of text.split('\n')) {
      if (line.startsWith('#') || line.trim() === '') continue;
      const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
      if (match?.[1] === undefined || match[3] === undefined) continue;
      const value = Number(match[3]);
      if (Number.isFinite(value)) sums.set(match[1], (sums.get(match[1]) ?? 0) + value);
    }
  } catch {
    // an endpoint that does not answer leaves its figures out (NaN below)
  }
  return sums;
}

const delta = (before: Scrape, after: Scrape, name: string): number =>
  (after.get(name) ?? Number.NaN) - (before.get(name) ?? Number.NaN);

export interface BatchFigures {
  readonly batches: number;
  readonly records: number;
  readonly meanBatchMs: number;
}

/** Batches, records and mean batch time of one histogram (`<histogram>_count`/`_sum`) and one record counter. */
export function batchFigures(
  before: Scrape,
  after: Scrape,
  histogram: string,
  records: string,
): BatchFigures {
  const batches = delta(before, after, `${histogram}_count`);
  return {
    batches,
    records: delta(before, after, records),
    meanBatchMs: (delta(before, after, `${histogram}_sum`) / batches) * 1000,
  };
}
