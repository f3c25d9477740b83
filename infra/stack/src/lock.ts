import { openSync, closeSync, writeSync, readFileSync, rmSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { isAlive } from './daemon.js';

/**
 * Serialises `up` and `down` between processes (a test file restarting the broker while another
 * process brings the stack up must not start a second broker). The lock file holds the owner's
 * pid; a lock whose owner died is taken over.
 */
export async function withStackLock<T>(runDir: string, timeoutMs: number, fn: () => Promise<T>): Promise<T> {
  mkdirSync(runDir, { recursive: true });
  const lockFile = path.join(runDir, 'stack.lock');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const fd = openSync(lockFile, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const owner = Number(readFileSafe(lockFile));
      if (!Number.isInteger(owner) || owner <= 0 || !isAlive(owner)) {
        rmSync(lockFile, { force: true });
        continue;
      }
      if (Date.now() > deadline)
        throw new Error(`the local stack is locked by process ${owner} (${lockFile})`);
      await sleep(200);
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lockFile, { force: true });
  }
}

function readFileSafe(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    return '';
  }
}
