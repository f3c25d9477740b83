import { hostname } from 'node:os';
import { readFileSync } from 'node:fs';
import { link, open, readFile, rm } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
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
  // The lock is written whole under a name of our own, then linked to LOCK: link() fails if LOCK exists, so there
  // is never an empty or half-written LOCK that a concurrent starter could take for a stale one.
  const mine = path.join(dir, `${LOCK_FILE}.${process.pid}.tmp`);
  const handle = await open(mine, 'w');
  try {
    await handle.writeFile(JSON.stringify(me));
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    for (let attempt = 0; attempt < 100; attempt++) {
      try {
        await link(mine, file);
        heldHere.add(key);
        let released = false;
        return {
          async release() {
            if (released) return;
            released = true;
            heldHere.delete(key);
            const owner = await readOwner(file);
            if (owner?.pid === me.pid && owner.host === me.host) await rm(file, { force: true });
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
      // Stale. Only the holder of LOCK.break may remove a LOCK, and only one it judged stale while holding it:
      // then no starter can remove a fresh lock another starter linked meanwhile (moving LOCK aside could).
      const breakFile = path.join(dir, `${LOCK_FILE}.break`);
      const breaking = await tryCreateExclusive(breakFile, JSON.stringify(me));
      if (!breaking) {
        // Another starter is breaking the stale lock; a break file left by a dead process is removed.
        const breaker = await readOwner(breakFile);
        if (breaker !== undefined && breaker.host === me.host && !isAlive(breaker.pid, breaker.started))
          await rm(breakFile, { force: true });
        await sleep(20 + Math.floor(Math.random() * 30));
        continue;
      }
      try {
        const now = await readOwner(file);
        if (sameOwner(now, owner)) await rm(file, { force: true });
      } finally {
        await rm(breakFile, { force: true });
      }
    }
    throw new IngestError('INGEST_SPOOL_LOCKED', `INGEST_SPOOL_LOCKED: could not take the lock ${file}`);
  } finally {
    await rm(mine, { force: true });
  }
}

/** Creates `file` with `content` unless it exists (O_EXCL); false when it does. */
async function tryCreateExclusive(file: string, content: string): Promise<boolean> {
  let handle;
  try {
    handle = await open(file, 'wx');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
  try {
    await handle.writeFile(content);
    await handle.sync();
  } finally {
    await handle.close();
  }
  return true;
}

function sameOwner(a: LockOwner | undefined, b: LockOwner | undefined): boolean {
  return a?.pid === b?.pid && a?.host === b?.host && a?.started === b?.started;
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
