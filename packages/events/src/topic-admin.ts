import type { Kafka } from 'kafkajs';
import { EventsError } from './errors.js';

export interface TopicSpec {
  readonly topic: string;
  readonly numPartitions: number;
  readonly replicationFactor: number;
  /** Topic configs, e.g. `{ 'retention.ms': '-1' }`. */
  readonly configs?: Readonly<Record<string, string>>;
}

/**
 * Creates the topic when it is missing. Returns true when this call created it; false when it existed (an
 * existing topic's partitions and configs are left as they are).
 */
export async function ensureTopic(kafka: Kafka, spec: TopicSpec): Promise<boolean> {
  const admin = kafka.admin();
  try {
    await admin.connect();
    const existing = await admin.listTopics();
    if (existing.includes(spec.topic)) return false;
    const created = await admin.createTopics({
      waitForLeaders: true,
      topics: [
        {
          topic: spec.topic,
          numPartitions: spec.numPartitions,
          replicationFactor: spec.replicationFactor,
          configEntries: Object.entries(spec.configs ?? {}).map(([name, value]) => ({ name, value })),
        },
      ],
    });
    return created;
  } catch (cause) {
    if (isTopicExists(cause)) return false;
    throw new EventsError('EVENTS_TOPIC_CREATE_FAILED', `cannot ensure topic ${spec.topic}`, {
      cause,
      details: { topic: spec.topic },
    });
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

function isTopicExists(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const e = err as { type?: unknown; errors?: unknown };
  if (e.type === 'TOPIC_ALREADY_EXISTS') return true;
  return Array.isArray(e.errors) && e.errors.length > 0 && e.errors.every((x: unknown) => isTopicExists(x));
}
