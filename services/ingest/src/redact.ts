import type { JsonObject } from './webhook.js';

/** What replaces a secret in the stored body. */
export const REDACTED = '[redacted]';

/** Top-level body fields that carry credentials: the v2 API `token` and the v3 `secret_key`. */
export const SECRET_FIELDS = ['token', 'secret_key'] as const;

/**
 * A shallow copy of the body with the v2 `token` and the v3 `secret_key` replaced by "[redacted]" (when
 * present). Key order is kept; the input is not changed.
 */
export function redactBody(body: JsonObject): JsonObject {
  let copy: JsonObject | undefined;
  for (const key of SECRET_FIELDS) {
    if (Object.hasOwn(body, key)) {
      copy ??= { ...body };
      copy[key] = REDACTED;
    }
  }
  return copy ?? body;
}
