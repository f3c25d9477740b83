import { hostname } from 'node:os';
import { readFileSync } from 'node:fs';
import { open, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { IngestError } from '../errors.js';

export interface SpoolLock {
  release(): Promise<void>;
}

interface LockOwner {
  readonly pid: number;
  readonly host: string;
  /** The process's start time (Linux /proc/<pid>/stat field 22), so a reused pid is not taken for the owner. */
  readonly started?: string;
}

const LOCK_FILE = 'LOCK';
/** Directories this process holds: a second open in the same process is refused too (its pid is ours). */
const heldHere = new Set<string>();

/**
 * Takes the spool directory for this process: a `LOCK` file with our pid and host name, created exclusively. A
 * lock left by a process that is gone (same host, pid not alive, or our own pid after a container restart) is
 * taken over; a live owner, or one on another host (the volume is shared, which it must not be), refuses the
 * start with INGEST_SPOOL_LOCKED.
 */
export async function acquireSpoolLock(dir: string): Promise<SpoolLock> {
  const file = path.join(dir, LOCK_FILE);
  const started = processStartTime(process.pid);
  const me: LockOwner = { pid: process.pid, host: hostname(), ...(started === undefined ? {} : { started }) };
  const key = path.resolve(dir);
  if (heldHere.has(key)) {
    throw new IngestError(
      'INGEST_SPOOL_LOCKED',
      `INGEST_SPOOL_LOCKED: spool directory ${dir} is already open in this process: one spool per directory`,
    );
  }
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const handle = await open(file, 'wx');
      try {
        await handle.writeFile(JSON.stringify(me));
        await handle.sync();
      } finally {
        await handle.close();
      }
      let released = false;
      heldHere.add(key);
      return {
        async release() {
          if (released) return;
          released = true;
          heldHere.delete(key);
          await rm(file, { force: true });
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const owner = await readOwner(file);
    if (owner !== undefined && owner.host !== me.host) {
      throw new IngestError(
        'INGEST_SPOOL_LOCKED',
        `INGEST_SPOOL_LOCKED: spool directory ${dir} is locked by pid ${owner.pid} on host ${owner.host.slice(0, 100)}: one ingest process per spool directory (give each replica its own volume); delete ${file} only if that process is gone`,
      );
    }
    if (owner !== undefined && owner.pid !== me.pid && isAlive(owner.pid, owner.started)) {
      throw new IngestError(
        'INGEST_SPOOL_LOCKED',
        `INGEST_SPOOL_LOCKED: spool directory ${dir} is in use by another ingest process (pid ${owner.pid}): one ingest process per spool directory`,
      );
    }
    // Stale (or unreadable: a crash while it was written): take it over.
    await rm(file, { force: true });
  }
  throw new IngestError('INGEST_SPOOL_LOCKED', `INGEST_SPOOL_LOCKED: could not take the lock ${file}`);
}

async function readOwner(file: string): Promise<LockOwner | undefined> {
  try {
    const parsed = JSON.parse(await readFile(file, 'utf8')) as Partial<LockOwner>;
    if (typeof parsed.pid === 'number' && typeof parsed.host === 'string') {
      return {
        pid: parsed.pid,
        host: parsed.host,
        ...(typeof parsed.started === 'string' ? { started: parsed.started } : {}),
      };
    }
  } catch {
    // missing or torn
  }
  return undefined;
}

/** Whether `pid` is alive and (when both are known) is the process that started at `started`. */
function isAlive(pid: number, started: string | undefined): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const now = processStartTime(pid);
  return started === undefined || now === undefined || now === started;
}

/** Field 22 of /proc/<pid>/stat (start time in clock ticks since boot); undefined where there is no /proc. */
function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces and parentheses: count from the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}
