import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { Startup, StartupError, isPermanentStartupError, startupStep } from '../src/index.js';

/** A fake clock: sleeping advances it, so backoff is checked without waiting. */
function fakeTime() {
  let now = 1_000_000;
  const sleeps: number[] = [];
  return {
    sleeps,
    now: () => now,
    sleep: async (ms: number) => {
      sleeps.push(ms);
      now += ms;
    },
    advance: (ms: number) => (now += ms),
  };
}

function capturingLogger() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString('utf8')) as Record<string, unknown>);
      done();
    },
  });
  return { lines, logger: pino({ level: 'info' }, stream) };
}

class Typed extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

describe('Startup.step', () => {
  it('retries a transient failure with exponential backoff, logging each retry, until it succeeds', async () => {
    const time = fakeTime();
    const { lines, logger } = capturingLogger();
    const startup = new Startup({ timeoutMs: 60_000, logger, now: time.now, sleep: time.sleep });
    let calls = 0;
    const result = await startup.step('create topic t', async () => {
      calls += 1;
      if (calls < 6)
        throw Object.assign(new Error('This server does not host this topic-partition'), {
          type: 'UNKNOWN_TOPIC_OR_PARTITION',
        });
      return 'done';
    });
    expect(result).toBe('done');
    expect(calls).toBe(6);
    expect(time.sleeps).toEqual([250, 500, 1000, 2000, 4000]);
    const retries = lines.filter((l) => l['msg'] === 'start-up step "create topic t" failed; retrying');
    expect(retries.map((l) => l['attempt'])).toEqual([1, 2, 3, 4, 5]);
    expect(retries[0]).toMatchObject({
      level: 40,
      step: 'create topic t',
      retryInMs: 250,
      err: { message: 'This server does not host this topic-partition' },
    });
    expect(lines.at(-1)).toMatchObject({ step: 'create topic t', attempts: 6 });
  });

  it('caps the delay at maxDelayMs', async () => {
    const time = fakeTime();
    const startup = new Startup({
      timeoutMs: 600_000,
      logger: pino({ level: 'silent' }),
      now: time.now,
      sleep: time.sleep,
      maxDelayMs: 1000,
    });
    let calls = 0;
    await startup.step('s', async () => {
      if (++calls < 6) throw new Error('not yet');
    });
    expect(time.sleeps).toEqual([250, 500, 1000, 1000, 1000]);
  });

  it('fails with SERVICE_STARTUP_TIMEOUT naming the step once the deadline passes', async () => {
    const time = fakeTime();
    const startup = new Startup({
      timeoutMs: 10_000,
      logger: pino({ level: 'silent' }),
      now: time.now,
      sleep: time.sleep,
    });
    let calls = 0;
    const error = await startup
      .step('connect to Postgres', async () => {
        calls += 1;
        throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:55432'), { code: 'ECONNREFUSED' });
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StartupError);
    const e = error as StartupError;
    expect(e.code).toBe('SERVICE_STARTUP_TIMEOUT');
    expect(e.step).toBe('connect to Postgres');
    expect(e.retryable).toBe(false);
    expect(e.message).toContain('start-up step "connect to Postgres"');
    expect(e.message).toContain('ECONNREFUSED');
    // 250 + 500 + 1000 + 2000 + 4000 = 7750 ms slept; the next delay (5000) would pass the 10 s deadline.
    expect(time.sleeps).toEqual([250, 500, 1000, 2000, 4000]);
    expect(calls).toBe(6);
    expect(e.attempts).toBe(6);
    expect(time.now() - 1_000_000).toBeLessThanOrEqual(10_000);
  });

  it('shares one deadline between steps', async () => {
    const time = fakeTime();
    const startup = new Startup({
      timeoutMs: 10_000,
      logger: pino({ level: 'silent' }),
      now: time.now,
      sleep: time.sleep,
    });
    await startup.step('first', async () => time.advance(9_000));
    expect(startup.remainingMs).toBe(1_000);
    const error = await startup
      .step('second', async () => Promise.reject(new Error('down')))
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'SERVICE_STARTUP_TIMEOUT', step: 'second', attempts: 3 });
  });

  it('fails at once with SERVICE_STARTUP_FAILED on a permanent error', async () => {
    const time = fakeTime();
    const startup = new Startup({
      timeoutMs: 60_000,
      logger: pino({ level: 'silent' }),
      now: time.now,
      sleep: time.sleep,
    });
    let calls = 0;
    const error = await startup
      .step('check topic settings', async () => {
        calls += 1;
        throw new Typed('topic x: max.message.bytes is 1048588, needs at least 8388608', false);
      })
      .catch((e: unknown) => e);
    expect(calls).toBe(1);
    expect(time.sleeps).toEqual([]);
    expect(error).toMatchObject({
      code: 'SERVICE_STARTUP_FAILED',
      step: 'check topic settings',
      attempts: 1,
    });
    expect((error as Error).message).toBe(
      'start-up step "check topic settings" failed: topic x: max.message.bytes is 1048588, needs at least 8388608',
    );
    expect((error as Error).cause).toBeInstanceOf(Typed);
  });

  it('lets the caller decide what is permanent', async () => {
    const time = fakeTime();
    const startup = new Startup({
      timeoutMs: 60_000,
      logger: pino({ level: 'silent' }),
      now: time.now,
      sleep: time.sleep,
    });
    const error = await startup
      .step('register schema', async () => Promise.reject(new Error('409 incompatible')), {
        isPermanent: (e) => (e as Error).message.startsWith('409'),
      })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'SERVICE_STARTUP_FAILED' });
  });

  it('startupStep runs one step with its own deadline', async () => {
    const time = fakeTime();
    let calls = 0;
    const value = await startupStep(
      'one',
      async () => {
        if (++calls < 3) throw new Error('later');
        return 42;
      },
      { timeoutMs: 5_000, logger: pino({ level: 'silent' }), now: time.now, sleep: time.sleep },
    );
    expect(value).toBe(42);
  });
});

describe('isPermanentStartupError', () => {
  it('treats untyped errors as transient and typed non-retryable ones as permanent', () => {
    expect(isPermanentStartupError(new Error('anything'))).toBe(false);
    expect(isPermanentStartupError(new Typed('registry down', true))).toBe(false);
    expect(isPermanentStartupError(new Typed('incompatible schema', false))).toBe(true);
  });

  it('retries a permanent-looking wrapper of a connection fault (a migration that could not connect)', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    expect(isPermanentStartupError(new Typed('migrations failed', false, { cause: refused }))).toBe(false);
    const starting = Object.assign(new Error('the database system is starting up'), { code: '57P03' });
    expect(isPermanentStartupError(new Typed('migrations failed', false, { cause: starting }))).toBe(false);
    const syntax = Object.assign(new Error('syntax error'), { code: '42601' });
    expect(isPermanentStartupError(new Typed('migrations failed', false, { cause: syntax }))).toBe(true);
  });
});
