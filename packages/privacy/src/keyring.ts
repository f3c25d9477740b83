import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import type { PrivacyConfig } from './config.js';
import { PrivacyError } from './errors.js';
import { LruCache } from './lru.js';

/** The HKDF salt of every tenant key-encryption key. */
export const KEK_DERIVATION_SALT = 'livechat-pipeline/privacy';
const WRAP_VERSION = 1;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const WRAPPED_BYTES = 1 + NONCE_BYTES + 32 + TAG_BYTES;

/** What a wrapped data key is bound to (its additional authenticated data). */
export interface WrapContext {
  readonly tenantId: string;
  readonly chatId: string;
  readonly version: number;
}

/**
 * The key-encryption keys. Each tenant has its own KEK per master key id, derived with HKDF-SHA256 (salt
 * KEK_DERIVATION_SALT, info `kek/<tenant id>`): one secret to configure and back up, yet a wrapped key copied
 * to another tenant's row cannot be unwrapped. Wrapping is AES-256-GCM, blob `version(1) | nonce(12) |
 * ciphertext(32) | tag(16)`, AAD binding tenant, chat, master key id and data-key version.
 */
export class KeyRing {
  private readonly keks: LruCache<Buffer>;

  constructor(private readonly config: Pick<PrivacyConfig, 'keys' | 'activeKeyId'>) {
    if (!config.keys.has(config.activeKeyId))
      throw new PrivacyError(
        'PRIVACY_CONFIG_INVALID',
        `active key id "${config.activeKeyId}" is not configured`,
      );
    // Derivation costs ~10 µs; a few thousand tenants fit, and an eviction only costs a derivation.
    this.keks = new LruCache<Buffer>(4096, 24 * 3_600_000);
  }

  get activeKeyId(): string {
    return this.config.activeKeyId;
  }

  has(keyId: string): boolean {
    return this.config.keys.has(keyId);
  }

  wrap(dataKey: Buffer, ctx: WrapContext): { keyId: string; wrapped: Buffer } {
    const keyId = this.config.activeKeyId;
    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.kek(ctx.tenantId, keyId), nonce);
    cipher.setAAD(wrapAad(ctx, keyId));
    const body = Buffer.concat([cipher.update(dataKey), cipher.final()]);
    return { keyId, wrapped: Buffer.concat([Buffer.from([WRAP_VERSION]), nonce, body, cipher.getAuthTag()]) };
  }

  unwrap(keyId: string, wrapped: Buffer, ctx: WrapContext): Buffer {
    if (!this.config.keys.has(keyId))
      throw new PrivacyError(
        'PRIVACY_KEK_UNKNOWN',
        `the data key of a chat of tenant ${ctx.tenantId} is wrapped by key id "${keyId}", which PRIVACY_KEYS does not hold`,
      );
    if (wrapped.length !== WRAPPED_BYTES || wrapped[0] !== WRAP_VERSION)
      throw new PrivacyError('PRIVACY_CIPHERTEXT_INVALID', 'unknown wrapped-key format');
    try {
      const decipher = createDecipheriv(
        'aes-256-gcm',
        this.kek(ctx.tenantId, keyId),
        wrapped.subarray(1, 1 + NONCE_BYTES),
      );
      decipher.setAAD(wrapAad(ctx, keyId));
      decipher.setAuthTag(wrapped.subarray(WRAPPED_BYTES - TAG_BYTES));
      return Buffer.concat([
        decipher.update(wrapped.subarray(1 + NONCE_BYTES, WRAPPED_BYTES - TAG_BYTES)),
        decipher.final(),
      ]);
    } catch (err) {
      throw new PrivacyError(
        'PRIVACY_CIPHERTEXT_INVALID',
        `a wrapped data key of tenant ${ctx.tenantId} failed authentication`,
        { cause: err },
      );
    }
  }

  private kek(tenantId: string, keyId: string): Buffer {
    const cacheKey = `${keyId}\u0000${tenantId}`;
    let kek = this.keks.get(cacheKey);
    if (kek === undefined) {
      kek = Buffer.from(
        hkdfSync('sha256', this.config.keys.get(keyId)!, KEK_DERIVATION_SALT, `kek/${tenantId}`, 32),
      );
      this.keks.set(cacheKey, kek);
    }
    return kek;
  }
}

function wrapAad(ctx: WrapContext, keyId: string): Buffer {
  return Buffer.from(JSON.stringify(['wrap/v1', ctx.tenantId, ctx.chatId, keyId, ctx.version]), 'utf8');
}
