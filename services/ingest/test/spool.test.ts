import { spawn } from 'node:child_process';
import {
  cpSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { DiskSpool } from '../src/spool/disk-spool.js';
import type { DiskSpoolOptions, SpoolEvent } from '../src/spool/disk-spool.js';
import { encodeFrame } from '../src/spool/frame.js';
import type { SpoolRecord } from '../src/spool/frame.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'spool-test-'));
  dirs.push(dir);
  return dir;
}

const record = (i: number, size = 40): SpoolRecord => ({
  key: Buffer.from(`tenant|chat-${i % 3}`),
  value: Buffer.from(`value-${i}-`.padEnd(size, 'x')),
  spooledAtMicros: 1_794_937_653_000_000 + i,
});

function open(dir: string, overrides: Partial<DiskSpoolOptions> = {}) {
  const events: SpoolEvent[] = [];
  const commits: number[] = [];
  const spool = DiskSpool.open({
    dir,
    maxBytes: 1024 * 1024,
    segmentBytes: 1024 * 1024,
    maxRecordBytes: 64 * 1024,
    onEvent: (e) => events.push(e),
    onCommit: (c) => commits.push(c.records),
    ...overrides,
  });
  return { spool, events, commits };
}

async function readAll(spool: DiskSpool): Promise<string[]> {
  const batch = await spool.read(1_000_000, 1_000_000_000);
  return batch.records.map((r) => r.value.toString());
}

function segmentFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.seg'))
    .sort()
    .map((f) => join(dir, f));
}

async function spoolWith(count: number, overrides: Partial<DiskSpoolOptions> = {}): Promise<string> {
  const dir = tempDir();
  const { spool } = open(dir, overrides);
  const s = await spool;
  for (let i = 0; i < count; i++) await s.append(record(i));
  await s.close();
  return dir;
}

const recovered = (events: SpoolEvent[]) => events.find((e) => e.kind === 'recovered');

