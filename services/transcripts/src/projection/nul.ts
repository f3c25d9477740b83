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
    // Nearly every object is left as it is: look before allocating anything.
    const record = value as Record<string, unknown>;
    const keys = Object.keys(record);
    let at = 0;
    for (; at < keys.length; at++) {
      const key = keys[at] as string;
      const item = record[key];
      if (replace(key) !== key || replace(item) !== item) break;
    }
    if (at === keys.length) return value;
    return Object.fromEntries(keys.map((key) => [replace(key) as string, replace(record[key])] as const));
  }
  return value;
}
