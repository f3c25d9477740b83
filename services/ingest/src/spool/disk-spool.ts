import { mkdir, open, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { IngestError } from '../errors.js';
import {
  FRAME_HEADER_BYTES,
  MAX_RECORD_PAYLOAD_BYTES,
  PAYLOAD_VERSIONS,
  encodeFrame,
  readFrame,
} from './frame.js';
import type { SpoolRecord } from './frame.js';
import { acquireSpoolLock } from './lock.js';
import type { SpoolLock } from './lock.js';

export interface DiskSpoolOptions {
  readonly dir: string;
  /** Bytes of segment files at most (INGEST_SPOOL_MAX_BYTES); an append beyond is refused (INGEST_SPOOL_FULL). */
  readonly maxBytes: number;
  /** A segment is sealed once it reached this size; the next append starts a new one. */
  readonly segmentBytes: number;
  /** The largest record payload (default MAX_RECORD_PAYLOAD_BYTES): a bigger length field is corruption. */
  readonly maxRecordBytes?: number;
  /** Called for what the spool has to report (recovery, corruption); the spool itself never logs. */
  readonly onEvent?: (event: SpoolEvent) => void;
  /** Called after each group commit (records, bytes, fsync duration). */
  readonly onCommit?: (commit: { records: number; bytes: number; durationMs: number }) => void;
  /** How a drain read reads bytes of a segment file (default: a positional read); tests wrap it to order races. */
  readonly readChunk?: (file: string, offset: number, length: number) => Promise<Buffer>;
}

export type SpoolEvent =
  | {
      readonly kind: 'recovered';
      readonly segments: number;
      readonly records: number;
      readonly bytes: number;
      readonly tornBytes: number;
      readonly corruptRecords: number;
      readonly lostBytes: number;
    }
  | {
      readonly kind: 'corrupt';
      readonly segment: string;
      readonly offset: number;
      readonly reason: string;
      /** What was done: one record skipped (the frames after it are intact) or the rest of the segment cut off. */
      readonly action: 'skipped_record' | 'truncated';
      readonly lostBytes: number;
    };

/** A position in the spool: segment sequence number and byte offset in that segment. */
export interface SpoolCursor {
  readonly segment: number;
  readonly offset: number;
}

export interface SpoolBatch {
  readonly records: readonly SpoolRecord[];
  /** Where the next batch starts; pass to acknowledge() once every record of this batch is on Kafka. */
  readonly next: SpoolCursor;
}

interface Segment {
  readonly seq: number;
  readonly file: string;
  /** Bytes committed (written and fsynced); nothing past it is read. */
  size: number;
  handle: FileHandle | undefined;
}

interface PendingAppend {
  readonly frame: Buffer;
  readonly record: SpoolRecord;
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

const SEGMENT_SUFFIX = '.seg';
const CURSOR_FILE = 'drain-cursor.json';
const segmentName = (seq: number) => `${String(seq).padStart(20, '0')}${SEGMENT_SUFFIX}`;

/**
 * The ingest's durable on-disk spool: append-only segment files of checksummed records (frame.ts), written with
 * group commit (concurrent appends share one write and one fdatasync; each append resolves only after the fsync
 * that covers it), read in order by one drainer, which acknowledges a position once the records before it are on
 * Kafka. The acknowledged position is kept in a small cursor file (so a restart re-sends at most the records after
 * it), and a segment is deleted once all its records are acknowledged. One process per directory (a lock file).
 *
 * At open every segment is scanned: a torn tail (an append whose fsync never completed, so never answered 200) is
 * cut off; a checksum mismatch in the middle (the disk changed acknowledged bytes) skips that one record when the
 * frames after it are intact, else cuts the segment there. Both are reported (onEvent) with counts.
 */
export class DiskSpool {
  private readonly segments: Segment[] = [];
  private cursor: SpoolCursor;
  private nextSeq: number;
  private bytesOnDisk = 0;
  private reservedBytes = 0;
  private undrained = 0;
  private oldestMicros: number | undefined;
  private pending: PendingAppend[] = [];
  private writing: Promise<void> | undefined;
  private closed = false;
  /** Background deletions of released segments (close() waits for them). */
  private readonly deletions = new Set<Promise<void>>();
  private cursorWrites: Promise<void> = Promise.resolve();

  private readonly readChunk: (file: string, offset: number, length: number) => Promise<Buffer>;
  private readonly maxPayload: number;

  private constructor(
    private readonly options: DiskSpoolOptions,
    private readonly lock: SpoolLock,
    state: RecoveredState,
  ) {
    this.readChunk = options.readChunk ?? readAt;
    this.maxPayload = options.maxRecordBytes ?? MAX_RECORD_PAYLOAD_BYTES;
    this.segments = state.segments;
    this.cursor = state.cursor;
    this.nextSeq = state.nextSeq;
    this.undrained = state.undrained;
    for (const s of this.segments) this.bytesOnDisk += s.size;
  }

  /** Opens (creating) the directory, takes its lock, recovers what is there. */
  static async open(options: DiskSpoolOptions): Promise<DiskSpool> {
    await mkdir(options.dir, { recursive: true });
    await fsyncDir(path.dirname(path.resolve(options.dir))); // the directory's own entry is durable too
    const lock = await acquireSpoolLock(options.dir);
    try {
      const state = await recover(options);
      const spool = new DiskSpool(options, lock, state);
      await spool.findOldest();
      return spool;
    } catch (err) {
      await lock.release();
      throw err;
    }
  }

  /** Records appended (committed) and not yet acknowledged. */
  get records(): number {
    return this.undrained;
  }

  /** Bytes of segment files on disk. */
  get bytes(): number {
    return this.bytesOnDisk;
  }

  /** When the oldest record not yet acknowledged was spooled (µs since the epoch), if any. */
  get oldestSpooledAtMicros(): number | undefined {
    return this.undrained > 0 ? this.oldestMicros : undefined;
  }

  /** Less than 64 KiB left below maxBytes: most webhooks that need the spool now are refused (readiness says so). */
  get nearlyFull(): boolean {
    return this.bytesOnDisk + this.reservedBytes + 64 * 1024 > this.options.maxBytes;
  }

  /** No record waiting to be drained and no append in progress: the moment to go back to writing directly. */
  get idle(): boolean {
    return this.undrained === 0 && this.pending.length === 0 && this.writing === undefined;
  }

  /**
   * Appends one record; resolves once it is on disk (fsynced). Refused at once, with nothing written, when the
   * spool would grow past maxBytes (INGEST_SPOOL_FULL). A failed write is cut back off the segment and refused
   * (INGEST_SPOOL_UNAVAILABLE).
   */
  append(record: SpoolRecord): Promise<void> {
    if (this.closed) {
      return Promise.reject(new IngestError('INGEST_SHUTTING_DOWN', 'ingest is shutting down; retry'));
    }
    const frame = encodeFrame(record);
    if (frame.length - FRAME_HEADER_BYTES > this.maxPayload) {
      // Never written: it could not be read back (the caller refuses such records before; this is the backstop).
      return Promise.reject(
        new IngestError(
          'INGEST_RECORD_TOO_LARGE',
          `a record of ${frame.length} bytes is larger than the spool takes`,
        ),
      );
    }
    if (this.bytesOnDisk + this.reservedBytes + frame.length > this.options.maxBytes) {
      return Promise.reject(
        new IngestError(
          'INGEST_SPOOL_FULL',
          'Kafka is not acknowledging writes and the on-disk spool is full; retry later',
          { details: { spool_bytes: this.bytesOnDisk, max_bytes: this.options.maxBytes } },
        ),
      );
    }
    this.reservedBytes += frame.length;
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ frame, record, resolve, reject });
      this.writing ??= this.writeLoop();
    });
  }

  /**
   * Reads, in order, up to maxRecords records and at most maxBytes of frames (but always at least one record)
   * after the acknowledged position, among those already committed. Empty when everything committed has been read.
   * The bound matters: a drain batch must fit the raw topic's max.message.bytes.
   */
  async read(maxRecords: number, maxBytes: number): Promise<SpoolBatch> {
    const records: SpoolRecord[] = [];
    let { segment: seq, offset } = this.cursor;
    let bytes = 0;
    let full = false;
    // One consistent view, taken now: appends committed during the awaits below (into a segment being read, or a
    // new segment after a roll) are read by the next call. Moving on to a segment that did not exist when a
    // segment's size was taken would skip what was committed into that segment meanwhile.
    const view = this.segments.map((segment) => ({ segment, end: segment.size }));
    for (const { segment, end } of view) {
      if (full) break;
      if (segment.seq < seq) continue;
      if (segment.seq > seq) {
        seq = segment.seq;
        offset = 0;
      }
      while (!full && offset < end) {
        const want = Math.min(end - offset, Math.max(maxBytes - bytes, FRAME_HEADER_BYTES));
        let chunk = await this.readChunk(segment.file, offset, want);
        if (readFrame(chunk, 0, this.maxPayload).kind === 'incomplete') {
          // The next record is larger than what is left of the budget: read exactly that frame.
          chunk = await this.readChunk(segment.file, offset, FRAME_HEADER_BYTES + chunk.readUInt32BE(0));
        }
        let at = 0;
        for (;;) {
          if (records.length >= maxRecords) {
            full = true;
            break;
          }
          const frame = readFrame(chunk, at, this.maxPayload);
          if (frame.kind === 'incomplete') break; // the chunk ends inside it: read on from there
          if (frame.kind === 'corrupt') {
            // Verified at open and written by us since: only a disk changing bytes under us gets here.
            throw new IngestError(
              'INGEST_SPOOL_UNAVAILABLE',
              `spool segment ${segment.file} is corrupt at ${offset + at} (${frame.reason}); restart the ingest to recover it`,
            );
          }
          const frameBytes = frame.end - at;
          if (records.length > 0 && bytes + frameBytes > maxBytes) {
            full = true;
            break;
          }
          records.push(frame.record);
          bytes += frameBytes;
          at = frame.end;
        }
        if (at === 0 && !full) {
          // Not even one whole frame where the committed size says there is one: the file was cut under us.
          throw new IngestError(
            'INGEST_SPOOL_UNAVAILABLE',
            `spool segment ${segment.file} is shorter than written at ${offset}; restart the ingest to recover it`,
          );
        }
        offset += at;
      }
    }
    return { records, next: { segment: seq, offset } };
  }

  /** Keeps a record Kafka refuses for good in `rejected/` (its frame, fsynced) and returns the file's path. */
  async setAside(record: SpoolRecord): Promise<string> {
    const dir = path.join(this.options.dir, 'rejected');
    await mkdir(dir, { recursive: true });
    const file = path.join(dir, `${String(record.spooledAtMicros)}-${Date.now()}.rec`);
    const handle = await open(file, 'wx');
    try {
      await handle.writeFile(encodeFrame(record));
      await handle.sync();
    } finally {
      await handle.close();
    }
    return file;
  }

  /**
   * The records before `next` are on Kafka: persist the position, delete the segments wholly before it (and the
   * last one too when it is drained and nothing is being appended: the spool is then empty on disk).
   */
  async acknowledge(next: SpoolCursor, records: number): Promise<void> {
    this.undrained -= records;
    this.cursor = next;
    const drained = this.segments.filter(
      (s) => s.seq < next.segment || (s.seq === next.segment && next.offset >= s.size && this.isSealed(s)),
    );
    for (const s of drained) await this.deleteSegment(s);
    await this.saveCursor(next);
    await this.findOldest();
  }

  /**
   * When the spool is idle (everything acknowledged, nothing being appended), retires the last segment at once
   * (synchronously: the next append starts a new segment) and returns true; the file is deleted in the background.
   */
  release(): boolean {
    if (!this.idle) return false;
    const last = this.segments.at(-1);
    if (last !== undefined) {
      this.segments.pop();
      this.bytesOnDisk -= last.size;
      // Everything before the next segment to be created is acknowledged (captured now: nextSeq moves on).
      const cursor = { segment: this.nextSeq, offset: 0 };
      this.cursor = cursor;
      const handle = last.handle;
      last.handle = undefined;
      const deletion: Promise<void> = (async () => {
        await handle?.close().catch(() => undefined);
        await rm(last.file, { force: true });
        await this.saveCursor(cursor);
      })()
        .catch(() => undefined)
        .finally(() => this.deletions.delete(deletion));
      this.deletions.add(deletion);
    }
    return true;
  }

  /** Stops accepting appends, commits what is queued (fsync), closes the files and releases the lock. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    while (this.writing !== undefined) await this.writing;
    await Promise.all([...this.deletions]);
    await this.cursorWrites;
    for (const s of this.segments) {
      await s.handle?.close().catch(() => undefined);
      s.handle = undefined;
    }
    await this.lock.release();
  }

  /** Cursor writes in the order they were asked for (each a write and a rename of its own). */
  private saveCursor(cursor: SpoolCursor): Promise<void> {
    const saved = this.cursorWrites.then(() => writeCursor(this.options.dir, cursor));
    this.cursorWrites = saved.catch(() => undefined);
    return saved;
  }

  private isSealed(segment: Segment): boolean {
    return segment !== this.segments.at(-1) || segment.size >= this.options.segmentBytes;
  }

  private async writeLoop(): Promise<void> {
    // Let the appends of this event-loop turn join the first group.
    await new Promise((resolve) => setImmediate(resolve));
    try {
      while (this.pending.length > 0) {
        const group = this.pending;
        this.pending = [];
        const started = performance.now();
        let bytes = 0;
        for (const p of group) bytes += p.frame.length;
        try {
          await this.commit(group, bytes);
        } catch (cause) {
          this.reservedBytes -= bytes;
          const err =
            cause instanceof IngestError
              ? cause
              : new IngestError('INGEST_SPOOL_UNAVAILABLE', 'the on-disk spool could not be written; retry', {
                  cause,
                });
          for (const p of group) p.reject(err);
          continue;
        }
        this.reservedBytes -= bytes;
        this.bytesOnDisk += bytes;
        if (this.undrained === 0) this.oldestMicros = group[0]?.record.spooledAtMicros;
        this.undrained += group.length;
        this.options.onCommit?.({ records: group.length, bytes, durationMs: performance.now() - started });
        for (const p of group) p.resolve();
      }
    } finally {
      this.writing = undefined;
    }
  }

  private async commit(group: readonly PendingAppend[], bytes: number): Promise<void> {
    let segment = this.segments.at(-1);
    if (segment === undefined || (segment.size > 0 && segment.size + bytes > this.options.segmentBytes)) {
      await segment?.handle?.close().catch(() => undefined);
      if (segment !== undefined) segment.handle = undefined;
      segment = await this.createSegment();
    }
    segment.handle ??= await open(segment.file, 'r+');
    const data =
      group.length === 1
        ? (group[0]?.frame ?? Buffer.alloc(0))
        : Buffer.concat(
            group.map((p) => p.frame),
            bytes,
          );
    try {
      let written = 0;
      while (written < data.length) {
        const { bytesWritten } = await segment.handle.write(
          data,
          written,
          data.length - written,
          segment.size + written,
        );
        written += bytesWritten;
      }
      await segment.handle.datasync();
    } catch (err) {
      // Nothing half-written stays behind: cut the segment back to its committed size.
      await segment.handle.truncate(segment.size).catch(() => undefined);
      throw err;
    }
    segment.size += data.length;
  }

  private async createSegment(): Promise<Segment> {
    const seq = this.nextSeq++;
    const file = path.join(this.options.dir, segmentName(seq));
    const handle = await open(file, 'wx+');
    await fsyncDir(this.options.dir); // the new file's name is durable before any record in it is acknowledged
    const segment: Segment = { seq, file, size: 0, handle };
    this.segments.push(segment);
    if (this.segments.length === 1) this.cursor = { segment: seq, offset: 0 };
    return segment;
  }

  private async deleteSegment(segment: Segment): Promise<void> {
    const i = this.segments.indexOf(segment);
    if (i < 0) return;
    this.segments.splice(i, 1);
    this.bytesOnDisk -= segment.size;
    await segment.handle?.close().catch(() => undefined);
    segment.handle = undefined;
    await rm(segment.file, { force: true });
  }

  private async findOldest(): Promise<void> {
    if (this.undrained === 0) {
      this.oldestMicros = undefined;
      return;
    }
    const next = await this.read(1, 1);
    this.oldestMicros = next.records[0]?.spooledAtMicros;
  }
}

