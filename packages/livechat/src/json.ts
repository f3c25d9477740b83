/** Narrowing helpers for untrusted JSON: every LiveChat field is optional and may have an unexpected type. */

export type JsonObject = Readonly<Record<string, unknown>>;

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function objectAt(source: JsonObject | undefined, key: string): JsonObject | undefined {
  const value = source?.[key];
  return isJsonObject(value) ? value : undefined;
}

/** A string field; null when absent, empty or not a string. */
export function stringAt(source: JsonObject | undefined, key: string): string | null {
  const value = source?.[key];
  return typeof value === 'string' && value !== '' ? value : null;
}

/** An identifier that LiveChat sends as a string in one version and a number in another (license_id, group id). */
export function idAt(source: JsonObject | undefined, key: string): string | null {
  const value = source?.[key];
  if (typeof value === 'string' && value !== '') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return null;
}

/** A safe integer (Avro `long`); numeric strings are accepted because v2 is loose about types. */
export function integerAt(source: JsonObject | undefined, key: string): number | null {
  return toSafeInteger(source?.[key]);
}

export function toSafeInteger(value: unknown): number | null {
  const number = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  return typeof number === 'number' && Number.isSafeInteger(number) ? number : null;
}

export function booleanAt(source: JsonObject | undefined, key: string): boolean | null {
  const value = source?.[key];
  return typeof value === 'boolean' ? value : null;
}

/** An array field; empty when absent or not an array. */
export function arrayAt(source: JsonObject | undefined, key: string): readonly unknown[] {
  const value = source?.[key];
  return Array.isArray(value) ? value : [];
}

export function objectsAt(source: JsonObject | undefined, key: string): JsonObject[] {
  return arrayAt(source, key).filter(isJsonObject);
}

export function stringsAt(source: JsonObject | undefined, key: string): string[] {
  return arrayAt(source, key).filter((item): item is string => typeof item === 'string');
}

export function integersAt(source: JsonObject | undefined, key: string): number[] {
  return arrayAt(source, key)
    .map(toSafeInteger)
    .filter((item): item is number => item !== null);
}

/** JSON text of a value that was sent, else null (so absent or null payloads stay null on the wire). */
export function jsonOrNull(value: unknown): string | null {
  return value === undefined || value === null ? null : JSON.stringify(value);
}

/**
 * `table[key]` when the table has that key itself, else undefined. A discriminator is sender-controlled: a plain
 * `table[key]` would find `constructor`, `toString` or `__proto__` on Object.prototype.
 */
export function ownEntry<T>(table: Readonly<Record<string, T>>, key: string): T | undefined {
  return Object.hasOwn(table, key) ? table[key] : undefined;
}

/**
 * Canonical JSON: object keys sorted (by UTF-16 code units, `Array.prototype.sort`) at every depth, no whitespace;
 * equal values give equal text whatever the key order on the wire. The one canonical form of the pipeline: the
 * ingest's raw event ids and the parser's event ids both hash it.
 *
 * Built as text rather than through a sorted copy, so that the order is the sorted order for every key (an object
 * copy would put integer-like keys such as `"10"` first, in numeric order) and an own `__proto__` key is kept (an
 * object copy would set the copy's prototype instead and drop the key and its value from the text). Properties
 * whose value is `undefined` are left out and `undefined` in an array is `null`, as `JSON.stringify` does.
 */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value))
    return `[${value.map((v) => canonicalJson(v === undefined ? null : v)).join(',')}]`;
  if (isJsonObject(value)) {
    const keys = Object.keys(value)
      .filter((k) => value[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k])}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
