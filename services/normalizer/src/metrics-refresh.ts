import type { Admin, Kafka } from 'kafkajs';
import type { Logger } from 'pino';
import type { NormalizerConfig } from './config.js';
import type { NormalizerMetrics } from './metrics.js';

export interface MetricsRefresh {
  /** One refresh now (the timer's work); resolves when the gauges are set or the read failed. */
  refresh(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Sets the group's lag on every raw partition (high watermark minus the committed offset, or minus the low
 * watermark before the first commit) and the dead-letter topic's size from Kafka on a timer. The batch path sets
 * the lag too, but only for partitions that deliver batches: a normalizer whose batch hangs, whose producer is
 * stuck, or that lost its assignment would otherwise show its last, small lag for ever. Every member reports every
 * partition (committed offsets are the group's), so with N members aggregate with `max by`.
 */
export function startMetricsRefresh(
  kafka: Kafka,
  config: Pick<NormalizerConfig, 'groupId' | 'rawTopic' | 'deadLetterTopic' | 'metricsRefreshMs'>,
  metrics: NormalizerMetrics,
  logger: Logger,
): MetricsRefresh {
  const admin: Admin = kafka.admin();
  let connected: Promise<void> | undefined;
  let running: Promise<void> | undefined;
  let stopped = false;
  let lastFailureLoggedAt = -Infinity;

  const once = async (): Promise<void> => {
    // A failed connect is forgotten, so the next refresh connects again: a cached rejection would freeze the
    // gauges for good after one failure (and NormalizerLagGrowing could never fire).
    connected ??= admin.connect().catch((error: unknown) => {
      connected = undefined;
      throw error;
    });
    await connected;
    const committed = await admin.fetchOffsets({ groupId: config.groupId, topics: [config.rawTopic] });
    const byPartition = new Map(
      (committed.find((t) => t.topic === config.rawTopic)?.partitions ?? []).map((p) => [
        p.partition,
        p.offset,
      ]),
    );
    for (const { partition, high, low } of await admin.fetchTopicOffsets(config.rawTopic)) {
      const offset = byPartition.get(partition);
      // '-1': nothing committed yet; the group starts from the earliest offset (fromBeginning).
      const next = offset === undefined || BigInt(offset) < 0n ? BigInt(low) : BigInt(offset);
      const lag = BigInt(high) - next;
      metrics.lag.set(
        { group: config.groupId, topic: config.rawTopic, partition: String(partition) },
        Number(lag < 0n ? 0n : lag),
      );
    }
    let records = 0n;
    for (const { high, low } of await admin.fetchTopicOffsets(config.deadLetterTopic))
      records += BigInt(high) - BigInt(low);
    metrics.deadLetterTopicRecords.set({ topic: config.deadLetterTopic }, Number(records));
  };

  const refresh = (): Promise<void> => {
    running ??= once()
      .catch((error: unknown) => {
        if (stopped || Date.now() - lastFailureLoggedAt < 60_000) return;
        lastFailureLoggedAt = Date.now();
        logger.warn(
          { err: { message: error instanceof Error ? error.message.slice(0, 300) : String(error) } },
          'could not read offsets for the lag and dead-letter metrics; the last values stay',
        );
      })
      .finally(() => (running = undefined));
    return running;
  };

  const timer = setInterval(() => void refresh(), config.metricsRefreshMs);
  timer.unref();
  void refresh();
  return {
    refresh,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
      await admin.disconnect().catch(() => undefined);
    },
  };
}
