/**
 * Postgres `text` and `jsonb` cannot hold U+0000 (NUL): a row carrying one is refused ("unsupported Unicode escape
 * sequence", SQLSTATE 22P05), which would dead-letter a chat event for one character its sender controls. The
 * projection replaces every U+0000 in the strings and object keys it writes with U+FFFD (the replacement
 * character), so the row keeps its place and shows where the character was. Lone surrogates (not Unicode,
 * refused by jsonb as escapes) are replaced the same way.
 */
export const NUL_REPLACEMENT = '\uFFFD';

// With the u flag a well-formed surrogate pair is one code point, so these match lone surrogates only.
const LONE_SURROGATE = /\p{Surrogate}/u;
const LONE_SURROGATES = /\p{Surrogate}/gu;

/**
 * The value with every U+0000 in its strings and object keys replaced by U+FFFD, at any depth. Copy on write: a
 * value without U+0000 (nearly all) is returned as is, allocating nothing.
 */
export function replaceNul<T>(value: T): T {
  return replace(value) as T;
}

function replace(value: unknown): unknown {
  if (typeof value === 'string') {
    const withoutNul = value.includes('\u0000') ? value.replaceAll('\u0000', NUL_REPLACEMENT) : value;
    // A lone surrogate (e.g. "\ud800" in a body's JSON) is written by JSON.stringify as an escape jsonb refuses.
    return LONE_SURROGATE.test(withoutNul)
      ? withoutNul.replace(LONE_SURROGATES, NUL_REPLACEMENT)
      : withoutNul;
  }
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      const replaced = replace(item);
      if (replaced !== item) (copy ??= [...value])[i] = replaced;
    }
    return copy ?? value;
  }
  // Records decoded by avsc are class instances: like plain objects, they are written as their own fields.
  // Objects that serialise themselves (Date, Buffer) are left alone.
  if (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { toJSON?: unknown }).toJSON !== 'function'
  ) {
    // Nearly every object is left as it is: each key and value is replaced once (a second call on a changed child
    // would double the work at every level of nesting: exponential in a depth the sender controls), and entries
    // are only copied from the first change on.
    const record = value as Record<string, unknown>;
    const keys = Object.keys(record);
    let entries: [string, unknown][] | undefined;
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i] as string;
      const item = record[key];
      const newKey = replace(key) as string;
      const newItem = replace(item);
      if (entries === undefined && (newKey !== key || newItem !== item))
        entries = keys.slice(0, i).map((k) => [k, record[k]]);
      entries?.push([newKey, newItem]);
    }
    // fromEntries defines own properties (a "__proto__" key stays a key, as JSON.parse made it).
    return entries === undefined ? value : Object.fromEntries(entries);
  }
  return value;
}
