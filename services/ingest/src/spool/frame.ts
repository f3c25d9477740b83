import { crc32 } from 'node:zlib';

/**
 * The on-disk format of one spooled record (segment files are a plain sequence of these):
 *
 *   [u32 BE payload length][u32 BE CRC-32 of the payload][payload]
 *   payload = [u8 version = 1][f64 BE spooled_at, µs since the epoch][u32 BE key length][key][value]
 *           | [u8 version = 2][f64 BE spooled_at][u32 BE key length][key][u32 BE headers length][headers][value]
 *
 * Version 2 carries the record's Kafka headers (the trace context, `traceparent`) as a UTF-8 JSON object of
 * strings; it is written only for a record that has headers, which the spooling publisher passes on only with
 * INGEST_SPOOL_TRACE_HEADERS=true (an older ingest cannot read version 2: see the README's "Upgrading and rolling
 * back"). Segments written by an older ingest (version 1) stay readable.
 *
 * `value` is the raw record exactly as it goes to Kafka (Confluent wire format: magic byte, schema id, Avro), so
 * the drainer needs neither the registry nor the schema. zlib's crc32 exists since Node 20.15 (engines: 20.19+).
 */
export const FRAME_HEADER_BYTES = 8;
/**
 * The largest record payload the spool writes or reads. Fixed, not derived from the configuration: a frame's
 * plausibility must not change between runs (a lower INGEST_BODY_LIMIT_BYTES would otherwise turn acknowledged
 * records into "corruption"). Above any record the raw topic takes (INGEST_BODY_LIMIT_BYTES is at most 100 MiB).
 */
export const MAX_RECORD_PAYLOAD_BYTES = 128 * 1024 * 1024;
const PAYLOAD_VERSION = 1;
const PAYLOAD_VERSION_WITH_HEADERS = 2;
const PAYLOAD_FIXED_BYTES = 1 + 8 + 4;
/** The payload versions a reader accepts (findNextFrame's resynchronisation checks the byte too). */
export const PAYLOAD_VERSIONS: ReadonlySet<number> = new Set([PAYLOAD_VERSION, PAYLOAD_VERSION_WITH_HEADERS]);

export interface SpoolRecord {
  readonly key: Buffer;
  readonly value: Buffer;
  /** When the record was spooled, microseconds since the epoch. */
  readonly spooledAtMicros: number;
  /** The record's Kafka headers (string values), when it has any. */
  readonly headers?: Readonly<Record<string, string>> | undefined;
}

/** The frame of one record, ready to append. */
export function encodeFrame(record: SpoolRecord): Buffer {
  const headers =
    record.headers === undefined || Object.keys(record.headers).length === 0
      ? undefined
      : Buffer.from(JSON.stringify(record.headers), 'utf8');
  const headersBytes = headers === undefined ? 0 : 4 + headers.length;
  const payloadBytes = PAYLOAD_FIXED_BYTES + record.key.length + headersBytes + record.value.length;
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payloadBytes);
  frame.writeUInt32BE(payloadBytes, 0);
  let at = FRAME_HEADER_BYTES;
  frame.writeUInt8(headers === undefined ? PAYLOAD_VERSION : PAYLOAD_VERSION_WITH_HEADERS, at);
  frame.writeDoubleBE(record.spooledAtMicros, at + 1);
  frame.writeUInt32BE(record.key.length, at + 9);
  at += PAYLOAD_FIXED_BYTES;
  record.key.copy(frame, at);
  at += record.key.length;
  if (headers !== undefined) {
    frame.writeUInt32BE(headers.length, at);
    headers.copy(frame, at + 4);
    at += headersBytes;
  }
  record.value.copy(frame, at);
  frame.writeUInt32BE(crc32(frame.subarray(FRAME_HEADER_BYTES)), 4);
  return frame;
}

export type FrameRead =
  /** A whole, intact frame: the record and the offset just after it. */
  | { readonly kind: 'record'; readonly record: SpoolRecord; readonly end: number }
  /** Fewer bytes than the frame needs: the end of what was written (or a torn write). */
  | { readonly kind: 'incomplete' }
  /**
   * The frame is whole by its length but its checksum or content is wrong. `end` is where the frame would end by
   * its length field, which may itself be the corrupt part.
   */
  | { readonly kind: 'corrupt'; readonly end: number; readonly reason: string };

/**
 * Reads the frame at `offset` of `buffer`. `maxPayloadBytes` bounds a plausible length, so a corrupt length field
 * cannot make a reader wait for (or allocate) gigabytes.
 */
export function readFrame(buffer: Buffer, offset: number, maxPayloadBytes: number): FrameRead {
  if (buffer.length - offset < FRAME_HEADER_BYTES) return { kind: 'incomplete' };
  const payloadBytes = buffer.readUInt32BE(offset);
  if (payloadBytes < PAYLOAD_FIXED_BYTES || payloadBytes > maxPayloadBytes) {
    return {
      kind: 'corrupt',
      end: offset + FRAME_HEADER_BYTES + payloadBytes,
      reason: `implausible record length ${payloadBytes}`,
    };
  }
  const end = offset + FRAME_HEADER_BYTES + payloadBytes;
  if (buffer.length < end) return { kind: 'incomplete' };
  const payload = buffer.subarray(offset + FRAME_HEADER_BYTES, end);
  if (crc32(payload) !== buffer.readUInt32BE(offset + 4)) {
    return { kind: 'corrupt', end, reason: 'checksum mismatch' };
  }
  const version = payload.readUInt8(0);
  if (!PAYLOAD_VERSIONS.has(version)) {
    return { kind: 'corrupt', end, reason: `unknown record version ${version}` };
  }
  const keyBytes = payload.readUInt32BE(9);
  if (PAYLOAD_FIXED_BYTES + keyBytes > payload.length) {
    return { kind: 'corrupt', end, reason: 'key longer than the record' };
  }
  const keyStart = PAYLOAD_FIXED_BYTES;
  const key = payload.subarray(keyStart, keyStart + keyBytes);
  const spooledAtMicros = payload.readDoubleBE(1);
  if (version === PAYLOAD_VERSION) {
    return {
      kind: 'record',
      end,
      record: { spooledAtMicros, key, value: payload.subarray(keyStart + keyBytes) },
    };
  }
  const headersStart = keyStart + keyBytes + 4;
  if (headersStart > payload.length)
    return { kind: 'corrupt', end, reason: 'headers length past the record' };
  const headersEnd = headersStart + payload.readUInt32BE(keyStart + keyBytes);
  if (headersEnd > payload.length) return { kind: 'corrupt', end, reason: 'headers longer than the record' };
  const headers = parseHeaders(payload.subarray(headersStart, headersEnd));
  if (headers === undefined)
    return { kind: 'corrupt', end, reason: 'headers are not a JSON object of strings' };
  return {
    kind: 'record',
    end,
    record: { spooledAtMicros, key, headers, value: payload.subarray(headersEnd) },
  };
}

function parseHeaders(bytes: Buffer): Record<string, string> | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes.toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
  const headers: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [name, value] of Object.entries(parsed)) {
    if (typeof value !== 'string') return undefined;
    headers[name] = value;
  }
  return headers;
}
