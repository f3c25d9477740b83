import kafkajs, { type Kafka, type KafkaMessage, type Producer } from 'kafkajs';
import {
  TOPICS,
  chatEventKeyScope,
  chatEventSchema,
  customerLinksOf,
  ensureTopic,
  rawKeyScope,
  rawWebhookSchema,
  sealChatEvent,
  sealRawBody,
  valueSubject,
  type ChatEventAvro,
  type RawWebhookAvro,
  type ConfluentAvroSerde,
} from '@livechat-pipeline/events';
import {
  MAX_CHATS_PER_CALL,
  type ChatKeyState,
  type CustomerLink,
  type PrivacyVault,
} from '@livechat-pipeline/privacy';

// Issue 19, docs/privacy.md section 9: the one-off copy of a topic written before privacy was on into a sealed one.

// kafkajs is CommonJS: Node's ESM loader does not see this named export (tsx and vitest would).
const { ConfigResourceTypes, Partitioners } = kafkajs;

export type ReencryptKind = 'raw' | 'chat-events';

/** The key-store tenant of a raw record without a tenant: the ingest's (services/ingest raw-body-sealer). */
export const NO_TENANT_KEY_STORE_ID = '(none)';

/** Records per key look-up and produce call, and the bytes after which a produce call ends early. */
const CHUNK_RECORDS = 500;
const CHUNK_BYTES = 512 * 1024;

export interface ReencryptOptions {
  readonly kind: ReencryptKind;
  /** Default: `TOPICS.rawWebhook` / `TOPICS.chatEvents`. */
  readonly source?: string;
  /** Default: `<source>.sealed`. */
  readonly target?: string;
  /** The job's consumer group (its progress); default `livechat-privacy-reencrypt.<target>`. */
  readonly groupId?: string;
  /** Records per key look-up, produce call and commit (default 500). */
  readonly chunkRecords?: number;
}

export interface ReencryptDeps {
  readonly kafka: Kafka;
  readonly serde: ConfluentAvroSerde;
  readonly vault: PrivacyVault;
  /** Bootstrap brokers, for ensureTopic's messages. */
  readonly brokers?: readonly string[];
}

export interface ReencryptResult {
  readonly kind: ReencryptKind;
  readonly source: string;
  readonly target: string;
  readonly groupId: string;
  /** Whether this run created the target topic. */
  readonly targetCreated: boolean;
  /** Records written to the target by this run. */
  readonly records: number;
  /** Copied byte for byte: sealed already, or nothing personal in them (configuration, routing). */
  readonly copied: number;
  /** Plain records sealed with their scope's key. */
  readonly sealed: number;
  /** Plain records of an erased scope: their personal values dropped (`envelope` null). */
  readonly erased: number;
  /** Records that do not decode with the registry's schemas: copied byte for byte (the readers dead-letter them). */
  readonly undecodable: number;
  /** Chat events only: chat→customer links recorded in the key store's index. */
  readonly linksRecorded: number;
  /** Per partition: the end offset read at the start, which this run copied up to. */
  readonly endOffsets: Readonly<Record<string, string>>;
}

/** Source and target topics of a run (the defaults of docs/privacy.md section 9). */
export function reencryptTopics(options: Pick<ReencryptOptions, 'kind' | 'source' | 'target'>): {
  source: string;
  target: string;
} {
  const source = options.source ?? (options.kind === 'raw' ? TOPICS.rawWebhook : TOPICS.chatEvents);
  return { source, target: options.target ?? `${source}.sealed` };
}

/** What the operator does next (docs/privacy.md section 9 steps 3–5), printed after each run. */
export function swapSteps(result: Pick<ReencryptResult, 'kind' | 'source' | 'target'>): string[] {
  const writer = result.kind === 'raw' ? 'the ingest' : 'the normalizer';
  const readers =
    result.kind === 'raw'
      ? 'the normalizer (its group on the new topic from the beginning: chat-event ids are deterministic)'
      : 'transcripts, analytics and crm-sync (rebuild them from the new topic: transcripts:rebuild, …)';
  return [
    `1. point ${writer} at ${result.target} (its topic variable) and roll it out`,
    `2. run this command again until it copies 0 records: ${result.source} is drained`,
    `3. point ${readers} at ${result.target}`,
    `4. check: the same number of records per partition in both topics, a sample opened equal to the source, no plain record left in ${result.target}`,
    `5. delete ${result.source} (or revoke access to it until the next backup rotation)`,
  ];
}

interface Counts {
  copied: number;
  sealed: number;
  erased: number;
  undecodable: number;
  linksRecorded: number;
}

/** A record read from the source and what goes to the target. */
interface Item {
  readonly message: KafkaMessage;
  /** The decoded plain record to seal (undefined: copy the bytes). */
  readonly record?: RawWebhookAvro.RawWebhook | ChatEventAvro.ChatEvent;
  readonly tenant?: string;
  readonly scope?: string;
}

