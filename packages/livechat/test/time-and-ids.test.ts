import { describe, expect, it } from 'vitest';
import { deterministicEventId } from '../src/ids.js';
import { epochSecondsToMicros, rfc3339ToMicros } from '../src/time.js';

describe('rfc3339ToMicros', () => {
  it('keeps the microseconds Date.parse would drop', () => {
    expect(rfc3339ToMicros('2020-05-12T11:42:47.383001Z')).toBe(
      Date.parse('2020-05-12T11:42:47Z') * 1000 + 383_001,
    );
  });

  it('pads short fractions, truncates long ones, reads offsets, accepts no fraction', () => {
    const whole = Date.parse('2020-05-12T11:42:47Z') * 1000;
    expect(rfc3339ToMicros('2020-05-12T11:42:47.5Z')).toBe(whole + 500_000);
    expect(rfc3339ToMicros('2020-05-12T11:42:47.1234569Z')).toBe(whole + 123_456);
    expect(rfc3339ToMicros('2020-05-12T13:42:47.000001+02:00')).toBe(whole + 1);
    expect(rfc3339ToMicros('2020-05-12T11:42:47Z')).toBe(whole);
  });

  it('returns null for anything else', () => {
    for (const value of [
      undefined,
      null,
      1589283767,
      '',
      'yesterday',
      '2020-05-12',
      '2020-13-45T99:99:99Z',
    ]) {
      expect(rfc3339ToMicros(value)).toBeNull();
    }
  });
});

describe('epochSecondsToMicros', () => {
  it('multiplies v2 epoch seconds by 1e6, accepting numeric strings', () => {
    expect(epochSecondsToMicros(1794937653)).toBe(1_794_937_653_000_000);
    expect(epochSecondsToMicros('1794937653')).toBe(1_794_937_653_000_000);
    expect(epochSecondsToMicros(undefined)).toBeNull();
    expect(epochSecondsToMicros('soon')).toBeNull();
    expect(epochSecondsToMicros(-1)).toBeNull();
  });
});

describe('deterministicEventId', () => {
  it('is a UUIDv8 that depends on every part and on their boundaries', () => {
    const id = deterministicEventId(['scheme', 'ab', 'c']);
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(deterministicEventId(['scheme', 'ab', 'c'])).toBe(id);
    expect(deterministicEventId(['scheme', 'a', 'bc'])).not.toBe(id);
    expect(deterministicEventId(['scheme', null])).not.toBe(deterministicEventId(['scheme', '']));
  });
});
