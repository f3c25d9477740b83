import { readdirSync } from 'node:fs';
import path from 'node:path';
import { currentSchemaPaths } from '../scripts/avro-to-ts.js';
import { loadAvroSchema, schemasDir } from '../src/schemas.js';
import type { LoadedSchema } from '../src/schemas.js';

/** A current schema and the versions released from it (schemas/<dir>/released/<name>.v<N>.avsc), oldest first. */
export interface SchemaHistory {
  /** e.g. `chat-events/chat-event.avsc`. */
  readonly path: string;
  readonly current: LoadedSchema;
  readonly released: readonly { readonly version: number; readonly schema: LoadedSchema }[];
}

/**
 * Every current schema with its released versions. A file in a released/ folder that is not named
 * `<current name>.v<N>.avsc` after a current schema of the parent folder is an error, so none is silently skipped.
 */
export function schemaHistories(): SchemaHistory[] {
  const current = currentSchemaPaths(schemasDir);
  const histories = current.map((p) => ({ path: p, current: loadAvroSchema(p), released: releasedOf(p) }));
  const claimed = new Set(histories.flatMap((h) => h.released.map((r) => r.schema.path)));
  const releasedFiles = readdirSync(schemasDir, { recursive: true, encoding: 'utf8' })
    .map((p) => p.split(path.sep).join('/'))
    .filter((p) => p.endsWith('.avsc') && p.split('/').includes('released'));
  const orphans = releasedFiles.filter((p) => !claimed.has(p));
  if (orphans.length > 0) {
    throw new Error(
      `released schemas not named <name>.v<N>.avsc after a current schema: ${orphans.join(', ')}`,
    );
  }
  return histories;
}

function releasedOf(currentPath: string): SchemaHistory['released'] {
  const dir = path.posix.dirname(currentPath);
  const name = path.posix.basename(currentPath, '.avsc');
  const pattern = new RegExp(`^${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.v(\\d+)\\.avsc$`);
  let files: string[];
  try {
    files = readdirSync(path.join(schemasDir, dir, 'released'));
  } catch {
    return [];
  }
  return files
    .flatMap((f) => {
      const match = pattern.exec(f);
      return match ? [{ version: Number(match[1]), file: f }] : [];
    })
    .sort((a, b) => a.version - b.version)
    .map(({ version, file }) => ({ version, schema: loadAvroSchema(`${dir}/released/${file}`) }));
}
