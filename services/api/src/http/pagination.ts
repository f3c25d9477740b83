import { createHash } from 'node:crypto';
import { z } from 'zod';
import { ApiError } from '../errors.js';

export const MAX_LIMIT = 200;

/** `limit` and `cursor`, shared by every list endpoint. */
export const pageQuery = {
  limit: z
    .number()
    .int()
    .min(1)
    .max(MAX_LIMIT)
    .default(50)
    .describe(`Rows per page, 1–${MAX_LIMIT} (default 50)`),
  cursor: z
    .string()
    .max(400)
    .regex(/^[A-Za-z0-9_-]+$/, 'must be a cursor returned as next_cursor')
    .optional()
    .describe('The `next_cursor` of the previous page (opaque); the other parameters must stay the same'),
};

/** A digest of the filters a cursor was made for: a cursor reused with other filters is refused. */
export function filtersDigest(filters: Record<string, unknown>): string {
  const canonical = JSON.stringify(Object.entries(filters).sort(([a], [b]) => a.localeCompare(b)));
  return createHash('sha256').update(canonical).digest('base64url').slice(0, 10);
}

/** The position after the last row of a page (sort key and id) and the filters' digest, base64url JSON. */
export function encodeCursor(position: readonly (string | number)[], digest: string): string {
  return Buffer.from(JSON.stringify({ p: position, f: digest }), 'utf8').toString('base64url');
}

export function decodeCursor(
  cursor: string,
  digest: string,
  shape: readonly ('string' | 'number')[],
): (string | number)[] {
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    decoded = null;
  }
  const value = decoded as { p?: unknown; f?: unknown } | null;
  const position = value?.p;
  if (
    !Array.isArray(position) ||
    position.length !== shape.length ||
    position.some((v, i) => typeof v !== shape[i] || (typeof v === 'number' && !Number.isSafeInteger(v)))
  )
    throw new ApiError('API_BAD_CURSOR', 'cursor: not a cursor this endpoint returned');
  if (value?.f !== digest)
    throw new ApiError(
      'API_BAD_CURSOR',
      'cursor: it was returned for other filters; keep them the same while paging',
    );
  return position as (string | number)[];
}
