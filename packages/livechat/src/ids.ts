import { createHash } from 'node:crypto';

/** Separates id parts so that ('ab','c') and ('a','bc') never hash alike. */
const PART_SEPARATOR = '\u001f';

/**
 * A deterministic event id: SHA-256 over the parts, shaped as an RFC 9562 UUIDv8 (custom) so it fits a `uuid`
 * column. The first part is always a scheme tag (e.g. `v3-event`), so ids built from different rules never meet.
 */
export function deterministicEventId(parts: readonly (string | number | null)[]): string {
  const digest = createHash('sha256')
    .update(parts.map((part) => (part === null ? '\u0000' : String(part))).join(PART_SEPARATOR))
    .digest();
  // Version 8 in the high nibble of byte 6, RFC variant (10xx) in byte 8.
  digest[6] = ((digest[6] ?? 0) & 0x0f) | 0x80;
  digest[8] = ((digest[8] ?? 0) & 0x3f) | 0x80;
  const hex = digest.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/** Hex SHA-256 of a text, used as an id part where the text itself would be long (v2 message texts). */
export function textHash(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
