import { Kafka, Partitioners, logLevel, type Admin, type LogEntry } from 'kafkajs';
import type { Logger } from 'pino';

export function benchKafka(brokers: string, clientId: string, logger: Logger): Kafka {
  const log = logger.child({ component: 'kafkajs', clientId });
  return new Kafka({
    clientId,
    brokers: brokers.split(',').map((b) => b.trim()),
    logLevel: logLevel.WARN,
    retry: { initialRetryTime: 200, maxRetryTime: 5000, retries: 10 },
    logCreator: () => (entry: LogEntry) => {
      if (entry.level <= logLevel.ERROR) log.error({ namespace: entry.namespace }, entry.log.message);
      else log.warn({ namespace: entry.namespace }, entry.log.message);
    },
  });
}

export interface ProduceStats {
  readonly records: number;
  readonly bytes: number;
  readonly seconds: number;
}

/**
 * Produces keyed values in chunks with a few requests in flight (acks=all, the ingest's partitioner).
 * Concurrent requests may land out of order within a partition; the pipeline is order-independent by
 * design (the simulator reorders deliveries anyway), so only throughput is at stake here.
 */
export async function produceAll(
  kafka: Kafka,
  topic: string,
  messages: readonly { key: string; value: Buffer }[],
  options: { chunk: number; inFlight: number; onProgress?: (done: number) => void },
): Promise<ProduceStats> {
  const producer = kafka.producer({
    createPartitioner: Partitioners.DefaultPartitioner,
    allowAutoTopicCreation: false,
  });
  await producer.connect();
  const started = performance.now();
  let next = 0;
  let done = 0;
  let bytes = 0;
  try {
    const worker = async (): Promise<void> => {
      while (next < messages.length) {
        const chunk = messages.slice(next, next + options.chunk);
        next += chunk.length;
        await producer.send({ topic, acks: -1, messages: chunk });
        done += chunk.length;
        for (const m of chunk) bytes += m.value.length;
        options.onProgress?.(done);
      }
    };
    await Promise.all(Array.from({ length: options.inFlight }, () => worker()));
  } finally {
    await producer.disconnect();
  }
  return { records: done, bytes, seconds: (performance.now() - started) / 1000 };
}

/** High watermark per partition (the topic's offsets start at 0: these are fresh topics). */
export async function highWatermarks(admin: Admin, topic: string): Promise<Map<number, bigint>> {
  const offsets = await admin.fetchTopicOffsets(topic);
  return new Map(offsets.map((o) => [o.partition, BigInt(o.high)]));
}

/** Offsets a consumer group committed on one topic (-1 where none). */
export async function committedOffsets(
  admin: Admin,
  groupId: string,
  topic: string,
): Promise<Map<number, bigint>> {
  const [entry] = await admin.fetchOffsets({ groupId, topics: [topic] });
  return new Map((entry?.partitions ?? []).map((p) => [p.partition, BigInt(p.offset)]));
}

export const sum = (values: Iterable<bigint>): number => {
  let total = 0n;
  for (const v of values) if (v > 0n) total += v;
  return Number(total);
};

/** True when every partition of `target` is reached by `position`. */
export function reached(position: ReadonlyMap<number, bigint>, target: ReadonlyMap<number, bigint>): boolean {
  for (const [partition, high] of target) {
    if (high === 0n) continue;
    if ((position.get(partition) ?? -1n) < high) return false;
  }
  return true;
}
