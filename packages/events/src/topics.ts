/** Topic names of the pipeline. Services take the actual name from their config; these are the defaults. */
export const TOPICS = {
  /** Raw LiveChat webhook deliveries (Avro RawWebhook), the system of record. Kept forever. */
  rawWebhook: 'livechat.webhooks.raw',
  /** Typed domain events (Avro ChatEvent) written by the normalizer; keyed by tenant + chat id. */
  chatEvents: 'livechat.chat-events',
  /** Raw records the normalizer could not decode or parse, with provenance headers. */
  normalizerDeadLetters: 'livechat.webhooks.raw.dlq',
} as const;

export const rawWebhookTopic: string = TOPICS.rawWebhook;
export const chatEventsTopic: string = TOPICS.chatEvents;

/** The registry subject of a topic's values (TopicNameStrategy). */
export function valueSubject(topic: string): string {
  return `${topic}-value`;
}

/** A setting an existing topic must have: a number at least this big, or exactly this value. */
export type TopicRequirement =
  | { readonly config: string; readonly atLeast: number }
  | { readonly config: string; readonly equals: string };

export interface TopicSpec {
  readonly topic: string;
  readonly numPartitions: number;
  readonly replicationFactor: number;
  /** Topic configs it is created with, e.g. `{ 'retention.ms': '-1' }`. */
  readonly configs?: Readonly<Record<string, string>>;
  /**
   * What the writer needs from the topic, checked on an existing one too (ensureTopic refuses with
   * EVENTS_TOPIC_MISCONFIGURED when a setting falls short).
   */
  readonly requires?: readonly TopicRequirement[];
  /**
   * The least `min.insync.replicas` the writer accepts on a topic that is replicated (more than one replica; the
   * topic's actual replicas, read by ensureTopic, not the configured factor): 2 unless the operator accepted 1
   * (`KAFKA_ALLOW_SINGLE_INSYNC_REPLICA`). Every producer writes with acks=all.
   */
  readonly minInsyncReplicasWhenReplicated?: number;
}

const MiB = 1024 * 1024;

/**
 * Largest record batch the normalizer writes to the chat-events topic and its dead-letter topic, and the
 * largest a consumer's dead-letter topic must hold (it copies chat-event records byte for byte). The
 * normalizer's produce chunks stay far below it; the room is for one raw webhook's worth of events.
 */
export const CHAT_EVENTS_MAX_MESSAGE_BYTES = 8 * MiB;
/** Dead-letter topics copy their origin's records byte for byte (raw webhooks of up to several MiB). */
export const DEAD_LETTER_MAX_MESSAGE_BYTES = 8 * MiB;

interface KeptForever {
  readonly topic: string;
  readonly numPartitions: number;
  readonly replicationFactor: number;
  /** Default min(replicationFactor, 2): see `defaultMinInsyncReplicas`. */
  readonly minInsyncReplicas?: number | undefined;
  /** KAFKA_ALLOW_SINGLE_INSYNC_REPLICA: accept min.insync.replicas=1 on a replicated topic. */
  readonly allowSingleInsyncReplica?: boolean | undefined;
  readonly maxMessageBytes: number;
}

/**
 * `min.insync.replicas` of a topic the services create when the caller names none: 2 when replicated (every
 * producer of the pipeline writes with acks=all, so an acknowledged record is then on two brokers), 1 otherwise.
 */
export function defaultMinInsyncReplicas(replicationFactor: number): number {
  return Math.min(replicationFactor, 2);
}

/** The replication settings every topic spec takes. */
interface Replication {
  replicationFactor: number;
  /** `KAFKA_MIN_INSYNC_REPLICAS`; default `defaultMinInsyncReplicas(replicationFactor)`. */
  minInsyncReplicas?: number | undefined;
  /** `KAFKA_ALLOW_SINGLE_INSYNC_REPLICA`. */
  allowSingleInsyncReplica?: boolean | undefined;
}

