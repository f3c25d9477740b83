import { describe, expect, it } from 'vitest';
import { SessionSealer, serializeSessionCookie, sessionCookieOf } from '../../src/dashboard/session.js';

const SECRET = 'a-session-secret-of-at-least-32-characters';

describe('dashboard session cookie', () => {
  const now = Date.parse('2026-11-29T04:00:00Z');

  it('opens what it sealed until the expiry, with the same secret only', () => {
    const sealer = new SessionSealer(SECRET);
    const session = sealer.create('org-1', 'abcdef0123456789', 3600, now);
    const value = sealer.seal(session);
    expect(sealer.open(value, now + 1000)).toEqual(session);
    expect(sealer.open(value, now + 3_600_000)).toBeNull();
    expect(new SessionSealer(SECRET).open(value, now)).toEqual(session);
    expect(new SessionSealer(`${SECRET}-other`).open(value, now)).toBeNull();
    expect(new SessionSealer(null).open(value, now)).toBeNull();
  });

  it('refuses a tampered, truncated or foreign value without throwing', () => {
    const sealer = new SessionSealer(SECRET);
    const value = sealer.seal(sealer.create('org-1', 'k', 3600, now));
    const flipped = `${value.slice(0, 20)}${value[20] === 'A' ? 'B' : 'A'}${value.slice(21)}`;
    for (const bad of [flipped, value.slice(0, -4), '', 'x'.repeat(5000), 'not base64!', undefined]) {
      expect(sealer.open(bad, now)).toBeNull();
    }
  });

  it('is HttpOnly, SameSite=Strict, on every path, Secure when asked', () => {
    expect(serializeSessionCookie('v', 60, false)).toBe(
      'lcp_dashboard=v; Path=/; Max-Age=60; HttpOnly; SameSite=Strict',
    );
    expect(serializeSessionCookie('v', 60, true)).toMatch(/; Secure$/);
    expect(sessionCookieOf('a=1; lcp_dashboard=xyz; lcp_dashboard=second')).toBe('xyz');
    expect(sessionCookieOf(undefined)).toBeUndefined();
  });
});
