/**
 * A tiny deterministic PRNG (mulberry32). Same seed, same sequence, on every platform and Node
 * version: the simulator must never touch Math.random so that a failing test can be replayed
 * from its seed alone.
 */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** FNV-1a (32 bit): turns a label into a seed, so independent streams can be derived from one seed. */
export function hashToSeed(label: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < label.length; i++) {
    hash ^= label.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

const UPPER_ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
const HEX = '0123456789abcdef';

export class Random {
  readonly #next: () => number;

  constructor(seed: number) {
    this.#next = mulberry32(seed);
  }

  /** A child stream that does not shift this one's sequence when the child draws more or less. */
  static derive(seed: number, label: string): Random {
    return new Random(hashToSeed(`${seed >>> 0}:${label}`));
  }

  /** Uniform in [0, 1). */
  float(): number {
    return this.#next();
  }

  /** Uniform integer in [min, max] (both inclusive). */
  int(min: number, max: number): number {
    return min + Math.floor(this.#next() * (max - min + 1));
  }

  chance(probability: number): boolean {
    return this.#next() < probability;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('Random.pick needs at least one item');
    return items[Math.floor(this.#next() * items.length)] as T;
  }

  /** Picks `count` distinct items, keeping the order of `items`. */
  sample<T>(items: readonly T[], count: number): T[] {
    const indexes = items.map((_, i) => i);
    for (let i = indexes.length - 1; i > 0; i--) {
      const j = Math.floor(this.#next() * (i + 1));
      [indexes[i], indexes[j]] = [indexes[j] as number, indexes[i] as number];
    }
    return indexes
      .slice(0, Math.min(count, items.length))
      .sort((a, b) => a - b)
      .map((i) => items[i] as T);
  }

  #fromAlphabet(alphabet: string, length: number): string {
    let out = '';
    for (let i = 0; i < length; i++) out += alphabet[Math.floor(this.#next() * alphabet.length)];
    return out;
  }

  /** LiveChat chat and thread ids look like `PJ0MRSHTDG`: 10 uppercase alphanumerics. */
  upperAlnum(length: number): string {
    return this.#fromAlphabet(UPPER_ALNUM, length);
  }

  hex(length: number): string {
    return this.#fromAlphabet(HEX, length);
  }

  digits(length: number): string {
    // A leading zero would not survive a round trip through a number (v2 license ids are numbers on the API side).
    return String(this.int(1, 9)) + this.#fromAlphabet('0123456789', length - 1);
  }

  /** UUID-shaped (8-4-4-4-12 hex); LiveChat customer and organization ids look like this but are opaque. */
  uuid(): string {
    return `${this.hex(8)}-${this.hex(4)}-4${this.hex(3)}-${this.pick(['8', '9', 'a', 'b'])}${this.hex(3)}-${this.hex(12)}`;
  }
}
