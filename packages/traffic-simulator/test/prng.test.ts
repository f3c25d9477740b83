import { describe, expect, it } from 'vitest';
import { Random, hashToSeed, mulberry32 } from '../src/index.js';

describe('mulberry32', () => {
  it('gives the same sequence for the same seed', () => {
    const a = mulberry32(42);
    const b = mulberry32(42);
    const first = Array.from({ length: 5 }, a);
    expect(Array.from({ length: 5 }, b)).toEqual(first);
    expect(first.every((x) => x >= 0 && x < 1)).toBe(true);
  });

  it('gives different sequences for different seeds', () => {
    expect(mulberry32(1)()).not.toBe(mulberry32(2)());
  });
});

describe('Random', () => {
  it('derives independent streams from one seed', () => {
    expect(Random.derive(7, 'a').float()).toBe(Random.derive(7, 'a').float());
    expect(Random.derive(7, 'a').float()).not.toBe(Random.derive(7, 'b').float());
    expect(hashToSeed('x')).toBe(hashToSeed('x'));
  });

  it('shapes ids like LiveChat does', () => {
    const random = new Random(3);
    expect(random.upperAlnum(10)).toMatch(/^[A-Z0-9]{10}$/);
    expect(random.uuid()).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(random.digits(8)).toMatch(/^[1-9][0-9]{7}$/);
  });

  it('keeps int within its inclusive bounds', () => {
    const random = new Random(9);
    const values = Array.from({ length: 1000 }, () => random.int(2, 4));
    expect(new Set(values)).toEqual(new Set([2, 3, 4]));
  });
});
