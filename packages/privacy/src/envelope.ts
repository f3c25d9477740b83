import { createCipheriv, createDecipheriv, createSecretKey, randomFillSync } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
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
 * Nonces are cut from a pool filled by the CSPRNG 4 KiB at a time: `randomBytes(12)` costs a call into OpenSSL per
 * envelope (about 10 µs, the largest share of sealing a small record), a refill about as much per 341 nonces. Each
 * nonce is still 96 fresh random bits, used once (the pool is consumed, never reread); nonces are not secret.
 */
const NONCE_POOL = Buffer.alloc(NONCE_BYTES * 341);
let noncePoolOffset = NONCE_POOL.length;

/** Copies the next unused random nonce into `target` at `offset`. */
function writeNonce(target: Buffer, offset: number): void {
  if (noncePoolOffset + NONCE_BYTES > NONCE_POOL.length) {
    randomFillSync(NONCE_POOL);
    noncePoolOffset = 0;
  }
  NONCE_POOL.copy(target, offset, noncePoolOffset, noncePoolOffset + NONCE_BYTES);
  noncePoolOffset += NONCE_BYTES;
}

/**
 * A chat's unwrapped data key. The key material is a private field: it never shows in logs, JSON or
 * `util.inspect`, and leaves this module only wrapped (see KeyRing).
 */
export class ChatKey {
  readonly #material: Buffer;
  /** The material as a KeyObject, made on first use: a cipher made from one skips converting the Buffer each time. */
  #secret: KeyObject | undefined;

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
    // One buffer for the whole envelope (GCM's ciphertext is as long as the plaintext): no concatenation.
    const envelope = Buffer.allocUnsafe(ENVELOPE_OVERHEAD + plaintext.length);
    envelope.writeUInt8(ENVELOPE_VERSION, 0);
    envelope.writeUInt32BE(key.version, 1);
    writeNonce(envelope, HEADER_BYTES);
    const cipher = createCipheriv(
      'aes-256-gcm',
      ChatKey.#secretOf(key),
      envelope.subarray(HEADER_BYTES, HEADER_BYTES + NONCE_BYTES),
    );
    cipher.setAAD(aad(envelope.subarray(0, HEADER_BYTES), key.tenantId, key.chatId, field));
    let offset = HEADER_BYTES + NONCE_BYTES;
    offset += cipher.update(plaintext).copy(envelope, offset);
    offset += cipher.final().copy(envelope, offset);
    cipher.getAuthTag().copy(envelope, offset);
    return envelope;
  }

  static #secretOf(key: ChatKey): KeyObject {
    key.#secret ??= createSecretKey(key.#material);
    return key.#secret;
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
        ChatKey.#secretOf(key),
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
  const ids = JSON.stringify([tenantId, chatId, field]);
  const data = Buffer.allocUnsafe(HEADER_BYTES + Buffer.byteLength(ids, 'utf8'));
  header.copy(data, 0, 0, HEADER_BYTES);
  data.write(ids, HEADER_BYTES, 'utf8');
  return data;
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
