/**
 * pnpm privacy erase --tenant <id> (--customer-id <id> | --email <address>) [--request-id <id>]
 * pnpm privacy retention --tenant <id> (--days N | --default)
 * pnpm privacy rewrap
 * pnpm privacy audit --tenant <id>
 * Configuration: the service's (DATABASE_URL, PRIVACY_KEYS, PRIVACY_EMAIL_HASH_KEY, PRIVACY_PROJECTIONS, …).
 */
import { runCli } from './cli-run.js';

runCli(process.argv.slice(2), {
  env: process.env,
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
}).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
