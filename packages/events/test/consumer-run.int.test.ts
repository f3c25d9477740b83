import { createTopic, testKafka, uniqueName, waitFor } from '@livechat-pipeline/testkit';
import { KafkaJSNonRetriableError } from 'kafkajs';
import { afterEach, describe, expect, it } from 'vitest';
import { keepConsumerRunning, type KeptConsumer } from '../src/index.js';

describe('keepConsumerRunning', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0)) await cleanup();
  });

  it('starts a consumer again after kafkajs crashed it on a non-retriable error (kafkajs itself leaves it stopped)', async () => {
    // given: a topic with one record, and a handler whose first call fails the way a group
    // coordinator that vanished mid-join does: with a non-retriable kafkajs error
    const topic = uniqueName('keep-running');
    await createTopic(topic, 1);
    const kafka = testKafka('keep-running-test');
    const producer = kafka.producer({ idempotent: true });
    await producer.connect();
    await producer.send({ topic, acks: -1, messages: [{ value: 'the record' }] });
    await producer.disconnect();

    const consumer = kafka.consumer({ groupId: uniqueName('keep-running'), maxWaitTimeInMs: 100 });
    const crashes: boolean[] = [];
    consumer.on(consumer.events.CRASH, (e) => crashes.push(e.payload.restart));
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    let calls = 0;
    const seen: string[] = [];
    const restarts: number[] = [];

    // when
    const kept: KeptConsumer = await keepConsumerRunning(
      consumer,
      {
        eachMessage: async ({ message }) => {
          calls += 1;
          if (calls === 1) throw new KafkaJSNonRetriableError('coordinator gone (simulated)');
          seen.push(message.value?.toString() ?? '');
        },
      },
      { initialDelayMs: 100, onRestart: ({ attempt }) => restarts.push(attempt) },
    );

    cleanups.push(async () => {
      kept.stop();
      await consumer.disconnect();
    });

    // then: kafkajs reported a crash it does not restart from, and the record is consumed anyway
    await waitFor(() => seen.length === 1, {
      timeoutMs: 30_000,
      message: 'the record consumed after the crash',
    });
    expect(crashes).toEqual([false]);
    expect(restarts).toEqual([1]);
    expect(seen).toEqual(['the record']);
  });
});
