import type { KafkaMessage } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import {
  DEAD_LETTER_HEADERS,
  DEAD_LETTER_MESSAGE_MAX_BYTES,
  REPLAY_HEADER,
  deadLetterMessage,
  parseDeadLetter,
  replayMessage,
  truncateDeadLetterMessage,
  withValueOmitted,
} from '../src/dead-letter.js';

/** What a consumer reads back: every header value a Buffer. */
function consumed(
  message: {
    key?: Buffer | string | null;
    value?: Buffer | string | null;
    headers?: Record<string, unknown>;
  },
  offset = '9',
): KafkaMessage {
  const headers = Object.fromEntries(
    Object.entries(message.headers ?? {}).map(([k, v]) => [k, Buffer.from(String(v))]),
  );
  const buf = (v: Buffer | string | null | undefined) =>
    v === undefined || v === null ? null : Buffer.from(v);
  return { key: buf(message.key), value: buf(message.value), offset, timestamp: '0', attributes: 0, headers };
}

const origin = {
  key: Buffer.from('org|C1'),
  value: Buffer.from([0, 0, 0, 0, 7, 1, 2, 3]),
  offset: '1234',
  timestamp: '1700000000000',
  attributes: 0,
  headers: {
    'trace-id': Buffer.from('abc'),
    'dlq.replay-of': Buffer.from('x.dlq/0/1'),
    'dlq.failed_at': Buffer.from('old'),
  },
};

describe('the dead-letter envelope', () => {
  it('keeps the record byte for byte with its own non-dlq headers, and adds the provenance headers', () => {
    const letter = deadLetterMessage({
      origin: { topic: 'livechat.chat-events', partition: 3, offset: '1234' },
      message: origin,
      error: { code: 'CONSUMER_EVENT_REJECTED', message: 'poison' },
      attempts: 2,
      consumer: 'transcripts',
      failedAt: new Date('2025-01-02T03:04:05Z'),
    });
    expect(letter.key).toBe(origin.key);
    expect(letter.value).toBe(origin.value);
    expect(letter.timestamp).toBe(origin.timestamp);
    expect(letter.headers).toEqual({
      'trace-id': origin.headers['trace-id'],
      'dlq.origin.topic': 'livechat.chat-events',
      'dlq.origin.partition': '3',
      'dlq.origin.offset': '1234',
      'dlq.origin.timestamp': '1700000000000',
      'dlq.error.code': 'CONSUMER_EVENT_REJECTED',
      'dlq.error.message': 'poison',
      'dlq.attempts': '2',
      'dlq.consumer': 'transcripts',
      'dlq.failed-at': '2025-01-02T03:04:05.000Z',
    });
    expect(Object.values(DEAD_LETTER_HEADERS).every((name) => name.startsWith('dlq.'))).toBe(true);

    const parsed = parseDeadLetter(0, consumed(letter));
    expect(parsed).toMatchObject({
      partition: 0,
      offset: '9',
      origin: { topic: 'livechat.chat-events', partition: 3, offset: '1234' },
      errorCode: 'CONSUMER_EVENT_REJECTED',
      errorMessage: 'poison',
      attempts: 2,
      consumer: 'transcripts',
      failedAt: '2025-01-02T03:04:05.000Z',
      valueOmitted: undefined,
    });
    expect(Object.keys(parsed?.headers ?? {})).toEqual(['trace-id']);
  });

  it('cuts error messages to 1 KiB of UTF-8 on a code point boundary', () => {
    expect(truncateDeadLetterMessage('short')).toBe('short');
    const exact = 'a'.repeat(DEAD_LETTER_MESSAGE_MAX_BYTES);
    expect(truncateDeadLetterMessage(exact)).toBe(exact);
    for (const unit of ['a', 'é', '€', '😀']) {
      const cut = truncateDeadLetterMessage(unit.repeat(2000));
      expect(Buffer.byteLength(cut)).toBeLessThanOrEqual(DEAD_LETTER_MESSAGE_MAX_BYTES);
      expect(Buffer.byteLength(cut)).toBeGreaterThan(DEAD_LETTER_MESSAGE_MAX_BYTES - 8);
      expect(cut.endsWith('…')).toBe(true);
      expect(cut.slice(0, -1).replaceAll(unit, '')).toBe('');
    }
    const letter = deadLetterMessage({
      origin: { topic: 't', partition: 0, offset: '0' },
      message: { key: null, value: null, timestamp: '0' },
      error: { code: 'X', message: 'x'.repeat(5000) },
      attempts: 1,
      consumer: 'c',
      failedAt: new Date(0),
    });
    expect(Buffer.byteLength(String(letter.headers?.['dlq.error.message']))).toBe(
      DEAD_LETTER_MESSAGE_MAX_BYTES,
    );
  });

  it('reads the older normalizer spelling dlq.failed_at, and says when the value was omitted', () => {
    const old = consumed({
      key: 'k',
      value: null,
      headers: {
        'dlq.origin.topic': 'livechat.webhooks.raw',
        'dlq.origin.partition': '1',
        'dlq.origin.offset': '5',
        'dlq.origin.timestamp': '1700000000000',
        'dlq.error.code': 'NORMALIZER_UNPARSABLE',
        'dlq.error.message': 'm',
        'dlq.attempts': '1',
        'dlq.consumer': 'livechat-normalizer',
        'dlq.failed_at': '2026-01-02T03:04:05.000Z',
        'dlq.value.omitted': 'too large',
      },
    });
    expect(parseDeadLetter(4, old)).toMatchObject({
      origin: { topic: 'livechat.webhooks.raw', partition: 1, offset: '5' },
      failedAt: '2026-01-02T03:04:05.000Z',
      valueOmitted: 'too large',
      headers: {},
    });
  });

  it('marks a dead letter without its value', () => {
    const letter = withValueOmitted(
      { key: 'k', value: Buffer.from('big'), headers: { a: 'b' } },
      'too large',
    );
    expect(letter).toEqual({
      key: 'k',
      value: null,
      headers: { a: 'b', [DEAD_LETTER_HEADERS.valueOmitted]: 'too large' },
    });
  });

  it('replays the original key, value and own headers with dlq.replay-of, never another dlq.* header', () => {
    const record = parseDeadLetter(
      0,
      consumed(
        {
          key: 'k',
          value: 'v',
          headers: {
            'trace-id': 'abc',
            'dlq.origin.topic': 't',
            'dlq.origin.partition': '2',
            'dlq.origin.offset': '7',
            'dlq.failed_at': 'x',
            'dlq.something-new': 'y',
          },
        },
        '11',
      ),
    )!;
    // Even a record whose headers were handed in with dlq.* ones (not from parseDeadLetter) loses them.
    const message = replayMessage('t.dlq', {
      ...record,
      headers: { ...record.headers, 'dlq.replay-of': 't.dlq/0/1', 'dlq.error.code': 'E' },
    });
    expect(message).toEqual({
      partition: 2,
      key: Buffer.from('k'),
      value: Buffer.from('v'),
      headers: { 'trace-id': Buffer.from('abc'), [REPLAY_HEADER]: 't.dlq/0/11' },
    });
  });

  it('ignores records without provenance', () => {
    expect(parseDeadLetter(0, consumed({ key: null, value: null, headers: {} }))).toBeUndefined();
  });
});