/** A topic kept forever (no time or size retention) whose batches may be up to `maxMessageBytes`. */
export function keptForeverTopicSpec(o: KeptForever): TopicSpec {
  const minInsyncReplicas = o.minInsyncReplicas ?? defaultMinInsyncReplicas(o.replicationFactor);
  return {
    topic: o.topic,
    numPartitions: o.numPartitions,
    replicationFactor: o.replicationFactor,
    configs: {
      'retention.ms': '-1',
      'retention.bytes': '-1',
      'max.message.bytes': String(o.maxMessageBytes),
      'min.insync.replicas': String(minInsyncReplicas),
    },
    requires: [
      // An existing topic with fewer (a cluster's default of 1, say) would acknowledge acks=all writes on one copy.
      { config: 'min.insync.replicas', atLeast: minInsyncReplicas },
      { config: 'retention.ms', equals: '-1' },
      { config: 'retention.bytes', equals: '-1' },
      { config: 'max.message.bytes', atLeast: o.maxMessageBytes },
    ],
    minInsyncReplicasWhenReplicated: o.allowSingleInsyncReplica === true ? 1 : 2,
  };
}

/**
 * The specs of the shared topics, in one place: every service that creates one of them (the writer, and
 * for chat-events also its readers, whichever starts first) creates it with the same settings, and every
 * writer checks them on an existing topic.
 */
export const topicSpecs = {
  /** `livechat.webhooks.raw`: the ingest writes batches of up to `maxMessageBytes` (from its body and batch limits). */
  rawWebhook: (
    o: Replication & {
      topic?: string;
      partitions: number;
      maxMessageBytes: number;
    },
  ): TopicSpec =>
    keptForeverTopicSpec({
      topic: o.topic ?? TOPICS.rawWebhook,
      numPartitions: o.partitions,
      replicationFactor: o.replicationFactor,
      minInsyncReplicas: o.minInsyncReplicas,
      allowSingleInsyncReplica: o.allowSingleInsyncReplica,
      maxMessageBytes: o.maxMessageBytes,
    }),
  /** `livechat.chat-events`: written by the normalizer, created by it or by a reader that starts first. */
  chatEvents: (o: Replication & { topic?: string; partitions: number }): TopicSpec =>
    keptForeverTopicSpec({
      topic: o.topic ?? TOPICS.chatEvents,
      numPartitions: o.partitions,
      replicationFactor: o.replicationFactor,
      minInsyncReplicas: o.minInsyncReplicas,
      allowSingleInsyncReplica: o.allowSingleInsyncReplica,
      maxMessageBytes: CHAT_EVENTS_MAX_MESSAGE_BYTES,
    }),
  /** `livechat.webhooks.raw.dlq`: raw records the normalizer could not map, byte for byte. */
  normalizerDeadLetters: (o: Replication & { topic?: string }): TopicSpec =>
    keptForeverTopicSpec({
      topic: o.topic ?? TOPICS.normalizerDeadLetters,
      numPartitions: 1,
      replicationFactor: o.replicationFactor,
      minInsyncReplicas: o.minInsyncReplicas,
      allowSingleInsyncReplica: o.allowSingleInsyncReplica,
      maxMessageBytes: DEAD_LETTER_MAX_MESSAGE_BYTES,
    }),
  /** `<consumer>.dlq` of a Postgres consumer: its origin records byte for byte. */
  consumerDeadLetters: (o: Replication & { topic: string }): TopicSpec =>
    keptForeverTopicSpec({
      topic: o.topic,
      numPartitions: 1,
      replicationFactor: o.replicationFactor,
      minInsyncReplicas: o.minInsyncReplicas,
      allowSingleInsyncReplica: o.allowSingleInsyncReplica,
      maxMessageBytes: DEAD_LETTER_MAX_MESSAGE_BYTES,
    }),
} as const;
