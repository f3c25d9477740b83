import { trace } from '@opentelemetry/api';
import type { KafkaMessage } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServiceLogger, shutdownTracing, startTracing } from '@livechat-pipeline/service-host';
import { batchParentContext } from '../src/batch-processor.js';

// The batch span's parent comes from a record whose trace is sampled: a record produced in an unsampled trace
// (traceparent flags 00) must not leave the whole batch span unrecorded for the other webhooks in the batch.

beforeAll(() => {
  startTracing(
    { otlpEndpoint: undefined, serviceName: 'test' },
    createServiceLogger({ service: 'test', level: 'silent' }),
    {
      export: (_spans, done) => done({ code: 0 }),
      shutdown: () => Promise.resolve(),
    },
  );
});
afterAll(() => shutdownTracing());

const record = (traceparent?: string): KafkaMessage =>
  ({
    key: null,
    value: Buffer.from('x'),
    offset: '0',
    timestamp: '0',
    attributes: 0,
    headers: traceparent === undefined ? {} : { traceparent: Buffer.from(traceparent) },
  }) as KafkaMessage;

const UNSAMPLED = '00-11111111111111111111111111111111-2222222222222222-00';
const SAMPLED = '00-33333333333333333333333333333333-4444444444444444-01';

describe('batchParentContext', () => {
  it('skips records of unsampled traces and takes the first sampled one', () => {
    const parent = batchParentContext([record(), record(UNSAMPLED), record(SAMPLED)]);
    expect(parent === undefined ? undefined : trace.getSpanContext(parent)?.traceId).toBe(
      '33333333333333333333333333333333',
    );
  });

  it('is undefined (a root) when no record is sampled', () => {
    expect(batchParentContext([record(UNSAMPLED), record()])).toBeUndefined();
  });
});
