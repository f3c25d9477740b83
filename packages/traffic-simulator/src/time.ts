/**
 * Time is kept as integer microseconds since the epoch: v3 timestamps carry microseconds, which a
 * JS Date cannot hold, and 2^53 µs still reaches well past the year 2200.
 */
export type EpochMicros = number;

export function microsFromDate(date: Date): EpochMicros {
  return date.getTime() * 1000;
}

/** RFC 3339 UTC with exactly six fractional digits, as LiveChat v3 writes it: `2026-11-25T10:00:01.123456Z`. */
export function formatRfc3339Micros(micros: EpochMicros): string {
  const wholeSeconds = Math.floor(micros / 1_000_000);
  const fraction = micros - wholeSeconds * 1_000_000;
  const iso = new Date(wholeSeconds * 1000).toISOString(); // YYYY-MM-DDTHH:MM:SS.000Z
  return `${iso.slice(0, 19)}.${String(fraction).padStart(6, '0')}Z`;
}

/**
 * v2 bodies carry Unix epoch seconds. Truncated rather than rounded, so the v2 time of a message is never
 * later than its v3 time and both renderings order the same way.
 */
export function epochSeconds(micros: EpochMicros): number {
  return Math.floor(micros / 1_000_000);
}
