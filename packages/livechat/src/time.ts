import type { JsonObject } from './json.js';

const RFC3339 = /^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})$/;

/**
 * v3 times are RFC 3339 strings with microseconds (`2020-05-12T11:42:47.383000Z`). `Date.parse` keeps only
 * milliseconds, so the fraction is read by hand: digits past the sixth are dropped (truncated, not rounded).
 */
export function rfc3339ToMicros(value: unknown): number | null {
  if (typeof value !== 'string') return null;
  const match = RFC3339.exec(value);
  if (!match) return null;
  const [, date, time, fraction = '', offset = 'Z'] = match;
  const wholeSecondsMillis = Date.parse(`${date}T${time}${offset.toUpperCase()}`);
  if (Number.isNaN(wholeSecondsMillis)) return null;
  const micros = Number(fraction.slice(0, 6).padEnd(6, '0'));
  return wholeSecondsMillis * 1000 + micros;
}

/** v2 times are Unix epoch seconds (sometimes as numeric strings). */
export function epochSecondsToMicros(value: unknown): number | null {
  const seconds = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds < 0) return null;
  const micros = Math.round(seconds * 1_000_000);
  return Number.isSafeInteger(micros) ? micros : null;
}

export function rfc3339At(source: JsonObject | undefined, key: string): number | null {
  return rfc3339ToMicros(source?.[key]);
}

export function epochSecondsAt(source: JsonObject | undefined, key: string): number | null {
  return epochSecondsToMicros(source?.[key]);
}
