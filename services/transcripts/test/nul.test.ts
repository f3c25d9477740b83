import { describe, expect, it } from 'vitest';
import { NUL_REPLACEMENT, replaceNul } from '../src/projection/nul.js';

/** `depth` objects nested through `child`, a NUL at the bottom; counts the reads of each level's child. */
function nested(depth: number): { value: unknown; reads: () => number } {
  let reads = 0;
  let value: unknown = { text: 'a\u0000b' };
  for (let i = 0; i < depth; i++) {
    const level = { child: value, n: i };
    value = new Proxy(level, {
      get(target, key, receiver) {
        if (key === 'child') reads++;
        return Reflect.get(target, key, receiver) as unknown;
      },
    });
  }
  return { value, reads: () => reads };
}

describe('replaceNul', () => {
  it('replaces a NUL at the bottom of a deep object reading each level once (linear in the depth a sender controls)', () => {
    const { value, reads } = nested(20);
    const replaced = replaceNul(value);
    expect(reads()).toBe(20);
    let bottom = replaced as { child?: unknown; text?: string };
    for (let i = 0; i < 20; i++) bottom = bottom.child as typeof bottom;
    expect(bottom.text).toBe(`a${NUL_REPLACEMENT}b`);
  });

  it('keeps key order, copies only what changed, and keeps a "__proto__" key a key', () => {
    const clean = { x: 1, y: ['a'] };
    const input = JSON.parse(
      '{"a":1,"b\\u0000":"c","__proto__":"d\\u0000","clean":{"x":1,"y":["a"]}}',
    ) as Record<string, unknown>;
    input['clean'] = clean;
    const out = replaceNul(input);
    expect(Object.keys(out)).toEqual(['a', `b${NUL_REPLACEMENT}`, '__proto__', 'clean']);
    expect(Object.getOwnPropertyDescriptor(out, '__proto__')?.value).toBe(`d${NUL_REPLACEMENT}`);
    expect(out['clean']).toBe(clean);
    expect(replaceNul(clean)).toBe(clean);
  });
});
