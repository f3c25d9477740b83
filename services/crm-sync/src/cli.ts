/**
 * pnpm crm dead-letters list [--all]            threads HubSpot refused (crm.dead_letters), not yet replayed
 * pnpm crm dead-letters replay --id N [--id M] | --all   send them again (through the outbox)
 * pnpm crm erasures --tenant <id>               HubSpot work of erasures (crm.hubspot_erasures): notes still to
 *                                               delete, contacts for the tenant to erase; HubSpot ids only
 * pnpm crm erasures done --tenant <id> --id N [--id M]   the tenant erased those rows' contacts in HubSpot:
 *                                               `contact_manual` → `contact_erased`, the contact id forgotten
 * pnpm crm rebuild                             replays the projection with the service's configuration (CRM_*,
 *                                               PRIVACY_*: sealed events opened with the vault); src/rebuild-cli.ts
 * Connection: DATABASE_URL (default: the local stack), CRM_SCHEMA (default crm).
 */
import { parseArgs } from 'node:util';
import pg from 'pg';
import { listDeadLetters, replayDeadLetters } from './dead-letters.js';
import { rebuildCrm } from './rebuild-cli.js';
import { listErasures, markContactsErased } from './sync/erasures.js';

const USAGE =
  'usage: pnpm crm dead-letters list [--all] | pnpm crm dead-letters replay (--id N ... | --all) | pnpm crm erasures [done --id N ...] --tenant <id> | pnpm crm rebuild';

async function main(argv: string[]): Promise<number> {
  if (argv.length === 1 && argv[0] === 'rebuild') {
    await rebuildCrm(process.env);
    return 0;
  }
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      id: { type: 'string', multiple: true },
      all: { type: 'boolean' },
      tenant: { type: 'string' },
    },
  });
  const [group, command] = positionals;
  const erasures = group === 'erasures' && (command === undefined || command === 'done');
  if (erasures && (values.tenant === undefined || values.tenant === '')) {
    process.stderr.write('pnpm crm erasures needs --tenant <id>\n');
    return 2;
  }
  const ids = values.id ?? [];
  if (erasures && command === 'done' && (ids.length === 0 || ids.some((id) => !/^[0-9]{1,18}$/.test(id)))) {
    process.stderr.write('pnpm crm erasures done needs --id N (the row ids `pnpm crm erasures` lists)\n');
    return 2;
  }
  if (!erasures && (group !== 'dead-letters' || (command !== 'list' && command !== 'replay'))) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  const schema = process.env['CRM_SCHEMA'] ?? 'crm';
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) {
    process.stderr.write('CRM_SCHEMA must be a lower-case Postgres identifier\n');
    return 2;
  }
  const pool = new pg.Pool({
    connectionString: process.env['DATABASE_URL'] ?? 'postgres://postgres:postgres@127.0.0.1:55432/postgres',
    max: 1,
  });
  try {
    if (erasures && command === 'done') {
      const n = await markContactsErased(pool, schema, values.tenant!, ids);
      process.stderr.write(
        `${n} row(s) marked contact_erased (only contact_manual rows of the tenant change)\n`,
      );
      return 0;
    }
    if (erasures) {
      const rows = await listErasures(pool, schema, values.tenant!);
      process.stdout.write(
        'id | request | status | HubSpot contact | notes deleted | notes left | look-ups left | attempts | last error | created | updated\n',
      );
      for (const r of rows)
        process.stdout.write(
          `${r.id} | ${r.requestId ?? '-'} | ${r.status} | ${r.contactId ?? '-'} | ${r.notesDeleted} | ${r.notesLeft} | ${r.lookupsLeft} | ${r.attempts} | ${r.lastErrorCode ?? '-'} | ${r.createdAt.toISOString()} | ${r.updatedAt.toISOString()}\n`,
        );
      const manual = rows.filter((r) => r.status === 'contact_manual').length;
      process.stderr.write(
        `${rows.length} erasure row(s); ${rows.filter((r) => r.status === 'pending').length} pending; ${manual} contact(s) for the tenant to erase in HubSpot (see services/crm-sync/README.md, Erasure)\n`,
      );
      return 0;
    }
    if (command === 'list') {
      const letters = await listDeadLetters(pool, schema, { all: values.all === true });
      for (const d of letters)
        process.stdout.write(
          `${d.id} | ${d.tenant}/${d.chatId}/${d.threadId} | ${d.code} | ${d.httpStatus ?? '-'} | ${d.message} | ${d.failedAt.toISOString()}${d.replayedAt === null ? '' : ` | replayed ${d.replayedAt.toISOString()}`}\n`,
        );
      process.stderr.write(`${letters.length} dead letter(s)\n`);
      return 0;
    }
    if (values.all !== true && (values.id === undefined || values.id.length === 0)) {
      process.stderr.write(`${USAGE}\n`);
      return 2;
    }
    const n = await replayDeadLetters(pool, schema, values.all === true ? 'all' : values.id!);
    process.stderr.write(`${n} thread(s) sent again\n`);
    return 0;
  } finally {
    await pool.end();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
