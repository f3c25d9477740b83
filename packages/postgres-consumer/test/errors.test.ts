import { describe, expect, it } from 'vitest';
import { CONSUMER_ERROR_CODES, ConsumerError, EventRejectedError, classifyError } from '../src/errors.js';

function pgError(code: string, message = 'pg error'): Error {
  return Object.assign(new Error(message), { code });
}

describe('classifyError', () => {
  it.each([
    ['serialization failure', pgError('40001'), 'CONSUMER_TRANSIENT_FAILURE'],
    ['deadlock', pgError('40P01'), 'CONSUMER_TRANSIENT_FAILURE'],
    ['statement timeout', pgError('57014'), 'CONSUMER_TRANSIENT_FAILURE'],
    ['admin shutdown', pgError('57P01'), 'CONSUMER_POSTGRES_UNAVAILABLE'],
    ['connection failure', pgError('08006'), 'CONSUMER_POSTGRES_UNAVAILABLE'],
    ['connection refused', pgError('ECONNREFUSED'), 'CONSUMER_POSTGRES_UNAVAILABLE'],
    [
      'terminated connection',
      new Error('Connection terminated unexpectedly'),
      'CONSUMER_POSTGRES_UNAVAILABLE',
    ],
    [
      'pool connect timeout',
      new Error('timeout exceeded when trying to connect'),
      'CONSUMER_POSTGRES_UNAVAILABLE',
    ],
    [
      'refused on every address',
      new AggregateError([pgError('ECONNREFUSED')], ''),
      'CONSUMER_POSTGRES_UNAVAILABLE',
    ],
    // a migration not applied yet is the deployment's fault, not one event's: wait, don't dead-letter
    ['undefined column', pgError('42703'), 'CONSUMER_TRANSIENT_FAILURE'],
    ['undefined table', pgError('42P01'), 'CONSUMER_TRANSIENT_FAILURE'],
    ['missing schema', pgError('3F000'), 'CONSUMER_TRANSIENT_FAILURE'],
  ])('%s is retryable whatever the stage', (_label, error, code) => {
    for (const stage of ['decode', 'handler', 'storage'] as const) {
      const classified = classifyError(error, stage);
      expect(classified.code).toBe(code);
      expect(classified.retryable).toBe(true);
      expect(classified.cause).toBe(error);
    }
  });

  it('makes an unknown decode failure permanent', () => {
    expect(classifyError(new SyntaxError('Unexpected token'), 'decode')).toMatchObject({
      code: 'CONSUMER_DECODE_FAILED',
      retryable: false,
    });
  });

  it('makes handler errors permanent unless they say otherwise', () => {
    expect(classifyError(new TypeError('x is undefined'), 'handler')).toMatchObject({
      code: 'CONSUMER_HANDLER_FAILED',
      retryable: false,
    });
    expect(classifyError(pgError('23505'), 'handler')).toMatchObject({
      code: 'CONSUMER_HANDLER_FAILED',
      retryable: false,
    });
    expect(classifyError(Object.assign(new Error('no'), { retryable: false }), 'handler')).toMatchObject({
      code: 'CONSUMER_EVENT_REJECTED',
      retryable: false,
    });
    expect(classifyError(Object.assign(new Error('later'), { retryable: true }), 'decode')).toMatchObject({
      code: 'CONSUMER_TRANSIENT_FAILURE',
      retryable: true,
    });
  });

  it('keeps ConsumerErrors as they are', () => {
    const rejected = new EventRejectedError('bad');
    expect(classifyError(rejected, 'handler')).toBe(rejected);
    expect(rejected).toMatchObject({ code: 'CONSUMER_EVENT_REJECTED', retryable: false });
  });

  it('takes retryable from the catalogue for every code', () => {
    for (const [code, entry] of Object.entries(CONSUMER_ERROR_CODES)) {
      expect(new ConsumerError(code as keyof typeof CONSUMER_ERROR_CODES, 'm').retryable).toBe(
        entry.retryable,
      );
    }
  });
});
