import { describe, expect, it } from 'vitest';
import { CachedReadiness, publicReport } from '../src/readiness.js';
import type { ReadinessReport } from '../src/readiness.js';

const ready: ReadinessReport = { ready: true, checks: [{ name: 'kafka', ok: true }] };

describe('CachedReadiness', () => {
  it('runs one check per period however many callers, concurrent or not', async () => {
    let now = 0;
    let checks = 0;
    let release: () => void = () => undefined;
    const probe = {
      check: () =>
        new Promise<ReadinessReport>((resolve) => {
          checks++;
          release = () => resolve(ready);
        }),
    };
    const cached = new CachedReadiness(probe, 1000, () => now);
    const burst = Array.from({ length: 100 }, () => cached.check());
    expect(checks).toBe(1);
    release();
    expect(await Promise.all(burst)).toEqual(Array(100).fill(ready));
    now = 999;
    await cached.check();
    expect(checks).toBe(1);
    now = 1000;
    const next = cached.check();
    expect(checks).toBe(2);
    release();
    await next;
  });

  it('a failed probe is not cached as an answer and the next call tries again', async () => {
    let checks = 0;
    const cached = new CachedReadiness(
      { check: () => (checks++, Promise.reject(new Error('boom'))) },
      1000,
      () => 0,
    );
    await expect(cached.check()).rejects.toThrow('boom');
    await expect(cached.check()).rejects.toThrow('boom');
    expect(checks).toBe(2);
  });
});

describe('publicReport', () => {
  it('drops the detail of a failed check', () => {
    const report: ReadinessReport = {
      ready: false,
      checks: [{ name: 'kafka', ok: false, detail: 'Connection error: connect ECONNREFUSED 10.0.0.7:9092' }],
    };
    expect(JSON.stringify(publicReport(report))).not.toContain('ECONNREFUSED');
    expect(publicReport(report)).toEqual({
      ok: false,
      status: 'not_ready',
      checks: [{ name: 'kafka', ok: false }],
    });
  });
});
