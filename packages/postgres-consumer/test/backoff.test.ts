import { describe, expect, it } from 'vitest';
import { DEFAULT_BACKOFF, backoffDelay } from '../src/backoff.js';

describe('backoffDelay', () => {
  const noJitter = { ...DEFAULT_BACKOFF, jitter: 0 };

  it('doubles from 200 ms and stops at 30 s', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 8, 9, 20].map((n) => backoffDelay(noJitter, n))).toEqual([
      200, 400, 800, 1600, 3200, 6400, 12800, 25600, 30000, 30000,
    ]);
  });

  it('jitters downwards only, so the cap stays a cap', () => {
    expect(backoffDelay(DEFAULT_BACKOFF, 30, () => 0)).toBe(30_000);
    expect(backoffDelay(DEFAULT_BACKOFF, 30, () => 1)).toBe(24_000);
    expect(backoffDelay(DEFAULT_BACKOFF, 1, () => 0.5)).toBe(180);
  });
});
