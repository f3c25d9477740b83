/**
 * pnpm privacy erase --tenant <id> (--customer-id <id|-> | --email <address|->) [--request-id <id>]
 * pnpm privacy retention --tenant <id> (--days N | --default)
 * pnpm privacy rewrap
 * pnpm privacy audit --tenant <id>
 * Configuration: the service's (DATABASE_URL, PRIVACY_KEYS, PRIVACY_EMAIL_HASH_KEY, PRIVACY_PROJECTIONS, …).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCli } from './cli-run.js';

/**
 * Next to `npm start`: with PRIVACY_KEYS unset (and outside production) the local keys `npm start` generated into
 * the stack's data folder (scripts/local-privacy-keys.ts writes them there), so `pnpm privacy erase` works in a
 * second terminal as it is.
 */
function localDevKeys(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  if (env['PRIVACY_KEYS'] !== undefined || env['NODE_ENV'] === 'production') return env;
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
  const home = path.resolve(env['STACK_HOME'] ?? path.join(root, 'infra', '.local'));
  const file = path.join(home, 'data', 'privacy', 'local-dev-keys.json');
  try {
    const keys = JSON.parse(readFileSync(file, 'utf8')) as { keys: string; emailHashKey: string };
    process.stderr.write(`PRIVACY_KEYS unset: using npm start's local keys (${file})\n`);
    return { ...env, PRIVACY_KEYS: keys.keys, PRIVACY_EMAIL_HASH_KEY: keys.emailHashKey };
  } catch {
    return env;
  }
}

/** Standard input, at most 64 KiB (one customer id or e-mail is asked for; the rest is not read). */
async function readStdin(): Promise<string> {
  let text = '';
  for await (const chunk of process.stdin) {
    text += String(chunk);
    if (text.length > 65_536 || text.includes('\n')) break;
  }
  return text.slice(0, 65_536);
}

runCli(process.argv.slice(2), {
  env: localDevKeys(process.env),
  readStdin,
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
}).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
