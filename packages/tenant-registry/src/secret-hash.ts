import { createHash, timingSafeEqual } from 'node:crypto';

/** The only form in which a webhook secret is stored: its SHA-256 digest, hex. */
export function hashWebhookSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

/**
 * True when `candidate`'s digest equals one of `digests` (raw 32-byte buffers). Compares with every entry,
 * without an early exit, so timing tells neither which entry matched nor the secrets' lengths.
 */
export function matchesAnyDigest(candidate: string, digests: Iterable<Buffer>): boolean {
  const probe = createHash('sha256').update(candidate, 'utf8').digest();
  let found = false;
  for (const d of digests) {
    if (d.length === probe.length && timingSafeEqual(probe, d)) found = true;
  }
  return found;
}
