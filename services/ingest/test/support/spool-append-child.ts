/**
 * A child process for spool.test.ts: appends records of `size` bytes one after another to the spool in `dir` until
 * `count`, and prints one JSON line with each append's outcome. The test runs it under `ulimit -f` (the file size
 * limit), so a write fails part-way with EFBIG as on a full disk.
 */
import { DiskSpool } from '../../src/spool/disk-spool.js';

// A write beyond the limit raises SIGXFSZ, which ends the process unless handled; handled, the write fails.
process.on('SIGXFSZ', () => undefined);

const [dir, count, size] = process.argv.slice(2);
const spool = await DiskSpool.open({
  dir: dir ?? '',
  maxBytes: 1 << 30,
  segmentBytes: 1 << 30,
  maxRecordBytes: 1 << 20,
});
const outcomes: string[] = [];
for (let i = 0; i < Number(count); i++) {
  try {
    await spool.append({
      key: Buffer.from(`k${String(i).padStart(3, '0')}`),
      value: Buffer.alloc(Number(size), i % 256),
      spooledAtMicros: i,
    });
    outcomes.push('ok');
  } catch (err) {
    outcomes.push((err as { code?: string }).code ?? 'error');
  }
}
await spool.close();
process.stdout.write(`${JSON.stringify(outcomes)}\n`);
