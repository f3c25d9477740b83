/**
 * Writes src/generated/<name>.ts for every schemas/**\/*.avsc outside released/ folders, and removes generated files
 * whose schema is gone. Run: pnpm --filter @livechat-pipeline/events generate
 */
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { schemasDir } from '../src/schemas.js';
import { generateAll } from './avro-to-ts.js';

const generatedDir = fileURLToPath(new URL('../src/generated/', import.meta.url));

const files = generateAll(schemasDir);
mkdirSync(generatedDir, { recursive: true });
const wanted = new Set(files.map((f) => f.name));
for (const name of readdirSync(generatedDir)) {
  if (name.endsWith('.ts') && !wanted.has(name)) {
    rmSync(path.join(generatedDir, name));
    process.stdout.write(`removed src/generated/${name}\n`);
  }
}
for (const f of files) {
  writeFileSync(path.join(generatedDir, f.name), f.content);
  process.stdout.write(`schemas/${f.schemaPath} -> src/generated/${f.name}\n`);
}
