import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import {
  ConfluentAvroSerde,
  SchemaRegistryClient,
  headerBytes,
  rawWebhookSchema,
} from '@livechat-pipeline/events';
import type { RegisteredSchema } from '@livechat-pipeline/events';
import { afterEach, describe, expect, it } from 'vitest';
import { assertRecordFits } from '../src/publisher.js';
import type { KeyedRawRecord } from '../src/raw-record.js';
import { DiskSpool } from '../src/spool/disk-spool.js';
import { encodeFrame, readFrame } from '../src/spool/frame.js';
import { SpoolingPublisher } from '../src/spool/spooling-publisher.js';

// A spooled record keeps its Kafka headers (the trace context), so a webhook's trace continues after the drain;
// segments written before headers were spooled (payload version 1) stay readable.

const TRACEPARENT = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
const dirs: string[] = [];
const closing: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closing.splice(0)) await close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'spool-headers-'));
  dirs.push(dir);
  return dir;
}

/** A frame exactly as an ingest without header support wrote it (payload version 1). */
function versionOneFrame(key: string, value: string, spooledAtMicros: number): Buffer {
  const k = Buffer.from(key);
  const v = Buffer.from(value);
  const payload = Buffer.alloc(13 + k.length + v.length);
  payload.writeUInt8(1, 0);
  payload.writeDoubleBE(spooledAtMicros, 1);
  payload.writeUInt32BE(k.length, 9);
  k.copy(payload, 13);
  v.copy(payload, 13 + k.length);
  const header = Buffer.alloc(8);
  header.writeUInt32BE(payload.length, 0);
  header.writeUInt32BE(crc32(payload), 4);
  return Buffer.concat([header, payload]);
}

describe('spool frames with headers', () => {
  it('round-trip a record with headers (version 2); a record without headers is still written as version 1', () => {
    const withHeaders = encodeFrame({
      key: Buffer.from('org|CHAT'),
      value: Buffer.from('avro'),
      spooledAtMicros: 42,
      headers: { traceparent: TRACEPARENT },
    });
    expect(withHeaders[8]).toBe(2);
    const read = readFrame(withHeaders, 0, 1 << 20);
    expect(read.kind).toBe('record');
    if (read.kind !== 'record') return;
    expect(read.record.headers).toEqual({ traceparent: TRACEPARENT });
    expect(read.record.key.toString()).toBe('org|CHAT');
    expect(read.record.value.toString()).toBe('avro');
    expect(read.record.spooledAtMicros).toBe(42);

    const plain = encodeFrame({
      key: Buffer.from('org|CHAT'),
      value: Buffer.from('avro'),
      spooledAtMicros: 42,
    });
    expect(plain).toEqual(versionOneFrame('org|CHAT', 'avro', 42));
  });

  it('headers that are not a JSON object of strings make the frame corrupt, never a record', () => {
    const frame = encodeFrame({
      key: Buffer.from('k'),
      value: Buffer.from('v'),
      spooledAtMicros: 1,
      headers: { traceparent: 'x' },
    });
    // Replace the headers' JSON with an array of the same length and fix the checksum: still not headers.
    const headersAt = 8 + 13 + 1 + 4;
    const json = '["traceparent", 1]'.padEnd(frame.readUInt32BE(8 + 13 + 1), ' ');
    frame.write(json, headersAt);
    frame.writeUInt32BE(crc32(frame.subarray(8)), 4);
    expect(readFrame(frame, 0, 1 << 20)).toMatchObject({
      kind: 'corrupt',
      reason: 'headers are not a JSON object of strings',
    });
  });

  it('a segment an older ingest wrote (version 1) is read after a restart, with the version 2 records after it', async () => {
    const dir = tempDir();
    const first = await DiskSpool.open({
      dir,
      maxBytes: 1 << 20,
      segmentBytes: 1 << 20,
      maxRecordBytes: 1 << 16,
    });
    await first.append({ key: Buffer.from('org|A'), value: Buffer.from('new-1'), spooledAtMicros: 3 });
    await first.close();
    // Prepend an old segment (a lower sequence number than the one just written).
    const [segment] = readdirSync(dir).filter((f) => f.endsWith('.seg'));
    expect(segment).toBeDefined();
    const oldName = (segment ?? '').replace(/\d+/, (n) => '0'.repeat(n.length));
    expect(oldName).not.toBe(segment);
    writeFileSync(
      join(dir, oldName),
      Buffer.concat([versionOneFrame('org|A', 'old-1', 1), versionOneFrame('org|B', 'old-2', 2)]),
    );
    const spool = await DiskSpool.open({
      dir,
      maxBytes: 1 << 20,
      segmentBytes: 1 << 20,
      maxRecordBytes: 1 << 16,
    });
    closing.push(() => spool.close());
    await spool.append({
      key: Buffer.from('org|A'),
      value: Buffer.from('new-2'),
      spooledAtMicros: 4,
      headers: { traceparent: TRACEPARENT },
    });
    const batch = await spool.read(100, 1 << 20);
    expect(batch.records.map((r) => [r.value.toString(), r.headers?.['traceparent']])).toEqual([
      ['old-1', undefined],
      ['old-2', undefined],
      ['new-1', undefined],
      ['new-2', TRACEPARENT],
    ]);
  });

  it('after a corrupt length field, recovery finds the next version 2 frame by its checksum', async () => {
    const dir = tempDir();
    const rec = (i: number) => ({
      key: Buffer.from('org|A'),
      value: Buffer.from(`v-${i}`),
      spooledAtMicros: i,
      headers: { traceparent: TRACEPARENT },
    });
    const frame = encodeFrame(rec(0)).length;
    const options = { dir, maxBytes: 1 << 20, segmentBytes: 3 * frame, maxRecordBytes: 1 << 16 };
    const first = await DiskSpool.open(options);
    for (let i = 0; i < 6; i++) await first.append(rec(i));
    await first.close();
    const [sealed] = readdirSync(dir)
      .filter((f) => f.endsWith('.seg'))
      .sort();
    const data = readFileSync(join(dir, sealed ?? ''));
    data.writeUInt32BE(0x7fffffff, frame); // record 1's length field
    writeFileSync(join(dir, sealed ?? ''), data);
    const spool = await DiskSpool.open(options);
    closing.push(() => spool.close());
    const batch = await spool.read(100, 1 << 20);
    expect(batch.records.map((r) => r.value.toString())).toEqual(['v-0', 'v-2', 'v-3', 'v-4', 'v-5']);
  });
});

