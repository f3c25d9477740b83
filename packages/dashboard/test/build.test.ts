import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadDashboardAssets } from '../src/assets.js';
import { buildDashboard } from '../src/build.js';

describe('pnpm build:dashboard', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('a rebuild keeps the files an earlier build named, and the manifest names only files that are there', async () => {
    const parent = await mkdtemp(path.join(tmpdir(), 'dashboard-build-'));
    dirs.push(parent);
    const dist = path.join(parent, 'dist');
    // what a page sent by a running api before the rebuild still asks for
    await buildDashboard(dist);
    const earlier = 'app-EARLIER1.js';
    await writeFile(path.join(dist, earlier), 'export {};\n');
    await buildDashboard(dist);

    const assets = (await loadDashboardAssets(dist))!;
    expect(assets.files.has(earlier)).toBe(true);
    await expect(readFile(path.join(dist, earlier), 'utf8')).resolves.toBe('export {};\n');
    const present = new Set(await readdir(dist));
    for (const name of [assets.names.js, assets.names.css, assets.names.icon, ...assets.files.keys()])
      expect(present.has(name), name).toBe(true);
    // no scratch directory left beside it
    expect(await readdir(parent)).toEqual(['dist']);
  });
});
