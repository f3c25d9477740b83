/**
 * A child process for spool.test.ts: waits until `startAt` (ms since the epoch, so that several children start
 * together), tries to take the spool lock of `dir`, prints `locked` or the error code, and holds a lock it got for
 * `holdMs` before releasing it.
 */
import { acquireSpoolLock } from '../../src/spool/lock.js';

const [dir, startAt, holdMs] = process.argv.slice(2);
await new Promise((resolve) => setTimeout(resolve, Math.max(0, Number(startAt) - Date.now())));
try {
  const lock = await acquireSpoolLock(dir ?? '');
  process.stdout.write('locked\n');
  await new Promise((resolve) => setTimeout(resolve, Number(holdMs)));
  await lock.release();
} catch (err) {
  process.stdout.write(`${(err as { code?: string }).code ?? 'error'}\n`);
}
