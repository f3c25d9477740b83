/**
 * A bounded LRU map with a time to live: at most `maxEntries` entries, each forgotten `ttlMs` after it was set.
 * A Map keeps insertion order, so the first key is the least recently used one (a hit re-inserts it).
 */
export class LruCache<V> {
  private readonly entries = new Map<string, { readonly value: V; readonly expiresAt: number }>();
  private counters = { hits: 0, misses: 0, evictions: 0, expirations: 0 };

  constructor(
    private readonly maxEntries: number,
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {
    if (!Number.isSafeInteger(maxEntries) || maxEntries < 1) throw new RangeError('maxEntries must be >= 1');
    if (!(ttlMs > 0)) throw new RangeError('ttlMs must be > 0');
  }

  get(key: string): V | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) {
      this.counters.misses++;
      return undefined;
    }
    this.entries.delete(key);
    if (entry.expiresAt <= this.now()) {
      this.counters.expirations++;
      this.counters.misses++;
      return undefined;
    }
    this.entries.set(key, entry);
    this.counters.hits++;
    return entry.value;
  }

  set(key: string, value: V): void {
    this.entries.delete(key);
    this.entries.set(key, { value, expiresAt: this.now() + this.ttlMs });
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
      this.counters.evictions++;
    }
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }

  stats(): { hits: number; misses: number; evictions: number; expirations: number; size: number } {
    return { ...this.counters, size: this.entries.size };
  }
}
