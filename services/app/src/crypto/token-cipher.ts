import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { AppError } from '../errors.js';

export interface TokenKey {
  readonly id: string;
  readonly key: Buffer;
}

export interface SealedToken {
  readonly keyId: string;
  readonly ciphertext: Buffer;
}

const VERSION = 1;
const IV_BYTES = 12;
const TAG_BYTES = 16;

/**
 * AES-256-GCM for tokens at rest. The blob is `version(1) | iv(12) | tag(16) | ciphertext`; the key id is stored
 * beside it, so keys rotate: the first key seals, every listed key opens. The additional authenticated data
 * binds a ciphertext to its row and purpose (e.g. `<tenant id>/access`), so blobs cannot be swapped between
 * tenants or fields.
 */
export class TokenCipher {
  private readonly byId: ReadonlyMap<string, Buffer>;

  constructor(private readonly keys: readonly TokenKey[]) {
    if (keys.length === 0) throw new AppError('APP_CONFIG_INVALID', 'TokenCipher needs at least one key');
    for (const k of keys) {
      if (k.key.length !== 32) throw new AppError('APP_CONFIG_INVALID', `key ${k.id} must be 32 bytes`);
    }
    this.byId = new Map(keys.map((k) => [k.id, k.key]));
  }

  get currentKeyId(): string {
    return this.keys[0]!.id;
  }

  seal(plaintext: string, aad: string): SealedToken {
    const { id, key } = this.keys[0]!;
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    cipher.setAAD(Buffer.from(aad, 'utf8'));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return { keyId: id, ciphertext: Buffer.concat([Buffer.from([VERSION]), iv, cipher.getAuthTag(), body]) };
  }

  open(sealed: SealedToken, aad: string): string {
    const key = this.byId.get(sealed.keyId);
    if (key === undefined)
      throw new AppError('APP_TOKEN_DECRYPT_FAILED', `no key with id "${sealed.keyId}" in APP_TOKEN_KEYS`);
    const blob = sealed.ciphertext;
    if (blob.length < 1 + IV_BYTES + TAG_BYTES || blob[0] !== VERSION)
      throw new AppError('APP_TOKEN_DECRYPT_FAILED', 'unknown token blob format');
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, blob.subarray(1, 1 + IV_BYTES));
      decipher.setAAD(Buffer.from(aad, 'utf8'));
      decipher.setAuthTag(blob.subarray(1 + IV_BYTES, 1 + IV_BYTES + TAG_BYTES));
      return Buffer.concat([
        decipher.update(blob.subarray(1 + IV_BYTES + TAG_BYTES)),
        decipher.final(),
      ]).toString('utf8');
    } catch (err) {
      throw new AppError('APP_TOKEN_DECRYPT_FAILED', 'token ciphertext failed authentication', {
        cause: err,
      });
    }
  }

  /** Whether a blob sealed with `keyId` should be re-sealed (it is not under the current key). */
  isStale(keyId: string): boolean {
    return keyId !== this.currentKeyId;
  }
}

/** Parses APP_TOKEN_KEYS: comma-separated `kid:base64key`, 32-byte keys, unique ids; the first is current. */
export function parseTokenKeys(value: string): { keys: TokenKey[]; problems: string[] } {
  const keys: TokenKey[] = [];
  const problems: string[] = [];
  const entries = value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  entries.forEach((entry, i) => {
    const colon = entry.indexOf(':');
    const id = colon > 0 ? entry.slice(0, colon) : '';
    if (!/^[A-Za-z0-9._-]{1,32}$/.test(id)) {
      problems.push(`entry ${i + 1}: must be kid:base64key with a kid of 1-32 [A-Za-z0-9._-]`);
      return;
    }
    const b64 = entry.slice(colon + 1);
    const key = Buffer.from(b64, 'base64');
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64) || key.length !== 32) {
      problems.push(`key "${id}": must be 32 bytes, base64 (e.g. \`openssl rand -base64 32\`)`);
      return;
    }
    if (keys.some((k) => k.id === id)) {
      problems.push(`key id "${id}" appears twice`);
      return;
    }
    keys.push({ id, key });
  });
  return { keys, problems };
}

/** The HKDF salt of every key the app derives from APP_TOKEN_KEYS. */
export const KEY_DERIVATION_SALT = 'livechat-pipeline/app';

/**
 * Keys for another purpose than sealing tokens, derived from the token keys with HKDF-SHA256 (salt
 * KEY_DERIVATION_SALT, info `purpose`), same ids, same order: one secret to configure and rotate, but a cookie
 * sealed for one purpose can never be opened as a token (or the reverse), and the token key itself never
 * touches a browser-held ciphertext.
 */
export function deriveKeys(keys: readonly TokenKey[], purpose: string): TokenKey[] {
  return keys.map((k) => ({
    id: k.id,
    key: Buffer.from(hkdfSync('sha256', k.key, KEY_DERIVATION_SALT, purpose, 32)),
  }));
}
