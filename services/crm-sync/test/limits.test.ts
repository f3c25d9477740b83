import { describe, expect, it } from 'vitest';
import { classify } from '../src/hubspot/client.js';
import { AccountBusy, AccountLimits, TokenBucket, nextMidnight } from '../src/sync/accounts.js';
import { backoffDelay } from '../src/sync/worker.js';

const rateLimit = (policyName: string, message: string) => ({
  status: 'error',
  message,
  errorType: 'RATE_LIMIT',
  correlationId: 'c',
  policyName,
  requestId: 'r',
});

describe('HubSpot answers as codes', () => {
  it('a 429 is read by policyName: the ten-second window, a second for the secondly limit, a pause for DAILY', () => {
    const none = new Headers();
    const ten = classify(
      429,
      rateLimit('TEN_SECONDLY_ROLLING', 'You have reached your ten_secondly_rolling limit.'),
      none,
    );
    expect([ten.code, ten.details.retryAfterMs]).toEqual(['CRM_HUBSPOT_RATE_LIMITED', 10_000]);
    const secondly = classify(
      429,
      { status: 'error', message: 'You have reached your secondly limit.' },
      none,
    );
    expect(secondly.details.retryAfterMs).toBe(1_000);
    expect(classify(429, rateLimit('DAILY', 'You have reached your daily limit.'), none).code).toBe(
      'CRM_HUBSPOT_DAILY_LIMIT',
    );
    // Retry-After is honoured when present
    const withHeader = classify(
      429,
      rateLimit('TEN_SECONDLY_ROLLING', 'x'),
      new Headers({ 'retry-after': '3' }),
    );
    expect(withHeader.details.retryAfterMs).toBe(3_000);
  });

  it('401/403 break the connection, 5xx and 423 are transient, 400 is a refusal', () => {
    const h = new Headers();
    expect(classify(401, { category: 'INVALID_AUTHENTICATION' }, h).code).toBe('CRM_HUBSPOT_UNAUTHORIZED');
    expect(classify(403, {}, h).code).toBe('CRM_HUBSPOT_UNAUTHORIZED');
    expect(classify(503, {}, h).code).toBe('CRM_HUBSPOT_UNAVAILABLE');
    expect(classify(423, {}, h).code).toBe('CRM_HUBSPOT_UNAVAILABLE');
    const refused = classify(400, { category: 'VALIDATION_ERROR', message: 'bad' }, h);
    expect([refused.code, refused.retryable, refused.details.hubspotError]).toEqual([
      'CRM_HUBSPOT_REJECTED',
      false,
      { category: 'VALIDATION_ERROR', message: 'bad' },
    ]);
  });
});

describe('limits per account', () => {
  it('a token bucket lets a burst through, then one call per refill interval', () => {
    let now = 0;
    const bucket = new TokenBucket(3, 1_000, () => now);
    expect([bucket.tryTake(), bucket.tryTake(), bucket.tryTake()]).toEqual([0, 0, 0]);
    expect(bucket.tryTake()).toBe(334);
    now += 334;
    expect(bucket.tryTake()).toBe(0);
  });

  it('DAILY pauses an account until the reset with one probe per interval; a success resumes it', () => {
    let now = Date.parse('2026-11-25T22:00:00Z');
    const limits = new AccountLimits({
      burst: 10,
      windowMs: 10_000,
      probeMs: 60_000,
      nextDailyReset: (t) => nextMidnight(t),
      now: () => now,
    });
    expect(limits.pause('a')).toBe(Date.parse('2026-11-26T00:00:00Z'));
    expect(limits.unavailable('a')).toEqual({ kind: 'paused', until: now + 60_000 });
    expect(limits.unavailable('b')).toBeUndefined();
    now += 60_000;
    expect(limits.unavailable('a')).toBeUndefined(); // the probe
    expect(limits.unavailable('a')?.kind).toBe('paused'); // only one
    expect(limits.succeeded('a')).toBe('paused');
    expect(limits.unavailable('a')).toBeUndefined();
  });

  it('acquire waits no longer than its bound: a 429 window beyond it throws AccountBusy with its end', async () => {
    let now = 1_000_000;
    const limits = new AccountLimits({
      burst: 10,
      windowMs: 10_000,
      probeMs: 1_000,
      nextDailyReset: (t) => t + 86_400_000,
      now: () => now,
    });
    limits.block('a', 10_000);
    expect(limits.blockedUntil('a')).toBe(1_010_000);
    expect(limits.blockedUntil('b')).toBeUndefined();
    await expect(limits.acquire('a', undefined, 2_000)).rejects.toEqual(new AccountBusy(1_010_000));
    await limits.acquire('b', undefined, 2_000);
    now = 1_010_000;
    expect(limits.blockedUntil('a')).toBeUndefined();
    await limits.acquire('a', undefined, 2_000);
  });

  it('the next midnight in the account zone', () => {
    expect(new Date(nextMidnight(Date.parse('2026-11-25T22:00:00Z'), 120)).toISOString()).toBe(
      '2026-11-26T22:00:00.000Z',
    );
  });

  it('backoff grows, is capped, and is jittered within [base/2, base]', () => {
    const policy = { initialMs: 100, maxMs: 1_000 };
    expect(backoffDelay(policy, 0, 0, () => 0)).toBe(50);
    expect(backoffDelay(policy, 0, 0, () => 1)).toBe(100);
    expect(backoffDelay(policy, 3, 0, () => 1)).toBe(800);
    expect(backoffDelay(policy, 30, 0, () => 1)).toBe(1_000);
    expect(backoffDelay(policy, 0, 5_000, () => 0)).toBe(5_000);
  });
});
