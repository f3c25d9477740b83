import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { PrivacyError } from './errors.js';

/** The first byte of every envelope; a later format gets the next number. */
export const ENVELOPE_VERSION = 1;
const HEADER_BYTES = 1 + 4; // version | key version (uint32 BE)
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
/** The smallest envelope: header, nonce and tag around an empty plaintext. */
export const ENVELOPE_OVERHEAD = HEADER_BYTES + NONCE_BYTES + TAG_BYTES;
/** The field name a body is bound to; a field of a chat event can never be called this. */
export const BODY_FIELD = '$body';

const FIELD = /^[A-Za-z0-9_.:/-]{1,128}$/;

/**
 * A chat's unwrapped data key. The key material is a private field: it never shows in logs, JSON or
 * `util.inspect`, and leaves this module only wrapped (see KeyRing).
 */
export class ChatKey {
  readonly #material: Buffer;

  constructor(
    readonly tenantId: string,
    readonly chatId: string,
    /** The data key's version, carried in every envelope it seals. */
    readonly version: number,
    material: Buffer,
  ) {
    if (material.length !== 32) throw new RangeError('a chat key is 32 bytes');
    if (!Number.isInteger(version) || version < 1 || version > 0xffffffff)
      throw new RangeError('a key version is a uint32 >= 1');
    this.#material = material;
  }

  /** @internal Use `encryptField` / `encryptBody`: the one place that reads the key material. */
  static seal(key: ChatKey, field: string, plaintext: Uint8Array): Buffer {
    checkField(field);
    const header = Buffer.allocUnsafe(HEADER_BYTES);
    header.writeUInt8(ENVELOPE_VERSION, 0);
    header.writeUInt32BE(key.version, 1);
    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv('aes-256-gcm', key.#material, nonce);
    cipher.setAAD(aad(header, key.tenantId, key.chatId, field));
    const body = cipher.update(plaintext);
    const last = cipher.final();
    return Buffer.concat([header, nonce, body, last, cipher.getAuthTag()]);
  }

  /** @internal */
  static open(key: ChatKey, field: string, envelope: Uint8Array): Buffer {
    checkField(field);
    const blob = Buffer.isBuffer(envelope)
      ? envelope
      : Buffer.from(envelope.buffer, envelope.byteOffset, envelope.byteLength);
    if (blob.length < ENVELOPE_OVERHEAD)
      throw new PrivacyError('PRIVACY_CIPHERTEXT_INVALID', `envelope of ${blob.length} bytes is too short`);
    if (blob[0] !== ENVELOPE_VERSION)
      throw new PrivacyError('PRIVACY_CIPHERTEXT_INVALID', `unknown envelope version ${blob[0]}`);
    const version = blob.readUInt32BE(1);
    if (version !== key.version)
      throw new PrivacyError(
        'PRIVACY_CIPHERTEXT_INVALID',
        `envelope sealed with key version ${version}, the chat key is version ${key.version}`,
      );
    try {
      const decipher = createDecipheriv(
        'aes-256-gcm',
        key.#material,
        blob.subarray(HEADER_BYTES, HEADER_BYTES + NONCE_BYTES),
      );
      decipher.setAAD(aad(blob.subarray(0, HEADER_BYTES), key.tenantId, key.chatId, field));
      decipher.setAuthTag(blob.subarray(blob.length - TAG_BYTES));
      return Buffer.concat([
        decipher.update(blob.subarray(HEADER_BYTES + NONCE_BYTES, blob.length - TAG_BYTES)),
        decipher.final(),
      ]);
    } catch (err) {
      throw new PrivacyError(
        'PRIVACY_CIPHERTEXT_INVALID',
        `envelope of field "${field}" failed authentication (tampered, or sealed for another tenant, chat or field)`,
        { cause: err },
      );
    }
  }

  toJSON(): { tenantId: string; chatId: string; version: number } {
    return { tenantId: this.tenantId, chatId: this.chatId, version: this.version };
  }
}

function checkField(field: string): void {
  if (!FIELD.test(field) && field !== BODY_FIELD)
    throw new PrivacyError('PRIVACY_INVALID_ARGUMENT', `field name must match ${FIELD.source}`);
}

/**
 * The additional authenticated data: the envelope's header (so its version and key version cannot be edited)
 * and tenant, chat and field as a JSON array (unambiguous whatever the ids contain). A ciphertext moved to
 * another chat, tenant or field fails authentication.
 */
function aad(header: Buffer, tenantId: string, chatId: string, field: string): Buffer {
  return Buffer.concat([header, Buffer.from(JSON.stringify([tenantId, chatId, field]), 'utf8')]);
}

/**
 * Encrypts one personal field of a chat event: AES-256-GCM, random 96-bit nonce, envelope
 * `version(1) | key version(4, BE) | nonce(12) | ciphertext | tag(16)` (33 bytes over the UTF-8 plaintext).
 */
export function encryptField(key: ChatKey, field: string, value: string): Buffer {
  return ChatKey.seal(key, field, Buffer.from(value, 'utf8'));
}

/** Opens what `encryptField` sealed for the same tenant, chat and field; PRIVACY_CIPHERTEXT_INVALID otherwise. */
export function decryptField(key: ChatKey, field: string, envelope: Uint8Array): string {
  return ChatKey.open(key, field, envelope).toString('utf8');
}

/** Encrypts a whole body (the raw webhook's redacted JSON), bound to the field name `$body`. */
export function encryptBody(key: ChatKey, body: Uint8Array): Buffer {
  return ChatKey.seal(key, BODY_FIELD, body);
}

/** Opens what `encryptBody` sealed. */
export function decryptBody(key: ChatKey, envelope: Uint8Array): Buffer {
  return ChatKey.open(key, BODY_FIELD, envelope);
}

/** The data-key version an envelope names, or undefined when the bytes are not a version-1 envelope. */
export function envelopeKeyVersion(envelope: Uint8Array): number | undefined {
  if (envelope.length < ENVELOPE_OVERHEAD || envelope[0] !== ENVELOPE_VERSION) return undefined;
  return Buffer.from(envelope.buffer, envelope.byteOffset, envelope.byteLength).readUInt32BE(1);
}
