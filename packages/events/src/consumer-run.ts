import type { Consumer, ConsumerRunConfig } from 'kafkajs';

export interface KeepRunningOptions {
  /** First wait before starting a consumer kafkajs gave up on; doubles up to `maxDelayMs`. Default 1 s. */
  readonly initialDelayMs?: number;
  /** Default 30 s. */
  readonly maxDelayMs?: number;
  /** Told each time the consumer is started again (services log it; libraries don't). */
  readonly onRestart?: (event: {
    readonly error: Error;
    readonly attempt: number;
    readonly delayMs: number;
  }) => void;
  /** Told when a start again failed at once (it is tried again after the next delay). */
  readonly onRestartFailed?: (event: { readonly error: unknown; readonly attempt: number }) => void;
}

/** What `keepConsumerRunning` returns: `stop()` cancels a pending start (call it before disconnecting). */
export interface KeptConsumer {
  stop(): void;
}

/**
 * `consumer.run(config)`, and runs it again whenever kafkajs crashes it without restarting it.
 *
 * kafkajs restarts a crashed consumer only after a retriable error; after a non-retriable one (e.g.
 * KafkaJSGroupCoordinatorNotFound while the broker goes down during a join) it disconnects and stays
 * stopped for good, while the process lives on: the partition is never consumed again and /readyz
 * stays 503 until someone restarts the process. A service must come back by itself, so this starts
 * the consumer again (connect, then run with the same config; its subscriptions are kept) with a
 * capped exponential delay, until `stop()`.
 */
export async function keepConsumerRunning(
  consumer: Consumer,
  config: ConsumerRunConfig,
  options: KeepRunningOptions = {},
): Promise<KeptConsumer> {
  const initialDelayMs = options.initialDelayMs ?? 1_000;
  const maxDelayMs = options.maxDelayMs ?? 30_000;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let attempt = 0;

  const startAgain = (error: Error): void => {
    if (stopped || timer !== undefined) return;
    attempt += 1;
    const delayMs = Math.min(maxDelayMs, initialDelayMs * 2 ** Math.min(attempt - 1, 20));
    options.onRestart?.({ error, attempt, delayMs });
    timer = setTimeout(() => {
      timer = undefined;
      if (stopped) return;
      void (async () => {
        try {
          await consumer.connect();
          if (stopped) return;
          await consumer.run(config);
        } catch (startError) {
          options.onRestartFailed?.({ error: startError, attempt });
          startAgain(startError instanceof Error ? startError : new Error(String(startError)));
        }
      })();
    }, delayMs);
    timer.unref();
  };

  consumer.on(consumer.events.CRASH, (event) => {
    if (event.payload.restart) return; // kafkajs starts it again itself
    startAgain(event.payload.error);
  });
  // A join that works again ends the backoff.
  consumer.on(consumer.events.GROUP_JOIN, () => (attempt = 0));

  await consumer.run(config);
  return {
    stop(): void {
      stopped = true;
      clearTimeout(timer);
      timer = undefined;
    },
  };
}
