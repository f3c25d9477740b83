import { createHash } from 'node:crypto';
import type { QueryConfig } from 'pg';

const names = new Map<string, string>();

/**
 * A named (prepared) statement for `text`: each connection plans it once and reuses the plan, which matters for
 * the queries over the transcripts views, whose planning costs more than their execution. The name is a digest of
 * the text, so the few shapes a query takes (filters present or not) each get their own.
 */
export function prepared(text: string, values: readonly unknown[]): QueryConfig<unknown[]> {
  let name = names.get(text);
  if (name === undefined) {
    name = `api_${createHash('sha256').update(text).digest('hex').slice(0, 24)}`;
    if (names.size < 1_000) names.set(text, name);
  }
  return { name, text, values: [...values] };
}
