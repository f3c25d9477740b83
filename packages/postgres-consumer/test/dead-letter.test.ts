import { describe, expect, it } from 'vitest';
import { DEAD_LETTER_HEADERS, toDeadLetterMessage } from '../src/dead-letter.js';
import { EventRejectedError } from '../src/errors.js';

// The envelope itself (names, shape, truncation, parsing, replay) is tested in packages/events/test/dead-letter.test.ts.
describe("the runtime's dead letters", () => {
  it('put a consumer error into the shared envelope, the original bytes and headers untouched', () => {
    const key = Buffer.from('chat-1');
    const value = Buffer.from([0, 0, 0, 0, 7, 1, 2, 3]);
    const message = toDeadLetterMessage({
      origin: { topic: 'livechat.chat-events', partition: 3, offset: '1234' },
      message: {
        key,
        value,
        offset: '1234',
        timestamp: '1700000000000',
        attributes: 0,
        headers: { 'trace-id': 'abc' },
      },
      error: new EventRejectedError('poison'),
      attempts: 2,
      consumer: 'transcripts',
      failedAt: new Date('2025-01-02T03:04:05Z'),
    });
    expect(message.key).toBe(key);
    expect(message.value).toBe(value);
    expect(message.headers).toMatchObject({
      [DEAD_LETTER_HEADERS.originTopic]: 'livechat.chat-events',
      [DEAD_LETTER_HEADERS.originOffset]: '1234',
      [DEAD_LETTER_HEADERS.errorCode]: 'CONSUMER_EVENT_REJECTED',
      [DEAD_LETTER_HEADERS.errorMessage]: 'poison',
      [DEAD_LETTER_HEADERS.attempts]: '2',
      [DEAD_LETTER_HEADERS.consumer]: 'transcripts',
      [DEAD_LETTER_HEADERS.failedAt]: '2025-01-02T03:04:05.000Z',
      'trace-id': 'abc',
    });
  });
});
