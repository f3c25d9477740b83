import { setTimeout as sleep } from 'node:timers/promises';
import kafkajs, { type Admin, type Kafka } from 'kafkajs';
import { EventsError } from './errors.js';
import type { TopicRequirement, TopicSpec } from './topics.js';

// kafkajs is CommonJS: Node's ESM loader does not see this named export (tsx and vitest would).
const { ConfigResourceTypes } = kafkajs;

export type { TopicRequirement, TopicSpec } from './topics.js';

export interface EnsureTopicOptions {
  /** How long to wait for a topic's partitions to have leaders (a new topic's metadata spreading). Default 15 s. */
  readonly metadataTimeoutMs?: number;
  /** Bootstrap brokers, for the `kafka-configs.sh` command in the misconfiguration message. */
  readonly brokers?: readonly string[];
}

/** Kafka error types that mean "the topic's metadata has not reached this broker yet". */
const METADATA_NOT_YET = new Set([
  'UNKNOWN_TOPIC_OR_PARTITION',
  'LEADER_NOT_AVAILABLE',
  'NOT_LEADER_FOR_PARTITION',
  'NOT_LEADER_OR_FOLLOWER',
]);

/**
 * Creates the topic when it is missing, waits until every partition of it has a leader, and checks the
 * settings the spec `requires` (on an existing topic too). Returns true when this call created it.
 *
 * Safe when several services create the same topic at the same moment: TOPIC_ALREADY_EXISTS (another one won)
 * counts as "exists", and "This server does not host this topic-partition" (UNKNOWN_TOPIC_OR_PARTITION while a
 * new topic's metadata spreads) is waited out. Throws EventsError EVENTS_TOPIC_MISCONFIGURED (not retryable)
 * naming the topic, the setting, its value, the value needed and the command to change it; EVENTS_TOPIC_CREATE_FAILED
 * (retryable) for anything else.
 */
