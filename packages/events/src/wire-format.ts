import { EventsError } from './errors.js';

/** Confluent wire format: magic byte 0, 4-byte big-endian schema id, then the Avro binary body. */
export const MAGIC_BYTE = 0;
export const HEADER_LENGTH = 5;

export function frame(schemaId: number, avroBody: Buffer): Buffer {
  const out = Buffer.allocUnsafe(HEADER_LENGTH + avroBody.length);
  out.writeUInt8(MAGIC_BYTE, 0);
  out.writeUInt32BE(schemaId, 1);
  avroBody.copy(out, HEADER_LENGTH);
  return out;
}

export interface Unframed {
  readonly schemaId: number;
  readonly body: Buffer;
}

export function unframe(bytes: Buffer): Unframed {
  if (bytes.length < HEADER_LENGTH) {
    throw new EventsError(
      'EVENTS_WIRE_FORMAT_INVALID',
      `message of ${bytes.length} bytes is shorter than the 5-byte header`,
      {
        details: { length: bytes.length },
      },
    );
  }
  const magic = bytes.readUInt8(0);
  if (magic !== MAGIC_BYTE) {
    throw new EventsError('EVENTS_WIRE_FORMAT_INVALID', `unknown magic byte ${magic} (expected 0)`, {
      details: { magic },
    });
  }
  return { schemaId: bytes.readUInt32BE(1), body: bytes.subarray(HEADER_LENGTH) };
}
