import { copyFile, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { DASHBOARD_DIST_DIR, MANIFEST_FILE } from './assets.js';

const UI_DIR = fileURLToPath(new URL('../ui/', import.meta.url));

/**
 * Bundles the browser app (ui/main.ts with Chart.js, ui/style.css) into content-hashed files under dist/ and
 * writes manifest.json naming them. Everything the page needs is in dist: no CDN, so it works offline.
 */
export async function buildDashboard(outdir: string = DASHBOARD_DIST_DIR): Promise<void> {
  await rm(outdir, { recursive: true, force: true });
  await mkdir(outdir, { recursive: true });
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
  const files = (await readdir(outdir)).filter((f) => f !== MANIFEST_FILE);
  await writeFile(
    path.join(outdir, MANIFEST_FILE),
    JSON.stringify({ js: pick('app-', '.js'), css: pick('style-', '.css'), icon, files }, null, 2),
  );
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const started = Date.now();
  await buildDashboard();
  console.log(
    `dashboard: built ${path.relative(process.cwd(), DASHBOARD_DIST_DIR)} in ${Date.now() - started} ms`,
  );
}