async function readAt(file: string, offset: number, length: number): Promise<Buffer> {
  const handle = await open(file, 'r');
  try {
    const buffer = Buffer.allocUnsafe(length);
    let got = 0;
    while (got < length) {
      const { bytesRead } = await handle.read(buffer, got, length - got, offset + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    return buffer.subarray(0, got);
  } finally {
    await handle.close();
  }
}

async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function writeCursor(dir: string, cursor: SpoolCursor): Promise<void> {
  // Not fsynced: after a power loss an older cursor only means records re-sent (duplicates are deduplicated on
  // event_id downstream); a process crash keeps the page cache, so the cursor is exact.
  const tmp = path.join(dir, `${CURSOR_FILE}.tmp`);
  await writeFile(tmp, JSON.stringify(cursor));
  await rename(tmp, path.join(dir, CURSOR_FILE));
}

async function readCursor(dir: string): Promise<SpoolCursor | undefined> {
  try {
    const parsed = JSON.parse(await readFile(path.join(dir, CURSOR_FILE), 'utf8')) as Partial<SpoolCursor>;
    if (Number.isSafeInteger(parsed.segment) && Number.isSafeInteger(parsed.offset)) {
      return { segment: parsed.segment as number, offset: parsed.offset as number };
    }
  } catch {
    // missing or unreadable: start at the first segment (re-sending is safe)
  }
  return undefined;
}

interface RecoveredState {
  readonly segments: Segment[];
  readonly cursor: SpoolCursor;
  readonly nextSeq: number;
  readonly undrained: number;
}

/**
 * Scans every segment (start-up): keeps the intact records, cuts a torn tail of the last segment, skips or cuts
 * corrupt stretches elsewhere (reported loudly), places the cursor on a record boundary.
 */
async function recover(options: DiskSpoolOptions): Promise<RecoveredState> {
  const maxRecordBytes = options.maxRecordBytes ?? MAX_RECORD_PAYLOAD_BYTES;
  const entries = await readdir(options.dir);
  // Left by a crash in the middle of a rewrite or a cursor write: the originals are intact.
  const leftovers = entries.filter(
    (n) => !n.startsWith('LOCK') && (n.endsWith('.recovering') || n.endsWith('.tmp')),
  );
  for (const leftover of leftovers) {
    await rm(path.join(options.dir, leftover), { force: true });
  }
  const names = entries.filter((n) => /^\d{20}\.seg$/.test(n)).sort();
  const saved = await readCursor(options.dir);
  const segments: Segment[] = [];
  let tornBytes = 0;
  let corruptRecords = 0;
  let lostBytes = 0;
  let undrained = 0;
  let cursor: SpoolCursor | undefined;
  let nextSeq = saved?.segment ?? 1;
  for (const [index, name] of names.entries()) {
    const seq = Number(name.slice(0, 20));
    nextSeq = Math.max(nextSeq, seq + 1);
    const file = path.join(options.dir, name);
    if (saved !== undefined && seq < saved.segment) {
      // Wholly acknowledged: a crash came between the cursor's write and the segment's deletion.
      await rm(file, { force: true });
      continue;
    }
    const last = index === names.length - 1;
    const data = await readFile(file);
    const kept: Buffer[] = [];
    let keptBytes = 0;
    let at = 0;
    /** Whether the file ends in a stretch to cut off (torn or corrupt), and whether one in the middle was skipped. */
    let cutTail = false;
    let skipped = false;
    /** The saved cursor's offset translated into the kept bytes (undefined: not on a record boundary). */
    let cursorInKept: number | undefined;
    let cursorRecord: number | undefined;
    while (at < data.length) {
      if (saved?.segment === seq && at === saved.offset) {
        cursorInKept = keptBytes;
        cursorRecord = kept.length;
      }
      const frame = readFrame(data, at, maxRecordBytes);
      if (frame.kind === 'record') {
        kept.push(data.subarray(at, frame.end));
        keptBytes += frame.end - at;
        at = frame.end;
        continue;
      }
      // Where intact records resume after the bad stretch: where its length says (a checksum mismatch with an
      // intact length), else the next position holding a frame with a valid checksum.
      const byLength =
        frame.kind === 'corrupt' &&
        frame.end < data.length &&
        readFrame(data, frame.end, maxRecordBytes).kind === 'record'
          ? frame.end
          : undefined;
      const resume = byLength ?? findNextFrame(data, at + 1, maxRecordBytes);
      if (resume === undefined && last) {
        // Nothing intact follows in the last segment: the last append, whose fsync never completed (so it was
        // never answered 200).
        tornBytes += data.length - at;
        cutTail = true;
        break;
      }
      const reason =
        frame.kind === 'corrupt' ? frame.reason : 'record cut short before the end of a sealed segment';
      const lost = (resume ?? data.length) - at;
      options.onEvent?.({
        kind: 'corrupt',
        segment: file,
        offset: at,
        reason,
        action: resume === undefined ? 'truncated' : 'skipped_record',
        lostBytes: lost,
      });
      corruptRecords++;
      lostBytes += lost;
      if (resume === undefined) {
        cutTail = true;
        break;
      }
      skipped = true;
      at = resume;
    }
    if (saved?.segment === seq && at === saved.offset && cursorInKept === undefined) {
      cursorInKept = keptBytes;
      cursorRecord = kept.length;
    }
    if (cutTail && !skipped) {
      // Only the end goes: cut it off in place.
      const handle = await open(file, 'r+');
      try {
        await handle.truncate(keptBytes);
        await handle.sync();
      } finally {
        await handle.close();
      }
    } else if (skipped) {
      // Rewrite the segment with exactly its intact records: a new file, fsynced, renamed over the old one.
      const tmp = `${file}.recovering`;
      const handle = await open(tmp, 'w');
      try {
        await handle.writeFile(Buffer.concat(kept, keptBytes));
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(tmp, file);
      await fsyncDir(options.dir);
    }
    if (keptBytes === 0) {
      await rm(file, { force: true });
      continue;
    }
    let records = kept.length;
    if (saved?.segment === seq) {
      // A cursor that is not on a record boundary (cannot happen unless the file changed) re-sends the segment.
      cursor = { segment: seq, offset: cursorInKept ?? 0 };
      records = kept.length - (cursorRecord ?? 0);
    }
    undrained += records;
    segments.push({ seq, file, size: keptBytes, handle: undefined });
  }
  const first = segments[0];
  if (cursor === undefined || (first !== undefined && cursor.segment < first.seq)) {
    cursor = { segment: first?.seq ?? nextSeq, offset: 0 };
  }
  options.onEvent?.({
    kind: 'recovered',
    segments: segments.length,
    records: undrained,
    bytes: segments.reduce((sum, s) => sum + s.size, 0),
    tornBytes,
    corruptRecords,
    lostBytes,
  });
  return { segments, cursor, nextSeq, undrained };
}

/**
 * The first position at or after `from` where a whole frame with a valid checksum starts (resynchronising after a
 * corrupt length field), or undefined. Cheap tests (length, version byte, key length) come before the checksum.
 */
function findNextFrame(data: Buffer, from: number, maxPayloadBytes: number): number | undefined {
  for (let pos = from; pos + FRAME_HEADER_BYTES < data.length; pos++) {
    const length = data.readUInt32BE(pos);
    if (length < 13 || length > maxPayloadBytes || pos + FRAME_HEADER_BYTES + length > data.length) continue;
    if (!PAYLOAD_VERSIONS.has(data[pos + FRAME_HEADER_BYTES] ?? 0)) continue;
    if (data.readUInt32BE(pos + FRAME_HEADER_BYTES + 9) > length - 13) continue;
    if (readFrame(data, pos, maxPayloadBytes).kind === 'record') return pos;
  }
  return undefined;
}
