import { describe, expect, it } from 'vitest';
import { eventBytes } from '../src/normalizer.js';

const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

describe('eventBytes', () => {
  it('counts key and value against NORMALIZER_MAX_OUTPUT_BYTES, and the headers only in what is sent', () => {
    const headers = { 'event.type': 'message', 'event.id': 'EV1' };
    const plain = eventBytes({ key: 'org|CHAT1', value: Buffer.alloc(100), headers });
    expect(plain.limited).toBe(9 + 100);
    // event.type (10 + 7 + 2) and event.id (8 + 3 + 2)
    expect(plain.sent).toBe(9 + 100 + 19 + 13);

    // Tracing on adds the trace context: the limit's count stays the same, what is sent grows by the header.
    const traced = eventBytes({
      key: 'org|CHAT1',
      value: Buffer.alloc(100),
      headers: { ...headers, traceparent },
    });
    expect(traced.limited).toBe(plain.limited);
    expect(traced.sent).toBe(plain.sent + 11 + 55 + 2);
  });

  it('counts multi-byte keys in bytes, and no key or value as 0', () => {
    expect(eventBytes({ key: 'é', value: 'ü' })).toEqual({ limited: 4, sent: 4 });
    expect(eventBytes({ key: null, value: null })).toEqual({ limited: 0, sent: 0 });
  });
});
