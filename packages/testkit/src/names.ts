import { randomBytes } from 'node:crypto';

/** A name no other test (or earlier run) uses: topics, consumer groups, Postgres schemas. */
export function uniqueName(prefix: string): string {
  const safe = prefix.toLowerCase().replace(/[^a-z0-9_.-]+/g, '-');
  return `${safe}-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
}
