import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  ChatKey,
  ENVELOPE_OVERHEAD,
  KeyRing,
  LruCache,
  decryptBody,
  decryptField,
  encryptBody,
  encryptField,
  envelopeKeyVersion,
  parsePrivacyConfig,
} from '../src/index.js';
import type { PrivacyError } from '../src/index.js';

const key = (tenant = 't1', chat = 'C1', version = 1, material = randomBytes(32)): ChatKey =>
  new ChatKey(tenant, chat, version, material);

function codeOf(fn: () => unknown): string {
  try {
    fn();
    return '';
  } catch (err) {
    return (err as PrivacyError).code;
  }
}

describe('envelope: AES-256-GCM, version | key version | nonce | ciphertext+tag, AAD tenant|chat|field', () => {
  it('round-trips fields and bodies, with a fresh nonce each time and 33 bytes of overhead', () => {
    const k = key();
    const a = encryptField(k, 'message.text', 'hello Zoë');
    const b = encryptField(k, 'message.text', 'hello Zoë');
    expect(a.equals(b)).toBe(false);
    expect(a.length).toBe(Buffer.byteLength('hello Zoë') + ENVELOPE_OVERHEAD);
    expect(a[0]).toBe(1);
    expect(envelopeKeyVersion(a)).toBe(1);
    expect(decryptField(k, 'message.text', a)).toBe('hello Zoë');
    expect(decryptField(k, 'message.text', encryptField(k, 'message.text', ''))).toBe('');
    const body = randomBytes(10_000);
    expect(decryptBody(k, encryptBody(k, body)).equals(body)).toBe(true);
    expect(envelopeKeyVersion(encryptField(key('t1', 'C1', 7), 'f', 'x'))).toBe(7);
    expect(envelopeKeyVersion(Buffer.from('{"plain":"json"}'))).toBeUndefined();
  });

  it('a flipped bit anywhere, or another tenant, chat, field or key, is PRIVACY_CIPHERTEXT_INVALID', () => {
    const material = randomBytes(32);
    const k = key('t1', 'C1', 1, material);
    const sealed = encryptField(k, 'customer.email', 'zoe@example.com');
    for (let i = 0; i < sealed.length; i++) {
      const tampered = Buffer.from(sealed);
      tampered[i]! ^= 0x01;
      expect(codeOf(() => decryptField(k, 'customer.email', tampered))).toBe('PRIVACY_CIPHERTEXT_INVALID');
    }
    expect(codeOf(() => decryptField(k, 'customer.name', sealed))).toBe('PRIVACY_CIPHERTEXT_INVALID');
    expect(codeOf(() => decryptField(key('t1', 'C2', 1, material), 'customer.email', sealed))).toBe(
      'PRIVACY_CIPHERTEXT_INVALID',
    );
    expect(codeOf(() => decryptField(key('t2', 'C1', 1, material), 'customer.email', sealed))).toBe(
      'PRIVACY_CIPHERTEXT_INVALID',
    );
    expect(codeOf(() => decryptField(key('t1', 'C1', 2, material), 'customer.email', sealed))).toBe(
      'PRIVACY_CIPHERTEXT_INVALID',
    );
    expect(codeOf(() => decryptField(key(), 'customer.email', sealed))).toBe('PRIVACY_CIPHERTEXT_INVALID');
    expect(codeOf(() => decryptBody(k, sealed))).toBe('PRIVACY_CIPHERTEXT_INVALID');
    expect(codeOf(() => decryptField(k, 'customer.email', sealed.subarray(0, 20)))).toBe(
      'PRIVACY_CIPHERTEXT_INVALID',
    );
    // ids that would collide if the AAD were a plain join are told apart
    const joined = encryptField(key('t|1', 'C', 1, material), 'f', 'x');
    expect(codeOf(() => decryptField(key('t', '1|C', 1, material), 'f', joined))).toBe(
      'PRIVACY_CIPHERTEXT_INVALID',
    );
  });

  it('the key material never shows in JSON or inspect output', async () => {
    const material = Buffer.alloc(32, 0xab);
    const k = key('t1', 'C1', 1, material);
    const { inspect } = await import('node:util');
    expect(JSON.stringify(k)).toBe('{"tenantId":"t1","chatId":"C1","version":1}');
    expect(inspect(k, { showHidden: true, depth: 5 })).not.toMatch(/ab ab|abab|q6ur/i);
  });
});

