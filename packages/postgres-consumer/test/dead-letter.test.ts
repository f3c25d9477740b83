import { describe, expect, it } from 'vitest';
import { DEAD_LETTER_HEADERS, parseDeadLetter, toDeadLetterMessage } from '../src/dead-letter.js';
import { EventRejectedError } from '../src/errors.js';

describe('dead-letter records', () => {
  it('carry the original bytes and their provenance, and read back the same', () => {
    const key = Buffer.from('chat-1');
    const value = Buffer.from([0, 0, 0, 0, 7, 1, 2, 3]);
    const message = toDeadLetterMessage({
      origin: { topic: 'livechat.chat-events', partition: 3, offset: '1234' },
      message: { key, value, offset: '1234', timestamp: '1700000000000', attributes: 0, headers: { 'trace-id': 'abc' } },
      error: new EventRejectedError('poison'),
      attempts: 2,
      consumer: 'transcripts',
      failedAt: new Date('2025-01-02T03:04:05Z'),
    });
    expect(message.key).toBe(key);
    expect(message.value).toBe(value);
    expect(message.headers).toMatchObject({
      [DEAD_LETTER_HEADERS.originTopic]: 'livechat.chat-events',
      [DEAD_LETTER_HEADERS.originPartition]: '3',
      [DEAD_LETTER_HEADERS.originOffset]: '1234',
      [DEAD_LETTER_HEADERS.errorCode]: 'CONSUMER_EVENT_REJECTED',
      [DEAD_LETTER_HEADERS.attempts]: '2',
      [DEAD_LETTER_HEADERS.consumer]: 'transcripts',
      'trace-id': 'abc',
    });

    const headers = Object.fromEntries(Object.entries(message.headers ?? {}).map(([k, v]) => [k, Buffer.from(String(v))]));
    const parsed = parseDeadLetter(0, { key, value, offset: '9', timestamp: '0', attributes: 0, headers });
    expect(parsed).toMatchObject({
      partition: 0,
      offset: '9',
      origin: { topic: 'livechat.chat-events', partition: 3, offset: '1234' },
      errorCode: 'CONSUMER_EVENT_REJECTED',
      errorMessage: 'poison',
      attempts: 2,
      consumer: 'transcripts',
      failedAt: '2025-01-02T03:04:05.000Z',
    });
    expect(Object.keys(parsed?.headers ?? {})).toEqual(['trace-id']);
  });

  it('ignores records without provenance', () => {
    expect(parseDeadLetter(0, { key: null, value: null, offset: '0', timestamp: '0', attributes: 0, headers: {} })).toBeUndefined();
  });
});
