import { describe, expect, it } from 'vitest';
import {
  SessionSealer,
  UsedLinks,
  serializeSessionCookie,
  sessionCookieOf,
} from '../../src/dashboard/session.js';

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

  it('a signed-out session stays closed, even from a copy of the cookie', () => {
    const sealer = new SessionSealer(SECRET);
    const session = sealer.create('org-1', 'k', 3600, now);
    const value = sealer.seal(session);
    sealer.signOut(session, now);
    expect(sealer.open(value, now)).toBeNull();
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

describe('links from the LiveChat app work once', () => {
  it('accepts a nonce once, and forgets it only after its expiry', () => {
    const used = new UsedLinks();
    const now = Date.parse('2026-11-29T04:00:00Z');
    const exp = now / 1000 + 300;
    expect(used.use('n1', exp, now)).toBe(true);
    expect(used.use('n1', exp, now + 1000)).toBe(false);
    expect(used.use('n2', exp, now + 1000)).toBe(true);
  });
});
