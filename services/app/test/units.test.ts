import { createHash, hkdfSync, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { loadAppConfig } from '../src/config.js';
import { TokenCipher, deriveKeys, parseTokenKeys } from '../src/crypto/token-cipher.js';
import { STATE_KEY_PURPOSE, createStateCipher, openState, sealState } from '../src/oauth/state-cookie.js';
import { AppConfigError } from '../src/errors.js';
import { retryAfterMs } from '../src/http/retrying-fetch.js';
import { createPkcePair, s256Challenge } from '../src/oauth/pkce.js';
import { basicAuthMatches } from '../src/routes/lifecycle.js';

const key = () => randomBytes(32).toString('base64');

describe('token cipher (AES-256-GCM, key ids)', () => {
  it('seals with the first key, opens with any listed key, refuses tampering and swapped rows', () => {
    const k1 = key();
    const old = new TokenCipher(parseTokenKeys(`k1:${k1}`).keys);
    const sealed = old.seal('dal:secret-token', 'tenant-a/access');
    expect(sealed.keyId).toBe('k1');
    expect(sealed.ciphertext.toString('latin1')).not.toContain('secret-token');
    const rotated = new TokenCipher(parseTokenKeys(`k2:${key()},k1:${k1}`).keys);
    expect(rotated.open(sealed, 'tenant-a/access')).toBe('dal:secret-token');
    expect(rotated.isStale('k1')).toBe(true);
    expect(rotated.seal('x', 'a').keyId).toBe('k2');
    expect(() => rotated.open(sealed, 'tenant-b/access')).toThrow(/authentication/);
    const tampered = Buffer.from(sealed.ciphertext);
    tampered[tampered.length - 1]! ^= 1;
    expect(() => rotated.open({ keyId: 'k1', ciphertext: tampered }, 'tenant-a/access')).toThrow(
      /authentication/,
    );
    expect(() => new TokenCipher(parseTokenKeys(`k3:${key()}`).keys).open(sealed, 'tenant-a/access')).toThrow(
      /no key with id "k1"/,
    );
  });

  it('parses APP_TOKEN_KEYS strictly', () => {
    expect(parseTokenKeys('k1:short').problems[0]).toMatch(/32 bytes/);
    expect(parseTokenKeys(`k1:${key()},k1:${key()}`).problems[0]).toMatch(/twice/);
    expect(parseTokenKeys('nokey').problems[0]).toMatch(/kid:base64key/);
  });
});

describe('config', () => {
  it('starts without LiveChat credentials (install answers "not configured"), with LiveChat\'s real hosts as defaults', () => {
    const c = loadAppConfig({});
    expect(c.oauthConfigured).toBe(false);
    expect(c.livechat.accountsUrl).toBe('https://accounts.livechat.com');
    expect(c.livechat.apiUrl).toBe('https://api.livechatinc.com/v3.6');
    expect(c.http).toEqual({ host: '127.0.0.1', port: 8081 });
    expect(c.webhookUrl).toBe('http://127.0.0.1:8081/webhooks/livechat');
    expect(c.frameAncestors).toEqual([
      'https://my.livechatinc.com',
      'https://*.livechat.com',
      'https://*.text.com',
    ]);
    expect(c.webhooks.length).toBeGreaterThan(0);
    expect(Object.isFrozen(c.livechat)).toBe(true);
  });

  it('names every bad variable without echoing secrets', () => {
    let error: unknown;
    try {
      loadAppConfig({
        LIVECHAT_CLIENT_ID: 'abc',
        APP_PORT: 'eighty',
        APP_TOKEN_KEYS: 'k1:s3cr3t-value',
        LIVECHAT_API_URL: 'ftp://x',
        APP_LIFECYCLE_BASIC_AUTH: 'user:short',
      });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(AppConfigError);
    const message = (error as AppConfigError).message;
    for (const v of ['APP_PORT', 'LIVECHAT_API_URL', 'APP_LIFECYCLE_BASIC_AUTH'])
      expect(message).toContain(v);
    expect(message).not.toContain('s3cr3t-value');
    let second: unknown;
    try {
      loadAppConfig({ LIVECHAT_CLIENT_ID: 'abc', APP_TOKEN_KEYS: 'k1:s3cr3t-value' });
    } catch (err) {
      second = err;
    }
    expect((second as AppConfigError).problems.join('\n')).toMatch(
      /LIVECHAT_CLIENT_SECRET[\s\S]*APP_TOKEN_KEYS|APP_TOKEN_KEYS[\s\S]*LIVECHAT_CLIENT_SECRET/,
    );
  });
});

describe('small pieces', () => {
  it('PKCE S256 is base64url(sha256(verifier)) without padding', () => {
    const verifier = 'x'.repeat(43);
    const expected = createHash('sha256')
      .update(verifier)
      .digest('base64')
      .replace(/\+/g, '-')
      .replace(/\//g, '_')
      .replace(/=+$/, '');
    expect(s256Challenge(verifier)).toBe(expected);
    const pair = createPkcePair();
    expect(pair.verifier).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(pair.challenge).toBe(s256Challenge(pair.verifier));
  });

  it('Retry-After as seconds or an HTTP date', () => {
    expect(retryAfterMs('3')).toBe(3000);
    expect(retryAfterMs(new Date(10_000).toUTCString(), 4_000)).toBe(6000);
    expect(retryAfterMs(null)).toBeUndefined();
    expect(retryAfterMs('soon')).toBeUndefined();
  });

  it('lifecycle Basic auth compares exactly', () => {
    const expected = { user: 'livechat', password: 'a-long-password' };
    const header = `Basic ${Buffer.from('livechat:a-long-password').toString('base64')}`;
    expect(basicAuthMatches(header, expected)).toBe(true);
    expect(basicAuthMatches(`${header}x`, expected)).toBe(false);
    expect(basicAuthMatches(undefined, expected)).toBe(false);
  });
});

describe('OAuth state cookie key: derived from the token key with HKDF', () => {
  const fixed = Buffer.alloc(32, 7).toString('base64');
  const tokenKeys = parseTokenKeys(`k2:${key()},k1:${fixed}`).keys;

  it('is HKDF-SHA256(token key, salt livechat-pipeline/app, info oauth-state-cookie/v1), per key id', () => {
    const derived = deriveKeys(tokenKeys, STATE_KEY_PURPOSE);
    expect(derived.map((k) => k.id)).toEqual(['k2', 'k1']);
    const expected = Buffer.from(
      hkdfSync('sha256', Buffer.alloc(32, 7), 'livechat-pipeline/app', 'oauth-state-cookie/v1', 32),
    );
    expect(derived[1]!.key.equals(expected)).toBe(true);
    for (const [i, d] of derived.entries()) expect(d.key.equals(tokenKeys[i]!.key)).toBe(false);
    // another purpose, another key
    expect(deriveKeys(tokenKeys, 'something-else/v1')[1]!.key.equals(expected)).toBe(false);
  });

  it('a state cookie opens with the state cipher only, never with the token keys themselves', () => {
    const state = { state: 'st', verifier: 'v'.repeat(43), expiresAt: Date.now() + 60_000 };
    const cookie = sealState(createStateCipher(tokenKeys), state);
    expect(openState(createStateCipher(tokenKeys), cookie)).toMatchObject({ state: 'st' });
    expect(openState(new TokenCipher(tokenKeys), cookie)).toBeNull();
    // and what the token cipher seals is no state cookie
    const forged = new TokenCipher(tokenKeys).seal(
      JSON.stringify({ s: 'st', v: 'v'.repeat(43), e: Date.now() + 60_000 }),
      'oauth-state-cookie',
    );
    expect(
      openState(createStateCipher(tokenKeys), `${forged.keyId}.${forged.ciphertext.toString('base64url')}`),
    ).toBeNull();
  });
});
