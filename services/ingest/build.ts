/**
 * `pnpm --filter @livechat-pipeline/ingest build`: bundles src/main.ts and everything it imports (workspace
 * packages, fastify, kafkajs, pg, ...) into one ESM file, dist/main.js, run with plain `node` (start:dist): no tsx
 * loader and no TypeScript compile at start-up. That costs less memory (measured by `pnpm bench:ingest`, see the
 * README's Benchmark section) and starts faster.
 *
 * dist/main.js sits as deep in the repository as packages/events/src/schemas.ts, so that file's
 * `new URL('../../../schemas/', import.meta.url)` finds the repository's schemas/ from the bundle too; the build
 * checks it, so moving either breaks the build, not the start.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));
const DIST_MAIN = here('./dist/main.js');

if (!existsSync(fileURLToPath(new URL('../../../schemas/', new URL('./dist/main.js', import.meta.url))))) {
  throw new Error('dist/main.js would not find the schemas directory (../../../schemas/ from it)');
}
await build({
  entryPoints: [here('./src/main.ts')],
  outfile: DIST_MAIN,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: 'linked',
  logLevel: 'warning',
  // CommonJS dependencies (kafkajs, pg, pino) call require(): an ESM bundle has none of its own.
  banner: {
    js: "import { createRequire as __ingestCreateRequire } from 'node:module'; const require = __ingestCreateRequire(import.meta.url);",
  },
});
process.stdout.write(`built ${DIST_MAIN}\n`);
