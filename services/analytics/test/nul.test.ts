import { describe, expect, it } from 'vitest';
import { NUL_REPLACEMENT, replaceNul } from '../src/facts/nul.js';

describe('replaceNul', () => {
  it('returns rows without U+0000 or lone surrogates as they are (the same objects, nothing copied)', () => {
    const rows = [
      { tenant: 't', chat_id: 'c', tags: ['a', 'b'], n: 1, ok: true, none: null },
      { tenant: 't', chat_id: 'pair \ud83d\ude00' },
    ];
    const out = replaceNul(rows);
    expect(out).toBe(rows);
    expect(out[0]).toBe(rows[0]);
  });

  it('replaces U+0000 and lone surrogates in values and keys at any depth, keeping the order of the keys', () => {
    const rows = [
      { a: 'ok', b: 'x\u0000y', c: 1 },
      { 'k\u0000': 'v', d: ['\ud800', 'z'], e: { f: 'w\u0000' } },
    ];
    const out = replaceNul(rows);
    expect(out).not.toBe(rows);
    expect(out[0]).toEqual({ a: 'ok', b: `x${NUL_REPLACEMENT}y`, c: 1 });
    expect(Object.keys(out[0]!)).toEqual(['a', 'b', 'c']);
    expect(out[1]).toEqual({
      [`k${NUL_REPLACEMENT}`]: 'v',
      d: [NUL_REPLACEMENT, 'z'],
      e: { f: `w${NUL_REPLACEMENT}` },
    });
    expect(rows[0]!.b).toBe('x\u0000y'); // the input is not changed
  });

  it('leaves objects that serialise themselves alone', () => {
    const date = new Date(0);
    expect(replaceNul([{ at: date }])[0]!.at).toBe(date);
  });
});
