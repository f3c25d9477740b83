import { hash, timingSafeEqual } from 'node:crypto';

function digest(value: string): Buffer {
  return hash('sha256', value, 'buffer');
}

/**
 * A set of accepted secrets, kept only as SHA-256 digests. `matches` compares the candidate's digest with every
 * entry using crypto.timingSafeEqual, always visiting all entries, so neither the secrets' lengths nor which
 * entry matched leak through timing.
 */
export class SecretSet {
  private readonly digests: readonly Buffer[];

  constructor(secrets: Iterable<string>) {
    this.digests = [...secrets].map(digest);
  }

  get size(): number {
    return this.digests.length;
  }

  matches(candidate: string): boolean {
    const probe = digest(candidate);
    let found = false;
    for (const d of this.digests) {
      // No early exit: every entry costs the same.
      if (timingSafeEqual(probe, d)) found = true;
    }
    return found;
  }
}
