import { idAt, isJsonObject, stringAt } from './json.js';
import type { JsonObject } from './json.js';
import type { SourceFormat } from './types.js';

/**
 * Which webhook generation a body is: v3 bodies carry `action`, v2 bodies `event_type`. `action` wins when both are
 * present because only v3 has an envelope around its payload. Null when the body is neither.
 */
export function detectFormat(body: unknown): SourceFormat | null {
  if (!isJsonObject(body)) return null;
  if (stringAt(body, 'action') !== null) return 'v3';
  if (stringAt(body, 'event_type') !== null) return 'v2';
  return null;
}

/** The v3 `action` or the v2 `event_type`; null when the body has neither (as a non-empty string). */
export function webhookDiscriminator(body: unknown): string | null {
  if (!isJsonObject(body)) return null;
  return stringAt(body, 'action') ?? stringAt(body, 'event_type');
}

/**
 * The tenant a body names: v3.4+ `organization_id`, v3.2–3.3 `license_id` (a number, returned as its decimal text),
 * v2 `license_id` (already a string). Null when the body names none; the caller may then use its own hint.
 */
export function webhookTenant(body: unknown): string | null {
  if (!isJsonObject(body)) return null;
  return stringAt(body, 'organization_id') ?? idAt(body, 'license_id');
}

export function bodyObject(body: unknown): JsonObject | undefined {
  return isJsonObject(body) ? body : undefined;
}
