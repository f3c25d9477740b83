/**
 * The root package.json's scripts that hand a word to `pnpm --filter <package>`: pnpm runs its own command when the
 * word is one of its built-ins (`pnpm --filter x rebuild` rebuilt native modules and never ran the package's
 * `rebuild` script, so `pnpm transcripts:rebuild` did nothing for a while). Such a word needs `run`.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

// pnpm 9/10 commands that shadow a package script of the same name (`pnpm help` lists them); `run` and `exec` are the
// explicit ways and allowed.
const PNPM_BUILT_INS = new Set([
  'add',
  'audit',
  'bin',
  'cache',
  'cat-file',
  'cat-index',
  'config',
  'create',
  'dedupe',
  'deploy',
  'dlx',
  'doctor',
  'env',
  'fetch',
  'find-hash',
  'i',
  'import',
  'init',
  'install',
  'install-test',
  'it',
  'licenses',
  'link',
  'list',
  'ln',
  'ls',
  'outdated',
  'pack',
  'patch',
  'patch-commit',
  'patch-remove',
  'prune',
  'publish',
  'rb',
  'rebuild',
  'remove',
  'rm',
  'root',
  'self-update',
  'server',
  'setup',
  'store',
  'un',
  'uninstall',
  'unlink',
  'up',
  'update',
  'why',
]);

const scripts = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    scripts: Record<string, string>;
  }
).scripts;

describe('root scripts', () => {
  const filtered = Object.entries(scripts).flatMap(([name, command]) =>
    [...command.matchAll(/pnpm (?:-\S+ )*--filter \S+ (?:-\S+ )*(\S+)/g)].map((m) => [name, m[1]!] as const),
  );

  it('finds the filtered scripts', () => {
    expect(filtered.map(([name]) => name)).toContain('transcripts:rebuild');
  });

  it.each(filtered)(
    '%s hands pnpm a package script, not one of its built-in commands (%s)',
    (_name, word) => {
      expect(PNPM_BUILT_INS.has(word)).toBe(false);
    },
  );
});
