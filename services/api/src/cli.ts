/**
 * pnpm api-keys create --tenant <id> [--name <label>] [--admin]   prints a new key once (stdout), its id on stderr
 * pnpm api-keys list [--tenant <id>]                              id | tenant | name | admin | created | revoked
 * pnpm api-keys revoke <id>                                       the key stops working at its next request
 * pnpm api-keys revoke-sessions --tenant <id>                     ends the tenant's dashboard sessions (keys and app links)
 * Connection: DATABASE_URL and API_SCHEMA, as the service (the schema is created or migrated when needed).
 */
import { parseArgs } from 'node:util';
import { loadApiConfig } from './config.js';
import { createApiPool } from './deps.js';
import { isApiError } from './errors.js';
import { DashboardSessionStore } from './dashboard/store.js';
import { ApiKeyStore } from './keys.js';
import { migrateApiSchema, quoteIdent } from './migrations.js';

const USAGE =
  'usage: pnpm api-keys create --tenant <id> [--name <label>] [--admin] | pnpm api-keys list [--tenant <id>] | pnpm api-keys revoke <key id> | pnpm api-keys revoke-sessions --tenant <id>';

async function main(argv: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { tenant: { type: 'string' }, name: { type: 'string' }, admin: { type: 'boolean' } },
  });
  const [command, ...rest] = positionals;
  const valid =
    (command === 'create' && rest.length === 0 && (values.tenant ?? '').trim() !== '') ||
    (command === 'list' && rest.length === 0) ||
    (command === 'revoke' && rest.length === 1) ||
    (command === 'revoke-sessions' && rest.length === 0 && (values.tenant ?? '').trim() !== '');
  if (!valid) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  const config = loadApiConfig(process.env);
  const pool = createApiPool({ ...config, database: { ...config.database, poolSize: 1 } });
  try {
    await migrateApiSchema(pool, config.database.schema);
    const keys = new ApiKeyStore(pool, config.database.schema);
    if (command === 'create') {
      const { key, record } = await keys.create({
        tenant: values.tenant!,
        ...(values.name === undefined ? {} : { name: values.name }),
        admin: values.admin === true,
      });
      process.stdout.write(`${key}\n`);
      process.stderr.write(
        `created key ${record.id} for tenant ${record.tenant}${record.admin ? ' (admin)' : ''}: it is shown once, store it now\n`,
      );
      return 0;
    }
    if (command === 'list') {
      const records = await keys.list(values.tenant);
      for (const r of records)
        process.stdout.write(
          `${r.id} | ${r.tenant} | ${r.name} | ${r.admin ? 'admin' : '-'} | ${r.createdAt} | ${r.revokedAt === null ? 'active' : `revoked ${r.revokedAt}`}\n`,
        );
      process.stderr.write(`${records.length} key(s)\n`);
      return 0;
    }
    if (command === 'revoke-sessions') {
      const tenant = values.tenant!.trim();
      await new DashboardSessionStore(pool, quoteIdent(config.database.schema)).revokeTenant(tenant);
      process.stderr.write(`ended the dashboard sessions of tenant ${tenant} (new sign-ins work)
`);
      return 0;
    }
    const record = await keys.revoke(rest[0]!);
    process.stderr.write(`revoked key ${record.id} of tenant ${record.tenant}\n`);
    return 0;
  } finally {
    await pool.end();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(
      `${isApiError(error) ? `${error.code}: ` : ''}${error instanceof Error ? error.message : String(error)}\n`,
    );
    process.exit(1);
  },
);
