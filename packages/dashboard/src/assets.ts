import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AssetNames } from './pages.js';

/**
 * Where `pnpm build:dashboard` writes the bundle (git-ignored; `npm start` and `npm test` build it first); the
 * api reads DASHBOARD_ASSETS_DIR instead when set (the browser test builds into a temporary directory).
 */
export const DASHBOARD_DIST_DIR = fileURLToPath(new URL('../dist/', import.meta.url));
export const MANIFEST_FILE = 'manifest.json';

export interface DashboardAssets {
  readonly names: AssetNames;
  /** Every servable file name (content-hashed) and its media type; nothing else under dist is served. */
  readonly files: ReadonlyMap<string, string>;
  readonly dir: string;
}

const MEDIA_TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.map': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
};

/** The built assets, or null when the bundle has not been built (the api then answers 503 on /dashboard). */
export async function loadDashboardAssets(dir: string = DASHBOARD_DIST_DIR): Promise<DashboardAssets | null> {
  let manifest: unknown;
  try {
    manifest = JSON.parse(await readFile(path.join(dir, MANIFEST_FILE), 'utf8'));
  } catch {
    return null;
  }
  const m = manifest as Partial<Record<'js' | 'css' | 'icon', unknown>> & { files?: unknown };
  if (typeof m.js !== 'string' || typeof m.css !== 'string' || typeof m.icon !== 'string') return null;
  const files = new Map<string, string>();
  for (const name of Array.isArray(m.files) ? m.files : []) {
    if (typeof name !== 'string' || !/^[\w.-]+$/.test(name)) continue;
    const type = MEDIA_TYPES[path.extname(name)];
    if (type !== undefined) files.set(name, type);
  }
  return { names: { js: m.js, css: m.css, icon: m.icon }, files, dir };
}
