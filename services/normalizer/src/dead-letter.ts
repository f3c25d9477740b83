import type { KafkaMessage, Message } from 'kafkajs';
import { deadLetterMessage as envelope, withValueOmitted } from '@livechat-pipeline/events';

export interface DeadLetterOrigin {
  readonly topic: string;
  readonly partition: number;
  readonly message: KafkaMessage;
}

/**
 * A raw record the normalizer cannot turn into events, in the dead-letter envelope of @livechat-pipeline/events:
 * kept byte for byte (with its own headers) with where it came from and why, so it can be inspected and replayed
 * (`pnpm dead-letters`) once the cause is fixed. The message text is the error's, which never contains the body.
 */
export function deadLetterMessage(
  origin: DeadLetterOrigin,
  error: { code: string; message: string },
  consumer: string,
): Message {
  return envelope({
    origin: { topic: origin.topic, partition: origin.partition, offset: origin.message.offset },
    message: origin.message,
    error,
    attempts: 1,
    consumer,
    failedAt: new Date(),
  });
}

/** The dead letter without its value, for when even the dead-letter topic refuses its size. */
export function withoutValue(deadLetter: Message): Message {
  return withValueOmitted(deadLetter, 'too large for the dead-letter topic; read it at dlq.origin.*');
}
