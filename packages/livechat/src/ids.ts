import { createHash, type Hash } from 'node:crypto';

/** Separates id parts so that ('ab','c') and ('a','bc') never hash alike. */
const PART_SEPARATOR = '\u001f';

type IdPart = string | number | null;

function partText(part: IdPart): string {
  return part === null ? '\u0000' : String(part);
}

/** Version 8 in the high nibble of byte 6, RFC variant (10xx) in byte 8, formatted as a UUID. */
function uuidV8(digest: Buffer): string {
  digest[6] = ((digest[6] ?? 0) & 0x0f) | 0x80;
  digest[8] = ((digest[8] ?? 0) & 0x3f) | 0x80;
  const hex = digest.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/**
 * A deterministic event id: SHA-256 over the parts, shaped as an RFC 9562 UUIDv8 (custom) so it fits a `uuid`
 * column. The first part is always a scheme tag (e.g. `v3-event`), so ids built from different rules never meet.
 */
export function deterministicEventId(parts: readonly IdPart[]): string {
  return uuidV8(createHash('sha256').update(parts.map(partText).join(PART_SEPARATOR)).digest());
}

/** Ids that share their leading parts, hashed once (see `deterministicIdPrefix`). */
export interface IdPrefix {
  /** `deterministicEventId([...prefix, ...extra])`, without hashing the prefix again. */
  id(...extra: readonly IdPart[]): string;
}

/**
 * The hash state after the leading parts, kept so that many ids sharing a long prefix (the canonical payload of a
 * webhook with many events) cost one pass over the prefix instead of one per id. Each id is exactly
 * `deterministicEventId([...prefix, ...extra])`: SHA-256 is fed the same bytes, split at a separator (ASCII), so the
 * UTF-8 encoding of the whole equals the encodings of the pieces.
 */
export function deterministicIdPrefix(prefix: readonly IdPart[]): IdPrefix {
  const state: Hash = createHash('sha256').update(prefix.map(partText).join(PART_SEPARATOR));
  return {
    id(...extra) {
      const hash = state.copy();
      if (extra.length > 0) hash.update(PART_SEPARATOR + extra.map(partText).join(PART_SEPARATOR));
      return uuidV8(hash.digest());
    },
  };
}

/** Hex SHA-256 of a text, used as an id part where the text itself would be long (v2 message texts). */
export function textHash(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