describe('DiskSpool', () => {
  it('keeps appended records across a close and an open, in order', async () => {
    const dir = await spoolWith(5);
    const { spool, events } = open(dir);
    const s = await spool;
    expect(await readAll(s)).toEqual([0, 1, 2, 3, 4].map((i) => record(i).value.toString()));
    expect(s.records).toBe(5);
    expect(s.oldestSpooledAtMicros).toBe(record(0).spooledAtMicros);
    expect(recovered(events)).toMatchObject({ records: 5, tornBytes: 0, corruptRecords: 0 });
    await s.close();
  });

  it('group commit: concurrent appends share one write and fsync, and each resolves only once committed', async () => {
    const dir = tempDir();
    const { spool, commits } = open(dir);
    const s = await spool;
    await Promise.all(Array.from({ length: 200 }, (_, i) => s.append(record(i))));
    expect(commits.reduce((a, b) => a + b, 0)).toBe(200);
    expect(commits.length).toBeLessThanOrEqual(2); // all in the first turn's group (at most one straggler group)
    expect(s.records).toBe(200);
    await s.close();
  });

  it('a torn last append, cut at every byte position, is dropped at open and the records before it are kept', async () => {
    const source = await spoolWith(3);
    const [segment] = segmentFiles(source);
    if (segment === undefined) throw new Error('no segment');
    const whole = statSync(segment).size;
    const lastFrame = encodeFrame(record(2)).length;
    const lastStart = whole - lastFrame;
    const kept = [0, 1].map((i) => record(i).value.toString());
    for (let cut = lastStart; cut < whole; cut++) {
      const dir = tempDir();
      cpSync(source, dir, { recursive: true });
      const file = segmentFiles(dir)[0] as string;
      truncateSync(file, cut);
      const { spool, events } = open(dir);
      const s = await spool;
      expect(recovered(events), `cut at ${cut}`).toMatchObject({
        records: 2,
        tornBytes: cut - lastStart,
        corruptRecords: 0,
      });
      expect(events.some((e) => e.kind === 'corrupt')).toBe(false);
      expect(await readAll(s)).toEqual(kept);
      expect(statSync(file).size).toBe(lastStart); // cut back to the last whole record
      // New appends go after the kept records, never behind garbage.
      await s.append(record(9));
      expect(await readAll(s)).toEqual([...kept, record(9).value.toString()]);
      await s.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a last append whose bytes did not reach the disk (zeros from any byte on) is dropped as torn, never read as a record', async () => {
    const source = await spoolWith(3);
    const file = segmentFiles(source)[0] as string;
    const original = readFileSync(file);
    const lastStart = original.length - encodeFrame(record(2)).length;
    for (let from = lastStart; from < original.length; from++) {
      const damaged = Buffer.from(original);
      damaged.fill(0, from);
      writeFileSync(file, damaged);
      const { spool, events } = open(source);
      const s = await spool;
      expect(recovered(events), `zeros from ${from}`).toMatchObject({ records: 2, corruptRecords: 0 });
      expect(await readAll(s)).toEqual([0, 1].map((i) => record(i).value.toString()));
      await s.close();
      writeFileSync(file, original);
    }
  });

  it('a checksum mismatch in the middle of a segment skips that one record, loudly, and keeps the records after it', async () => {
    const dir = await spoolWith(5);
    const file = segmentFiles(dir)[0] as string;
    const data = readFileSync(file);
    const frame = encodeFrame(record(0)).length; // all records here have the same size
    data[2 * frame + 8 + 20] = (data[2 * frame + 8 + 20] as number) ^ 0xff; // a payload byte of record 2
    writeFileSync(file, data);
    const { spool, events } = open(dir);
    const s = await spool;
    expect(events.filter((e) => e.kind === 'corrupt')).toEqual([
      expect.objectContaining({ offset: 2 * frame, reason: 'checksum mismatch', action: 'skipped_record' }),
    ]);
    expect(recovered(events)).toMatchObject({
      records: 4,
      corruptRecords: 1,
      lostBytes: frame,
      tornBytes: 0,
    });
    expect(await readAll(s)).toEqual([0, 1, 3, 4].map((i) => record(i).value.toString()));
    await s.close();
    // The segment was rewritten without it: a second open finds nothing wrong.
    const again = open(dir);
    const s2 = await again.spool;
    expect(recovered(again.events)).toMatchObject({ records: 4, corruptRecords: 0 });
    await s2.close();
  });

  it('a corrupt length in the middle of a sealed segment: the next intact frame is found by its checksum, loudly', async () => {
    const frame = encodeFrame(record(0)).length;
    const dir = await spoolWith(8, { segmentBytes: 4 * frame }); // two segments of 4 records
    const [first] = segmentFiles(dir);
    const data = readFileSync(first as string);
    data.writeUInt32BE(0x7fffffff, frame); // record 1's length field
    writeFileSync(first as string, data);
    const { spool, events } = open(dir, { segmentBytes: 4 * frame });
    const s = await spool;
    expect(events.filter((e) => e.kind === 'corrupt')).toEqual([
      expect.objectContaining({ offset: frame, action: 'skipped_record', lostBytes: frame }),
    ]);
    expect(recovered(events)).toMatchObject({ records: 7, corruptRecords: 1, tornBytes: 0 });
    expect(await readAll(s)).toEqual([0, 2, 3, 4, 5, 6, 7].map((i) => record(i).value.toString()));
    await s.close();
  });

  it('a corrupt length in the last segment with intact records after it is corruption (loud, they are kept), not a torn tail', async () => {
    const frame = encodeFrame(record(0)).length;
    const dir = await spoolWith(4);
    const file = segmentFiles(dir)[0] as string;
    const data = readFileSync(file);
    data.writeUInt32BE(0x00ffffff, frame); // record 1's length: past the end of the file
    writeFileSync(file, data);
    const { spool, events } = open(dir);
    const s = await spool;
    expect(recovered(events)).toMatchObject({ records: 3, corruptRecords: 1, tornBytes: 0 });
    expect(events.filter((e) => e.kind === 'corrupt')).toEqual([
      expect.objectContaining({ offset: frame, action: 'skipped_record', lostBytes: frame }),
    ]);
    expect(await readAll(s)).toEqual([0, 2, 3].map((i) => record(i).value.toString()));
    await s.close();
  });

  it('refuses an append beyond maxBytes at once (INGEST_SPOOL_FULL) with nothing written', async () => {
    const frame = encodeFrame(record(0)).length;
    const dir = tempDir();
    const s = await open(dir, { maxBytes: 3 * frame + 10 }).spool;
    // Concurrent appends: the ones still being committed count against the bound too.
    const first = await Promise.allSettled([0, 1, 2, 3].map((i) => s.append(record(i))));
    expect(first.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled', 'rejected']);
    expect(first[3]).toMatchObject({ reason: { code: 'INGEST_SPOOL_FULL', status: 503 } });
    const before = segmentFiles(dir).map((f) => statSync(f).size);
    expect(before).toEqual([3 * frame]);
    await expect(s.append(record(4))).rejects.toMatchObject({ code: 'INGEST_SPOOL_FULL', status: 503 });
    expect(segmentFiles(dir).map((f) => statSync(f).size)).toEqual(before);
    expect(s.records).toBe(3);
    // Draining frees room.
    const batch = await s.read(2, 1e9);
    await s.acknowledge(batch.next, batch.records.length);
    expect(s.records).toBe(1);
    await s.close();
  });

  it('a write that fails part-way (file size limit, as a full disk) is cut back off: nothing half-written, later appends refused cleanly', async () => {
    const dir = tempDir();
    const size = 1000;
    // bash's ulimit -f counts KiB: 8 KiB holds 7 records of about 1 KiB, the 8th is written part-way.
    const child = spawn(
      'bash',
      [
        '-c',
        'ulimit -f 8 && exec "$0" --import tsx test/support/spool-append-child.ts "$@"',
        process.execPath,
        dir,
        '12',
        String(size),
      ],
      {
        cwd: fileURLToPath(new URL('..', import.meta.url)),
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const code = await new Promise((resolve) => child.once('exit', resolve));
    expect(code).toBe(0);
    const outcomes = JSON.parse(out) as string[];
    const ok = outcomes.filter((o) => o === 'ok').length;
    expect(ok).toBe(Math.floor(8192 / (size + 8 + 13 + 4)));
    expect(outcomes).toEqual([
      ...Array<string>(ok).fill('ok'),
      ...Array<string>(12 - ok).fill('INGEST_SPOOL_UNAVAILABLE'),
    ]);
    const frame = encodeFrame({
      key: Buffer.from('k000'),
      value: Buffer.alloc(size),
      spooledAtMicros: 0,
    }).length;
    expect(segmentFiles(dir).map((f) => statSync(f).size)).toEqual([ok * frame]); // the failed write cut back
    const { spool, events } = open(dir);
    const s = await spool;
    expect(recovered(events)).toMatchObject({ records: ok, tornBytes: 0, corruptRecords: 0 });
    await s.close();
  });

  it('acknowledge persists the drained position: a reopen reads only what was not acknowledged, and drained segments are deleted', async () => {
    const frame = encodeFrame(record(0)).length;
    const dir = await spoolWith(10, { segmentBytes: 4 * frame });
    expect(segmentFiles(dir)).toHaveLength(3);
    const first = await open(dir, { segmentBytes: 4 * frame }).spool;
    const batch = await first.read(6, 1e9);
    expect(batch.records).toHaveLength(6);
    await first.acknowledge(batch.next, 6);
    expect(segmentFiles(dir)).toHaveLength(2); // the first segment (records 0-3) is gone
    await first.close();
    const { spool, events } = open(dir, { segmentBytes: 4 * frame });
    const s = await spool;
    expect(recovered(events)).toMatchObject({ records: 4 });
    expect(await readAll(s)).toEqual([6, 7, 8, 9].map((i) => record(i).value.toString()));
    expect(s.oldestSpooledAtMicros).toBe(record(6).spooledAtMicros);
    const rest = await s.read(100, 1e9);
    await s.acknowledge(rest.next, rest.records.length);
    expect(s.release()).toBe(true);
    await s.close();
    expect(segmentFiles(dir)).toEqual([]);
  });

  it('read() keeps a batch within maxBytes (a drain batch must fit max.message.bytes), at least one record', async () => {
    const dir = tempDir();
    const s = await open(dir).spool;
    const sizes = [100, 100, 5000, 100, 100];
    for (const [i, size] of sizes.entries()) await s.append(record(i, size));
    const frames = sizes.map((size, i) => encodeFrame(record(i, size)).length);
    const first = await s.read(100, frames[0]! + frames[1]! + 10);
    expect(first.records.map((r) => r.value.length)).toEqual([100, 100]);
    await s.acknowledge(first.next, 2);
    const big = await s.read(100, 10); // a record larger than the budget comes alone
    expect(big.records.map((r) => r.value.length)).toEqual([5000]);
    await s.acknowledge(big.next, 1);
    const rest = await s.read(1, 1e9); // and maxRecords bounds too
    expect(rest.records.map((r) => r.value.length)).toEqual([100]);
    await s.close();
  });

  it('a read during which an append lands in its segment and the next one rolls over loses nothing', async () => {
    const frame = encodeFrame(record(0)).length;
    const dir = tempDir();
    let duringRead: (() => Promise<void>) | undefined;
    const s = await open(dir, {
      segmentBytes: 2 * frame,
      readChunk: async (file, offset, length) => {
        const bytes = readFileSync(file).subarray(offset, offset + length);
        const race = duringRead;
        duringRead = undefined;
        await race?.(); // while the read is away: commits into its segment, then a roll to a new one
        return bytes;
      },
    }).spool;
    await s.append(record(0));
    duringRead = async () => {
      await s.append(record(1)); // the same segment (2 frames fit)
      await s.append(record(2)); // rolls to a new segment
    };
    const first = await s.read(10, 1e9);
    await s.acknowledge(first.next, first.records.length);
    const rest = await s.read(10, 1e9);
    await s.acknowledge(rest.next, rest.records.length);
    expect([...first.records, ...rest.records].map((r) => r.value.toString())).toEqual(
      [0, 1, 2].map((i) => record(i).value.toString()),
    );
    expect(s.records).toBe(0);
    await s.close();
  });

  it('release() (the switch back to direct writes) refuses while an append is queued or being committed', async () => {
    const dir = tempDir();
    const s = await open(dir).spool;
    expect(s.release()).toBe(true); // empty
    const appended = s.append(record(0));
    expect(s.idle).toBe(false);
    expect(s.release()).toBe(false); // queued, not yet committed: a reader sees nothing, yet it is not empty
    await new Promise((resolve) => setImmediate(resolve));
    expect(s.release()).toBe(false); // being written
    await appended;
    expect(s.release()).toBe(false); // committed, not drained
    const batch = await s.read(10, 1e9);
    expect(batch.records).toHaveLength(1);
    await s.acknowledge(batch.next, 1);
    expect(s.release()).toBe(true);
    // The next append starts a new segment; nothing of the old one is read again.
    await s.append(record(1));
    expect(await readAll(s)).toEqual([record(1).value.toString()]);
    await s.close();
  });

  it('concurrent starters on one directory (also over a stale lock): exactly one gets it', async () => {
    for (const stale of [false, true]) {
      const dir = tempDir();
      if (stale) writeFileSync(join(dir, 'LOCK'), JSON.stringify({ pid: 2 ** 22 + 7, host: hostname() }));
      const startAt = Date.now() + 2000; // after the children's start-up (tsx), all at once
      // Each holds what it got until killed, so a late starter cannot get a lock released meanwhile.
      const children = Array.from({ length: 5 }, () =>
        spawn(
          process.execPath,
          ['--import', 'tsx', 'test/support/spool-lock-child.ts', dir, String(startAt), '60000'],
          {
            cwd: fileURLToPath(new URL('..', import.meta.url)),
            stdio: ['ignore', 'pipe', 'inherit'],
          },
        ),
      );
      try {
        const outcomes = await Promise.all(
          children.map(
            (child) =>
              new Promise<string>((resolve) => {
                let out = '';
                child.stdout.on('data', (chunk: Buffer) => {
                  out += chunk.toString();
                  if (out.includes('\n')) resolve(out.trim());
                });
                child.once('exit', () => resolve(out.trim()));
              }),
          ),
        );
        expect(
          outcomes.filter((o) => o === 'locked'),
          `stale lock: ${stale}`,
        ).toHaveLength(1);
        expect(outcomes.filter((o) => o !== 'locked')).toEqual(Array<string>(4).fill('INGEST_SPOOL_LOCKED'));
      } finally {
        for (const child of children) child.kill('SIGKILL');
      }
    }
  }, 30_000);

  it('one process per directory: a live owner is refused with INGEST_SPOOL_LOCKED, a dead one is taken over', async () => {
    const dir = tempDir();
    const s = await open(dir).spool;
    await expect(open(dir).spool).rejects.toMatchObject({ code: 'INGEST_SPOOL_LOCKED' });
    await s.close();

    const sleeper = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
    try {
      writeFileSync(join(dir, 'LOCK'), JSON.stringify({ pid: sleeper.pid, host: hostname() }));
      await expect(open(dir).spool).rejects.toMatchObject({
        code: 'INGEST_SPOOL_LOCKED',
        message: expect.stringContaining(`pid ${sleeper.pid}`),
      });
      writeFileSync(join(dir, 'LOCK'), JSON.stringify({ pid: sleeper.pid, host: 'another-host' }));
      await expect(open(dir).spool).rejects.toMatchObject({ code: 'INGEST_SPOOL_LOCKED' });
      // The pid is alive but it is not the process that wrote the lock (another start time): a reused pid.
      writeFileSync(join(dir, 'LOCK'), JSON.stringify({ pid: sleeper.pid, host: hostname(), started: '1' }));
      const reused = await open(dir).spool;
      await reused.close();
    } finally {
      sleeper.kill('SIGKILL');
      await new Promise((resolve) => sleeper.once('exit', resolve));
    }
    writeFileSync(join(dir, 'LOCK'), JSON.stringify({ pid: sleeper.pid, host: hostname() })); // now dead
    const taken = await open(dir).spool;
    expect(JSON.parse(readFileSync(join(dir, 'LOCK'), 'utf8'))).toMatchObject({
      pid: process.pid,
      host: hostname(),
    });
    await taken.close();
  });
});