export async function ensureTopic(
  kafka: Kafka,
  spec: TopicSpec,
  options: EnsureTopicOptions = {},
): Promise<boolean> {
  const admin = kafka.admin();
  try {
    await admin.connect();
    let created = false;
    const existing = await admin.listTopics();
    if (!existing.includes(spec.topic)) {
      const refusal = unreplicatedRefusal(spec, (await admin.describeCluster()).brokers.length);
      if (refusal !== undefined)
        throw new EventsError('EVENTS_TOPIC_MISCONFIGURED', refusal, { details: { topic: spec.topic } });
      try {
        created = await admin.createTopics({
          waitForLeaders: false,
          topics: [
            {
              topic: spec.topic,
              numPartitions: spec.numPartitions,
              replicationFactor: spec.replicationFactor,
              configEntries: Object.entries(spec.configs ?? {}).map(([name, value]) => ({ name, value })),
            },
          ],
        });
      } catch (cause) {
        if (!hasErrorType(cause, (type) => type === 'TOPIC_ALREADY_EXISTS')) throw cause;
      }
    }
    const replicas = await waitForLeaders(admin, spec.topic, options.metadataTimeoutMs ?? 15_000);
    const checked = withReplicatedRequirements(spec, replicas);
    if (checked.requires !== undefined && checked.requires.length > 0)
      await checkSettings(admin, checked, options.brokers);
    return created;
  } catch (cause) {
    if (cause instanceof EventsError) throw cause;
    throw new EventsError(
      'EVENTS_TOPIC_CREATE_FAILED',
      `cannot ensure topic ${spec.topic}: ${cause instanceof Error ? cause.message : String(cause)}`,
      {
        cause,
        details: { topic: spec.topic },
      },
    );
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/**
 * Waits until a topic another service creates exists with a leader for every partition (a reader's start-up
 * step). Throws EVENTS_TOPIC_CREATE_FAILED (retryable) when it is not there within `timeoutMs`.
 */
export async function waitForTopic(
  kafka: Kafka,
  topic: string,
  options: { timeoutMs?: number } = {},
): Promise<void> {
  const admin = kafka.admin();
  try {
    await admin.connect();
    await waitForLeaders(admin, topic, options.timeoutMs ?? 5_000);
  } catch (cause) {
    if (cause instanceof EventsError) throw cause;
    throw new EventsError(
      'EVENTS_TOPIC_CREATE_FAILED',
      `cannot read the metadata of topic ${topic}: ${cause instanceof Error ? cause.message : String(cause)}`,
      {
        cause,
        details: { topic },
      },
    );
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/**
 * Why a topic the services need must not be created as specified: one replica on a cluster of several brokers (a
 * broker's loss loses its records, while acks=all says they are safe), unless the spec accepts a single copy
 * (`minInsyncReplicasWhenReplicated` 1: KAFKA_ALLOW_SINGLE_INSYNC_REPLICA). Undefined: fine.
 */
export function unreplicatedRefusal(spec: TopicSpec, brokers: number): string | undefined {
  if (spec.minInsyncReplicasWhenReplicated === undefined || spec.minInsyncReplicasWhenReplicated < 2)
    return undefined;
  if (spec.replicationFactor > 1 || brokers < 2) return undefined;
  return `topic ${spec.topic} would be created with replication factor 1 on a cluster of ${brokers} brokers (one broker's loss would lose acknowledged records): set KAFKA_REPLICATION_FACTOR (3 on three brokers or more), or KAFKA_ALLOW_SINGLE_INSYNC_REPLICA=true to accept a single copy`;
}

/**
 * The spec's requirements for a topic that has `replicas` replicas: a replicated one needs at least
 * `minInsyncReplicasWhenReplicated` in-sync replicas whatever the configured factor said (an existing topic of 3
 * replicas left at a cluster default of min.insync.replicas=1 is refused).
 */
export function withReplicatedRequirements(spec: TopicSpec, replicas: number): TopicSpec {
  const least = spec.minInsyncReplicasWhenReplicated;
  if (least === undefined || replicas < 2) return spec;
  const requires = spec.requires ?? [];
  const current = requires.find((r) => r.config === 'min.insync.replicas');
  const needed = Math.max(least, current !== undefined && 'atLeast' in current ? current.atLeast : 0);
  return {
    ...spec,
    requires: [
      ...requires.filter((r) => r.config !== 'min.insync.replicas'),
      { config: 'min.insync.replicas', atLeast: needed },
    ],
  };
}

/**
 * Until the broker reports the topic with a leader for every partition (metadata visible to every client).
 * Returns the fewest replicas of any of its partitions.
 */
async function waitForLeaders(admin: Admin, topic: string, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let delay = 50;
  let last = 'no metadata yet';
  for (;;) {
    try {
      const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
      const partitions = topics.find((t) => t.name === topic)?.partitions ?? [];
      const withoutLeader = partitions.filter((p) => p.partitionErrorCode !== 0 || p.leader < 0);
      if (partitions.length > 0 && withoutLeader.length === 0)
        return Math.min(...partitions.map((p) => p.replicas.length));
      last =
        partitions.length === 0
          ? 'not in the metadata yet'
          : `${withoutLeader.length} partition(s) without a leader`;
    } catch (error) {
      if (!hasErrorType(error, (type) => METADATA_NOT_YET.has(type))) throw error;
      last = error instanceof Error ? error.message : String(error);
    }
    if (Date.now() + delay > deadline) {
      throw new EventsError(
        'EVENTS_TOPIC_CREATE_FAILED',
        `topic ${topic} has no leader for every partition after ${timeoutMs} ms (${last})`,
        {
          details: { topic },
        },
      );
    }
    await sleep(delay);
    delay = Math.min(delay * 2, 1_000);
  }
}

/** One line per misconfigured topic: which settings, their value, the value needed, and the command to fix them. */
async function checkSettings(
  admin: Admin,
  spec: TopicSpec,
  brokers: readonly string[] | undefined,
): Promise<void> {
  const requires = spec.requires ?? [];
  const described = await admin.describeConfigs({
    includeSynonyms: false,
    resources: [
      { type: ConfigResourceTypes.TOPIC, name: spec.topic, configNames: requires.map((r) => r.config) },
    ],
  });
  const entries = described.resources.find((r) => r.resourceName === spec.topic)?.configEntries ?? [];
  const actual = new Map(entries.map((e) => [e.configName, e.configValue]));
  const problems = requires.flatMap((r) => {
    const value = actual.get(r.config);
    return value === undefined || !meets(r, value) ? [{ requirement: r, value }] : [];
  });
  if (problems.length === 0) return;
  const summary = problems
    .map(
      ({ requirement, value }) =>
        `${requirement.config} is ${value ?? '(not reported)'}, needs ${'atLeast' in requirement ? `at least ${requirement.atLeast}` : requirement.equals}`,
    )
    .join('; ');
  const settings = problems
    .map(({ requirement }) => `${requirement.config}=${neededValue(spec, requirement)}`)
    .join(',');
  const command = `kafka-configs.sh --bootstrap-server ${brokers !== undefined && brokers.length > 0 ? brokers.join(',') : '<broker:port>'} --alter --entity-type topics --entity-name ${spec.topic} --add-config ${settings}`;
  throw new EventsError(
    'EVENTS_TOPIC_MISCONFIGURED',
    `topic ${spec.topic}: ${summary}; change it with: ${command}`,
    {
      details: { topic: spec.topic, settings },
    },
  );
}

function meets(requirement: TopicRequirement, value: string): boolean {
  if ('equals' in requirement) return value === requirement.equals;
  const n = Number(value);
  return Number.isFinite(n) && n >= requirement.atLeast;
}

/** The value to set: what the topic is created with when that satisfies the requirement, else the minimum. */
function neededValue(spec: TopicSpec, requirement: TopicRequirement): string {
  if ('equals' in requirement) return requirement.equals;
  const configured = spec.configs?.[requirement.config];
  return configured !== undefined && meets(requirement, configured)
    ? configured
    : String(requirement.atLeast);
}

/** True when the error, or every error it aggregates, has a Kafka error type that `match` accepts. */
function hasErrorType(err: unknown, match: (type: string) => boolean): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const e = err as { type?: unknown; errors?: unknown; cause?: unknown; originalError?: unknown };
  if (typeof e.type === 'string' && match(e.type)) return true;
  if (
    Array.isArray(e.errors) &&
    e.errors.length > 0 &&
    e.errors.every((x: unknown) => hasErrorType(x, match))
  )
    return true;
  if (e.originalError !== undefined && hasErrorType(e.originalError, match)) return true;
  return e.cause !== undefined && hasErrorType(e.cause, match);
}