describe('spooling publisher', () => {
  /** Spools one traced record through a SpoolingPublisher (Kafka "down": nothing drains) and reads the frame back. */
  async function spoolOne(spoolTraceHeaders: boolean | undefined) {
    const schema: RegisteredSchema = { subject: 'raw-value', id: 7, type: rawWebhookSchema().type };
    const serde = new ConfluentAvroSerde(new SchemaRegistryClient({ baseUrl: 'http://127.0.0.1:9' }));
    const dir = tempDir();
    const options = { dir, maxBytes: 1 << 20, segmentBytes: 1 << 20, maxRecordBytes: 1 << 20 };
    const spool = await DiskSpool.open(options);
    const publisher = new SpoolingPublisher({
      direct: {
        publishCancellable: () => {
          throw new Error('not used: the publisher starts spooling');
        },
        publishEncoded: () => Promise.reject(new Error('Kafka is down in this test')),
      },
      spool,
      serde,
      schema,
      spoolAfterMs: 1000,
      maxRecordBytes: 1 << 20,
      drainMaxRecords: 100,
      drainMaxBytes: 1 << 20,
      spoolFromStart: 'test',
      ...(spoolTraceHeaders === undefined ? {} : { spoolTraceHeaders }),
    });
    const record: KeyedRawRecord = {
      key: 'org|CHAT',
      headers: { traceparent: TRACEPARENT },
      value: {
        event_id: 'e1',
        received_at: 1_794_937_653_000_000,
        format: 'v3',
        api_version: '3.6+',
        action: 'incoming_event',
        tenant: 'org',
        tenant_source: 'body',
        chat_id: 'CHAT',
        thread_id: 'T',
        webhook_id: null,
        body: '{}',
        content_length: 2,
        user_agent: null,
        remote_address: null,
      },
    };
    await publisher.publish(record, performance.now() + 5000);
    await publisher.close();
    await spool.close();
    const [segment] = readdirSync(dir).filter((f) => f.endsWith('.seg'));
    return readFileSync(join(dir, segment ?? ''));
  }

  it('spools a version 1 frame without the headers by default (an older ingest can still read it)', async () => {
    for (const setting of [undefined, false]) {
      const data = await spoolOne(setting);
      expect(data[8], `spoolTraceHeaders ${String(setting)}`).toBe(1);
      const read = readFrame(data, 0, 1 << 20);
      expect(read.kind === 'record' ? read.record.headers : 'corrupt').toBeUndefined();
    }
  });

  it('spools a version 2 frame with the headers with INGEST_SPOOL_TRACE_HEADERS=true', async () => {
    const data = await spoolOne(true);
    expect(data[8]).toBe(2);
    const read = readFrame(data, 0, 1 << 20);
    expect(read.kind === 'record' ? read.record.headers : 'corrupt').toEqual({ traceparent: TRACEPARENT });
  });
});

describe('record size with headers', () => {
  it('a record that fits without its trace headers but not with them is refused, not sent or spooled', () => {
    const key = Buffer.alloc(10);
    const value = Buffer.alloc(90);
    expect(() => assertRecordFits(key, value, 100)).not.toThrow();
    expect(() => assertRecordFits(key, value, 100, { traceparent: TRACEPARENT })).toThrow(
      expect.objectContaining({ code: 'INGEST_RECORD_TOO_LARGE' }),
    );
    // traceparent: 11 + 55 bytes, plus 2 for the lengths.
    expect(headerBytes({ traceparent: TRACEPARENT })).toBe(68);
    expect(headerBytes(undefined)).toBe(0);
  });
});