/**
 * Copies `source` into `target` (created with the source's partitions and topic configs), sealing every plain
 * record, up to the end offsets read at the start; progress is the group's committed offsets (committed after
 * each produce is acknowledged), so a run that stops resumes where it was and loses nothing (a crash between a
 * produce and its commit writes those records again: readers deduplicate by event id). Throws what the key store,
 * the registry or Kafka throw; run it again then.
 */
export async function reencrypt(deps: ReencryptDeps, options: ReencryptOptions): Promise<ReencryptResult> {
  const { source, target } = reencryptTopics(options);
  if (source === target) throw new Error(`the source and the target are the same topic (${source})`);
  const groupId = options.groupId ?? `livechat-privacy-reencrypt.${target}`;
  const { kafka, serde, vault } = deps;

  const admin = kafka.admin();
  await admin.connect();
  let endOffsets: Map<number, bigint>;
  let startOffsets: Map<number, bigint>;
  let targetCreated: boolean;
  try {
    const metadata = await admin.fetchTopicMetadata({ topics: [source] });
    const partitions = metadata.topics[0]!.partitions;
    const described = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [{ type: ConfigResourceTypes.TOPIC, name: source }],
    });
    const configs: Record<string, string> = {};
    for (const entry of described.resources[0]?.configEntries ?? [])
      if (!entry.isDefault && !entry.readOnly && entry.configValue !== null)
        configs[entry.configName] = entry.configValue;
    targetCreated = await ensureTopic(
      kafka,
      {
        topic: target,
        numPartitions: partitions.length,
        replicationFactor: Math.max(1, ...partitions.map((p) => p.replicas.length)),
        configs,
      },
      deps.brokers === undefined ? {} : { brokers: deps.brokers },
    );
    endOffsets = new Map();
    startOffsets = new Map();
    const committed = new Map<number, bigint>();
    for (const t of await admin.fetchOffsets({ groupId, topics: [source] }))
      for (const p of t.partitions) if (BigInt(p.offset) >= 0n) committed.set(p.partition, BigInt(p.offset));
    for (const o of await admin.fetchTopicOffsets(source)) {
      endOffsets.set(o.partition, BigInt(o.high));
      startOffsets.set(o.partition, committed.get(o.partition) ?? BigInt(o.low));
    }
  } finally {
    await admin.disconnect().catch(() => undefined);
  }

  const schema = await serde.register(
    valueSubject(target),
    options.kind === 'raw' ? rawWebhookSchema() : chatEventSchema(),
  );
  const reader = options.kind === 'raw' ? serde.reader(rawWebhookSchema()) : serde.reader(chatEventSchema());
  const counts: Counts = { copied: 0, sealed: 0, erased: 0, undecodable: 0, linksRecorded: 0 };
  const result = (): ReencryptResult => ({
    kind: options.kind,
    source,
    target,
    groupId,
    targetCreated,
    records: counts.copied + counts.sealed + counts.erased + counts.undecodable,
    ...counts,
    endOffsets: Object.fromEntries([...endOffsets].map(([p, o]) => [String(p), String(o)])),
  });

  const pending = new Set(
    [...endOffsets].filter(([p, end]) => (startOffsets.get(p) ?? 0n) < end).map(([p]) => p),
  );
  if (pending.size === 0) return result();

  const producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    // every record names its partition; the partitioner is never asked
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  const consumer = kafka.consumer({
    groupId,
    retry: { retries: 3, restartOnFailure: async () => false },
  });
  await producer.connect();
  try {
    await consumer.connect();
    let settle!: { resolve: () => void; reject: (error: unknown) => void };
    const finished = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
    consumer.on(consumer.events.CRASH, (event) => settle.reject(event.payload.error));
    await consumer.subscribe({ topic: source, fromBeginning: true });
    // a chunk's counts join the run's once its commit is done: a batch kafkajs retries is not counted twice
    const copyChunk = async (partition: number, chunk: readonly KafkaMessage[]): Promise<Counts> => {
      const counts: Counts = { copied: 0, sealed: 0, erased: 0, undecodable: 0, linksRecorded: 0 };
      const items: Item[] = [];
      for (const message of chunk) items.push(await classify(message, counts));
      const states = await keysOf(items);
      const links = new Map<string, CustomerLink[]>();
      const toTarget = (message: KafkaMessage, value: Buffer | null): TargetMessage => ({
        partition,
        message,
        value,
      });
      const out = items.map((item) => {
        if (item.record === undefined || item.scope === undefined || item.tenant === undefined)
          return toTarget(item.message, item.message.value);
        const state = states.get(item.tenant)?.get(item.scope);
        if (state === undefined || state.state === 'absent')
          throw new Error(`the key store returned no key for a scope of tenant ${item.tenant.slice(0, 80)}`);
        const key = state.state === 'erased' ? 'erased' : state.key;
        if (key === 'erased') counts.erased++;
        else counts.sealed++;
        if (options.kind === 'raw')
          return toTarget(
            item.message,
            serde.encode(schema, sealRawBody(item.record as RawWebhookAvro.RawWebhook, item.scope, key)),
          );
        const event = item.record as ChatEventAvro.ChatEvent;
        // an erased chat's customer is not indexed again: the index is what an erasure deletes
        if (key !== 'erased') {
          let tenantLinks = links.get(event.tenant);
          if (tenantLinks === undefined) links.set(event.tenant, (tenantLinks = []));
          tenantLinks.push(...customerLinksOf(event));
        }
        return toTarget(item.message, serde.encode(schema, sealChatEvent(event, item.scope, key)));
      });
      // the index first: a record in the target is then always findable by an erasure
      for (const [tenant, tenantLinks] of links)
        for (let j = 0; j < tenantLinks.length; j += MAX_CHATS_PER_CALL) {
          const part = tenantLinks.slice(j, j + MAX_CHATS_PER_CALL);
          await vault.recordCustomers(tenant, part);
          counts.linksRecorded += part.length;
        }
      await send(producer, target, out);
      return counts;
    };
    const classify = async (message: KafkaMessage, counts: Counts): Promise<Item> => {
      if (message.value === null) {
        counts.copied++;
        return { message };
      }
      let record: RawWebhookAvro.RawWebhook | ChatEventAvro.ChatEvent;
      try {
        record = await reader.read(message.value);
      } catch {
        counts.undecodable++;
        return { message };
      }
      if (record.sealed !== null) {
        counts.copied++;
        return { message };
      }
      let tenant: string;
      let scope: string | null;
      if (options.kind === 'raw') {
        const raw = record as RawWebhookAvro.RawWebhook;
        tenant = raw.tenant ?? NO_TENANT_KEY_STORE_ID;
        scope = rawKeyScope({
          action: raw.action,
          chatId: raw.chat_id,
          eventId: raw.event_id,
          body: raw.body,
        });
      } else {
        const event = record as ChatEventAvro.ChatEvent;
        tenant = event.tenant;
        scope = chatEventKeyScope(event);
      }
      if (scope === null) {
        counts.copied++;
        return { message };
      }
      return { message, record, tenant, scope };
    };
    const keysOf = async (items: readonly Item[]): Promise<Map<string, Map<string, ChatKeyState>>> => {
      const wanted = new Map<string, Set<string>>();
      for (const { tenant, scope } of items)
        if (tenant !== undefined && scope !== undefined) {
          let scopes = wanted.get(tenant);
          if (scopes === undefined) wanted.set(tenant, (scopes = new Set()));
          scopes.add(scope);
        }
      const states = new Map<string, Map<string, ChatKeyState>>();
      for (const [tenant, scopes] of wanted) {
        const all = [...scopes];
        const tenantStates = new Map<string, ChatKeyState>();
        for (let j = 0; j < all.length; j += MAX_CHATS_PER_CALL)
          for (const [scope, state] of await vault.keysFor(tenant, all.slice(j, j + MAX_CHATS_PER_CALL), {
            create: true,
          }))
            tenantStates.set(scope, state);
        states.set(tenant, tenantStates);
      }
      return states;
    };
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      eachBatch: async ({ batch, heartbeat, isRunning, isStale, resolveOffset }) => {
        const end = endOffsets.get(batch.partition) ?? 0n;
        const messages = batch.messages;
        let i = 0;
        while (i < messages.length && isRunning() && !isStale()) {
          const chunk: KafkaMessage[] = [];
          let bytes = 0;
          while (
            i < messages.length &&
            chunk.length < (options.chunkRecords ?? CHUNK_RECORDS) &&
            bytes < CHUNK_BYTES
          ) {
            const message = messages[i++]!;
            chunk.push(message);
            bytes += message.value?.length ?? 0;
          }
          const chunkCounts = await copyChunk(batch.partition, chunk);
          const next = BigInt(chunk[chunk.length - 1]!.offset) + 1n;
          await consumer.commitOffsets([{ topic: source, partition: batch.partition, offset: String(next) }]);
          // the next fetch starts after it (committing alone does not move the consumer's position)
          resolveOffset(chunk[chunk.length - 1]!.offset);
          for (const name of Object.keys(counts) as (keyof Counts)[]) counts[name] += chunkCounts[name];
          await heartbeat();
          if (next >= end && pending.delete(batch.partition) && pending.size === 0) settle.resolve();
        }
      },
    });
    await finished;
  } finally {
    await consumer.disconnect().catch(() => undefined);
    await producer.disconnect().catch(() => undefined);
  }
  return result();
}

interface TargetMessage {
  readonly partition: number;
  readonly message: KafkaMessage;
  readonly value: Buffer | null;
}

async function send(producer: Producer, topic: string, out: readonly TargetMessage[]): Promise<void> {
  if (out.length === 0) return;
  await producer.send({
    topic,
    acks: -1,
    messages: out.map(({ partition, message, value }) => ({
      partition,
      key: message.key,
      value,
      timestamp: message.timestamp,
      ...(message.headers === undefined ? {} : { headers: message.headers }),
    })),
  });
}
