/**
 * Watches the ingest's Prometheus `/metrics` for its spool: every sample of a metric whose name contains `spool`
 * (summed over its labels), with the high-water mark of each. Scrapes that fail (the ingest killed or restarting)
 * are skipped. The interval can be shortened while a fault waits for a state (the spool draining).
 */
export class IngestMetricsWatch {
  readonly highWater = new Map<string, number>();
  #latest = new Map<string, number>();
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  #intervalMs: number;
  #listeners = new Set<(latest: ReadonlyMap<string, number>) => void>();

  constructor(
    private readonly metricsUrl: string,
    intervalMs = 200,
  ) {
    this.#intervalMs = intervalMs;
  }

  start(): void {
    const loop = async () => {
      if (this.#stopped) return;
      await this.scrape();
      if (!this.#stopped) this.#timer = setTimeout(() => void loop(), this.#intervalMs);
    };
    void loop();
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }

  setInterval(ms: number): void {
    this.#intervalMs = ms;
  }

  latest(): ReadonlyMap<string, number> {
    return this.#latest;
  }

  /** Calls `listener` after every successful scrape until it returns true. */
  watch(listener: (latest: ReadonlyMap<string, number>) => boolean): () => void {
    const wrapped = (latest: ReadonlyMap<string, number>) => {
      if (listener(latest)) this.#listeners.delete(wrapped);
    };
    this.#listeners.add(wrapped);
    return () => this.#listeners.delete(wrapped);
  }

  async scrape(): Promise<void> {
    let text: string;
    try {
      const response = await fetch(this.metricsUrl, { signal: AbortSignal.timeout(2_000) });
      if (response.status !== 200) {
        await response.body?.cancel();
        return;
      }
      text = await response.text();
    } catch {
      return;
    }
    const latest = parseSpoolMetrics(text);
    this.#latest = latest;
    for (const [name, value] of latest)
      this.highWater.set(name, Math.max(this.highWater.get(name) ?? 0, value));
    for (const listener of [...this.#listeners]) listener(latest);
  }
}

/** Every sample whose metric name contains `spool`, summed over labels (histogram buckets left out). */
export function parseSpoolMetrics(text: string): Map<string, number> {
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (match === null) continue;
    const name = match[1]!;
    if (!name.includes('spool') || name.endsWith('_bucket')) continue;
    const value = Number(match[3]);
    if (!Number.isFinite(value)) continue;
    values.set(name, (values.get(name) ?? 0) + value);
  }
  return values;
}

/** The spool's record count among the metrics, when the ingest has one (a gauge named like `…spool…records`). */
export function spoolRecordCount(latest: ReadonlyMap<string, number>): number | undefined {
  const exact = latest.get('ingest_spool_records');
  if (exact !== undefined) return exact;
  for (const [name, value] of latest)
    if (/spool.*records/.test(name) && !/_total$|_sum$|_count$/.test(name)) return value;
  return undefined;
}