describe('key ring: per-tenant KEKs derived from rotatable master keys', () => {
  const k1 = randomBytes(32);
  const k2 = randomBytes(32);
  const ctx = { tenantId: 't1', chatId: 'C1', version: 1 };

  it('wraps with the active id, unwraps with any configured id, binds tenant, chat and version', () => {
    const old = new KeyRing({ keys: new Map([['k1', k1]]), activeKeyId: 'k1' });
    const dataKey = randomBytes(32);
    const w = old.wrap(dataKey, ctx);
    expect(w.keyId).toBe('k1');
    const rotated = new KeyRing({
      keys: new Map([
        ['k1', k1],
        ['k2', k2],
      ]),
      activeKeyId: 'k2',
    });
    expect(rotated.unwrap('k1', w.wrapped, ctx).equals(dataKey)).toBe(true);
    expect(rotated.wrap(dataKey, ctx).keyId).toBe('k2');
    expect(codeOf(() => rotated.unwrap('k1', w.wrapped, { ...ctx, tenantId: 't2' }))).toBe(
      'PRIVACY_CIPHERTEXT_INVALID',
    );
    expect(codeOf(() => rotated.unwrap('k1', w.wrapped, { ...ctx, chatId: 'C2' }))).toBe(
      'PRIVACY_CIPHERTEXT_INVALID',
    );
    expect(codeOf(() => rotated.unwrap('k2', w.wrapped, ctx))).toBe('PRIVACY_CIPHERTEXT_INVALID');
    const without = new KeyRing({ keys: new Map([['k2', k2]]), activeKeyId: 'k2' });
    expect(codeOf(() => without.unwrap('k1', w.wrapped, ctx))).toBe('PRIVACY_KEK_UNKNOWN');
  });
});

describe('configuration', () => {
  const b64 = () => randomBytes(32).toString('base64');

  it('is off without PRIVACY_KEYS, and parses keys, the active id and the cache settings', () => {
    expect(parsePrivacyConfig({})).toBeNull();
    const c = parsePrivacyConfig({
      PRIVACY_KEYS: `k1:${b64()}, k2:${b64()}`,
      PRIVACY_ACTIVE_KEY_ID: 'k2',
      PRIVACY_EMAIL_HASH_KEY: b64(),
      PRIVACY_KEY_CACHE_SIZE: '50',
      PRIVACY_KEY_CACHE_TTL_MS: '60000',
    })!;
    expect([...c.keys.keys()]).toEqual(['k1', 'k2']);
    expect(c.activeKeyId).toBe('k2');
    expect(c.cacheSize).toBe(50);
    expect(c.cacheTtlMs).toBe(60_000);
    expect(c.schema).toBe('privacy');
    expect(
      parsePrivacyConfig({ PRIVACY_KEYS: `k1:${b64()}`, PRIVACY_EMAIL_HASH_KEY: b64() })!.activeKeyId,
    ).toBe('k1');
  });

  it('names every problem, never the key material', () => {
    const secret = b64();
    let message = '';
    try {
      parsePrivacyConfig({
        PRIVACY_KEYS: `k1:${secret.slice(0, 20)},k1:${b64()},bad id:${b64()}`,
        PRIVACY_ACTIVE_KEY_ID: 'k9',
        PRIVACY_KEY_CACHE_SIZE: '0',
        PRIVACY_KEY_CACHE_TTL_MS: 'soon',
      });
    } catch (err) {
      expect((err as PrivacyError).code).toBe('PRIVACY_CONFIG_INVALID');
      message = (err as Error).message;
    }
    expect(message).toMatch(/key "k1": must be 32 bytes/);
    expect(message).toMatch(/entry 3/);
    expect(message).toMatch(/PRIVACY_ACTIVE_KEY_ID: "k9" is not a key id/);
    expect(message).toMatch(/PRIVACY_EMAIL_HASH_KEY: required/);
    expect(message).toMatch(/PRIVACY_KEY_CACHE_SIZE/);
    expect(message).toMatch(/PRIVACY_KEY_CACHE_TTL_MS/);
    expect(message).not.toContain(secret.slice(0, 20));
    expect(codeOf(() => parsePrivacyConfig({ PRIVACY_ACTIVE_KEY_ID: 'k1' }))).toBe('PRIVACY_CONFIG_INVALID');
    const same = b64();
    expect(
      codeOf(() => parsePrivacyConfig({ PRIVACY_KEYS: `k1:${same}`, PRIVACY_EMAIL_HASH_KEY: same })),
    ).toBe('PRIVACY_CONFIG_INVALID');
  });
});

describe('LRU cache', () => {
  it('keeps at most maxEntries, evicting the least recently used, and forgets entries after the TTL', () => {
    let now = 0;
    const cache = new LruCache<number>(3, 1000, () => now);
    for (let i = 0; i < 3; i++) cache.set(`k${i}`, i);
    expect(cache.get('k0')).toBe(0); // k0 is now the most recent
    cache.set('k3', 3);
    expect(cache.size).toBe(3);
    expect(cache.get('k1')).toBeUndefined();
    expect(cache.get('k0')).toBe(0);
    for (let i = 0; i < 10_000; i++) cache.set(`x${i}`, i);
    expect(cache.size).toBe(3);
    now = 999;
    expect(cache.get('x9999')).toBe(9999);
    now = 2000;
    expect(cache.get('x9999')).toBeUndefined();
    expect(cache.stats()).toMatchObject({ evictions: 10_001, expirations: 1, size: 2 });
  });
});
