import { createDecipheriv } from 'node:crypto';
import { RegistryError } from './errors.js';

const VERSION = 1;
const IV_BYTES = 12;
const TAG_BYTES = 16;

/**
 * Opens a token the app sealed (services/app `TokenCipher`: AES-256-GCM, blob `version(1) | iv(12) | tag(16) |
 * ciphertext`, the key id beside it, `aad` binding it to its row and purpose, e.g. `<tenant id>/hubspot`), for a
 * reader that is not the app (crm-sync). `keys` are the app's `APP_TOKEN_KEYS` (id -> 32-byte key).
 */
export function openSealedToken(
  keys: ReadonlyMap<string, Buffer>,
  sealed: { readonly keyId: string; readonly ciphertext: Buffer },
  aad: string,
): string {
  const key = keys.get(sealed.keyId);
  if (key === undefined)
    throw new RegistryError(
      'REGISTRY_TOKEN_UNREADABLE',
      `no key with id "${sealed.keyId}" to open the token`,
    );
  const blob = sealed.ciphertext;
  if (blob.length < 1 + IV_BYTES + TAG_BYTES || blob[0] !== VERSION)
    throw new RegistryError('REGISTRY_TOKEN_UNREADABLE', 'unknown token blob format');
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, blob.subarray(1, 1 + IV_BYTES));
    decipher.setAAD(Buffer.from(aad, 'utf8'));
    decipher.setAuthTag(blob.subarray(1 + IV_BYTES, 1 + IV_BYTES + TAG_BYTES));
    return Buffer.concat([
      decipher.update(blob.subarray(1 + IV_BYTES + TAG_BYTES)),
      decipher.final(),
    ]).toString('utf8');
  } catch (err) {
    throw new RegistryError('REGISTRY_TOKEN_UNREADABLE', 'token ciphertext failed authentication', {
      cause: err,
    });
  }
}
