#!/usr/bin/env node
// Entry of `npm start` and `npm test` on a fresh clone: installs pnpm (with npm: corepack's
// signature check fails on some machines) and the dependencies when they are missing, then hands
// over to pnpm. Plain JavaScript with no dependencies, because nothing is installed yet.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const [task, ...args] = process.argv.slice(2);
const tasks = { start: 'main', test: 'test:all' };
if (!(task in tasks)) {
  console.error(`bootstrap: unknown task "${task}" (start | test)`);
  process.exit(2);
}

const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 20 || (major === 20 && minor < 19)) {
  console.error(`bootstrap: Node ${process.versions.node} is too old: install Node 20.19 or newer`);
  process.exit(1);
}

const wantedPnpm = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')).packageManager.split(
  '@',
)[1];
const localPnpmDir = path.join(root, '.local', 'pnpm');
const localPnpm = path.join(localPnpmDir, 'node_modules', '.bin', 'pnpm');

function run(command, commandArgs, options = {}) {
  const result = spawnSync(command, commandArgs, { stdio: 'inherit', cwd: root, ...options });
  if (result.error) return { ok: false, status: 1, error: result.error };
  return { ok: result.status === 0, status: result.status ?? 1 };
}

function pnpmVersion(bin) {
  const result = spawnSync(bin, ['--version'], { encoding: 'utf8', cwd: root });
  return result.status === 0 ? result.stdout.trim() : undefined;
}

function findPnpm() {
  const onPath = pnpmVersion('pnpm');
  if (onPath?.split('.')[0] === wantedPnpm.split('.')[0]) return 'pnpm';
  if (existsSync(localPnpm) && pnpmVersion(localPnpm)) return localPnpm;
  console.error(`bootstrap: installing pnpm ${wantedPnpm} with npm…`);
  if (
    run('npm', ['install', '-g', `pnpm@${wantedPnpm}`, '--no-fund', '--no-audit']).ok &&
    pnpmVersion('pnpm') === wantedPnpm
  ) {
    return 'pnpm';
  }
  // No permission for a global install: keep a private copy in the repository's .local folder.
  if (
    run('npm', [
      'install',
      '--prefix',
      localPnpmDir,
      `pnpm@${wantedPnpm}`,
      '--no-fund',
      '--no-audit',
      '--no-save',
    ]).ok
  ) {
    return localPnpm;
  }
  console.error('bootstrap: could not install pnpm with npm (is the npm registry reachable?)');
  process.exit(1);
}

function dependenciesStale() {
  const marker = path.join(root, 'node_modules', '.modules.yaml');
  if (!existsSync(marker)) return true;
  return statSync(path.join(root, 'pnpm-lock.yaml')).mtimeMs > statSync(marker).mtimeMs;
}

const pnpm = findPnpm();
if (dependenciesStale()) {
  console.error('bootstrap: installing dependencies (pnpm install --frozen-lockfile)…');
  if (!run(pnpm, ['install', '--frozen-lockfile']).ok) process.exit(1);
}
const result = run(pnpm, ['run', '--silent', tasks[task], ...args]);
process.exit(result.status);
