import { copyFile, mkdir, mkdtemp, readdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { DASHBOARD_DIST_DIR, MANIFEST_FILE } from './assets.js';

const UI_DIR = fileURLToPath(new URL('../ui/', import.meta.url));

/**
 * Bundles the browser app (ui/main.ts with Chart.js, ui/style.css) into content-hashed files under dist/ and
 * writes manifest.json naming them. Everything the page needs is in dist: no CDN, so it works offline.
 *
 * A running api keeps serving through a rebuild: the bundle is built in a scratch directory next to `outdir`,
 * its files are added to `outdir` (an earlier build's files stay, so a page already sent still finds its
 * assets), and manifest.json is replaced last by a rename, so it never names a file not yet there.
 */
export async function buildDashboard(outdir: string = DASHBOARD_DIST_DIR): Promise<void> {
  const target = path.resolve(outdir);
  await mkdir(path.dirname(target), { recursive: true });
  const scratch = await mkdtemp(`${target}.build-`);
  try {
    const names = await buildInto(scratch);
    await mkdir(target, { recursive: true });
    for (const name of await readdir(scratch))
      await rename(path.join(scratch, name), path.join(target, name));
    // every file there is servable: an earlier build's, for the pages that name them
    const files = (await readdir(target)).filter((f) => f !== MANIFEST_FILE && !f.includes('.build-'));
    const manifest = path.join(scratch, MANIFEST_FILE);
    await writeFile(manifest, JSON.stringify({ ...names, files }, null, 2));
    await rename(manifest, path.join(target, MANIFEST_FILE));
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

async function buildInto(outdir: string): Promise<{ js: string; css: string; icon: string }> {
  const result = await build({
    entryPoints: { app: path.join(UI_DIR, 'main.ts'), style: path.join(UI_DIR, 'style.css') },
    outdir,
    entryNames: '[name]-[hash]',
    bundle: true,
    format: 'esm',
    target: ['es2022'],
    minify: true,
    sourcemap: 'linked',
    metafile: true,
    logLevel: 'warning',
    legalComments: 'linked',
  });
  const icon = 'icon.svg';
  await copyFile(path.join(UI_DIR, icon), path.join(outdir, icon));
  const outputs = Object.keys(result.metafile.outputs).map((p) => path.basename(p));
  const pick = (prefix: string, ext: string) => {
    const name = outputs.find((o) => o.startsWith(prefix) && o.endsWith(ext));
    if (name === undefined) throw new Error(`dashboard build: no ${prefix}*${ext} in the output`);
    return name;
  };
  return { js: pick('app-', '.js'), css: pick('style-', '.css'), icon };
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const started = Date.now();
  // an optional directory (the browser test builds into a temporary one, leaving a running api's dist alone)
  const outdir = process.argv[2] ?? DASHBOARD_DIST_DIR;
  await buildDashboard(outdir);
  console.log(`dashboard: built ${path.relative(process.cwd(), outdir)} in ${Date.now() - started} ms`);
}
