import type { KafkaMessage, Message } from 'kafkajs';

export interface DeadLetterOrigin {
  readonly topic: string;
  readonly partition: number;
  readonly message: KafkaMessage;
}

/**
 * A raw record the normalizer cannot turn into events, kept byte for byte with where it came from and why,
 * so it can be inspected and replayed once the cause is fixed. The message text is the error's, which
 * never contains the body.
 */
export function deadLetterMessage(origin: DeadLetterOrigin, error: { code: string; message: string }, consumer: string): Message {
  return {
    key: origin.message.key,
    value: origin.message.value,
    headers: {
      'dlq.origin.topic': origin.topic,
      'dlq.origin.partition': String(origin.partition),
      'dlq.origin.offset': origin.message.offset,
      'dlq.origin.timestamp': origin.message.timestamp,
      'dlq.error.code': error.code,
      'dlq.error.message': error.message.slice(0, 1000),
      'dlq.attempts': '1',
      'dlq.consumer': consumer,
      'dlq.failed_at': new Date().toISOString(),
    },
  };
}
