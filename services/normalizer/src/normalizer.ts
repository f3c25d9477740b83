import {
  Partitioners,
  type Batch,
  type Consumer,
  type EachBatchPayload,
  type Kafka,
  type KafkaMessage,
  type Message,
  type Producer,
} from 'kafkajs';
import type { Logger } from 'pino';
import type { ChatDomainEvent } from '@livechat-pipeline/livechat';
import {
  MAX_CHATS_PER_CALL,
  PrivacyError,
  isPrivacyError,
  type CustomerLink,
  type PrivacyVault,
} from '@livechat-pipeline/privacy';
import { SpanKind, context, trace, type Context, type Span } from '@opentelemetry/api';
import {
  EventsError,
  chatEventKeyScope,
  headerBytes,
  openRawBody,
  scopeToOpen,
  sealChatEvent,
  markSpanFailed,
  spanContextOf,
  traceContextOf,
  traceHeaders,
  keepConsumerRunning,
  readRawWebhook,
  type ConfluentAvroSerde,
  type KeptConsumer,
  type RawWebhook,
  type RegisteredSchema,
} from '@livechat-pipeline/events';
import { chatEventKey, describeUnexpected, normalizeRawWebhook } from './normalize-record.js';
import { deadLetterMessage, withoutValue } from './dead-letter.js';
import { NormalizerError } from './errors.js';
import type { NormalizerConfig } from './config.js';
import type { NormalizerMetrics } from './metrics.js';
import {
  KeyStates,
  RecordedLinks,
  RefusedScopes,
  ScopesByTenant,
  customerLinks,
  fetchKeys,
  isKeyStoreId,
} from './privacy.js';

const tracer = trace.getTracer('@livechat-pipeline/normalizer');

/**
 * A produce call carries at most this many raw records' events, and ends early once their encoded
 * size passes SEND_CHUNK_BYTES: one chunk usually lands in one partition as one record batch, which
 * must stay under the topic's max.message.bytes (the broker default is 1 MiB).
 */
const SEND_CHUNK = 1000;
const SEND_CHUNK_BYTES = 512 * 1024;
/**
 * When the broker refuses a chunk as too large, each record's events are produced again in slices of at most this
 * many bytes (an event bigger than that alone): only an event that does not fit the topic on its own makes its
 * record a dead letter (NORMALIZER_OUTPUT_TOO_LARGE).
 */
const FALLBACK_SLICE_BYTES = 32 * 1024;
/** kafkajs protocol errors of a produce the broker refused for its size (max.message.bytes). */
const TOO_LARGE_ERRORS = new Set(['MESSAGE_TOO_LARGE', 'RECORD_LIST_TOO_LARGE']);

/** One raw record of a chunk: its events, or its dead letter. */
interface NormalizedRecord {
  readonly message: KafkaMessage;
  readonly events: readonly Message[];
  /** What the record takes in a produce: its events' bytes (sealed, headers included), or its dead letter's value. */
  readonly bytes: number;
  readonly deadLetter: { readonly message: Message; readonly code: string } | null;
  /** Its key scope was erased: no events, nothing dead-lettered, the offset moves on. */
  readonly erased: boolean;
}

/** Consecutive records of a window whose events and dead letters go in one produce. */
interface NormalizedChunk {
  readonly records: readonly NormalizedRecord[];
}

/**
 * The raw records normalized together: each stage runs over all of them, so the key store is asked once per tenant
 * per stage. Bounded so that a window's parsed events stay a small multiple of its input.
 */
const WINDOW_RECORDS = 2000;
const WINDOW_BYTES = 4 * 1024 * 1024;

/** One raw record of a window between its stages; `result` is set once it is mapped, erased or dead-lettered. */
interface WindowItem {
  readonly message: KafkaMessage;
  readonly span: Span;
  /** The span's context, for the record's log lines. */
  readonly active: Context;
  /** The trace context its chat events carry. */
  readonly eventHeaders: Record<string, string>;
  raw?: RawWebhook;
  events?: ChatDomainEvent[];
  result?: NormalizedRecord;
}

export interface NormalizerDeps {
  readonly kafka: Kafka;
  readonly serde: ConfluentAvroSerde;
  readonly chatEventSchema: RegisteredSchema;
  readonly logger: Logger;
  readonly metrics: NormalizerMetrics;
  /** The key store when privacy is on (PRIVACY_KEYS set); null: off. */
  readonly vault: PrivacyVault | null;
}

/** The producer in use, and how many sends are in flight on it (a replaced one is disconnected once idle). */
interface ProducerSlot {
  readonly producer: Producer;
  inFlight: number;
  retired: boolean;
}

/**
 * Consumes raw webhooks, produces chat events (at least once: offsets are committed only after the
 * events are acknowledged; ids are deterministic, so a replayed batch yields the same events, which
 * consumers deduplicate). Records that cannot be decoded, parsed or produced go to the dead-letter topic.
 */
export class RawWebhookNormalizer {
  private consumer: Consumer | undefined;
  private kept: KeptConsumer | undefined;
  private slot: ProducerSlot | undefined;
  private replacing: Promise<void> | undefined;
  private joined = false;
  /** Customer links already in the key store: only new ones are written. */
  private readonly recordedLinks = new RecordedLinks();

  constructor(
    private readonly config: NormalizerConfig,
    private readonly deps: NormalizerDeps,
  ) {}

  async start(): Promise<void> {
    const { kafka } = this.deps;
    this.slot = await this.connectProducer();
    this.consumer = kafka.consumer({ groupId: this.config.groupId, maxBytes: 16 * 1024 * 1024 });
    this.consumer.on(this.consumer.events.GROUP_JOIN, () => (this.joined = true));
    this.consumer.on(this.consumer.events.CRASH, (e) => {
      this.joined = false;
      this.deps.logger.error(
        { err: { message: e.payload.error.message }, restart: e.payload.restart },
        e.payload.restart
          ? 'consumer crashed; kafkajs restarts it'
          : 'consumer crashed on a non-retriable error; it is started again after a delay',
      );
    });
    await this.consumer.connect();
    await this.consumer.subscribe({ topic: this.config.rawTopic, fromBeginning: true });
    this.kept = await keepConsumerRunning(
      this.consumer,
      {
        // Offsets are resolved only once their events are acknowledged; kafkajs commits resolved
        // offsets every few seconds and on rebalance or shutdown (at least once, never at most once).
        eachBatchAutoResolve: false,
        // One partition's wait for its acknowledgement overlaps another's parsing.
        partitionsConsumedConcurrently: this.config.partitionsConcurrently,
        eachBatch: (payload) => this.handleBatch(payload),
      },
      {
        onRestart: ({ attempt, delayMs }) =>
          this.deps.logger.warn({ attempt, delayMs }, 'starting the consumer again'),
      },
    );
  }

  get ready(): boolean {
    return this.joined;
  }

  /** Finishes the batch in hand, commits, and disconnects. */
  async stop(): Promise<void> {
    this.kept?.stop();
    await this.consumer?.disconnect();
    await this.replacing;
    await this.slot?.producer.disconnect();
  }

  private async handleBatch({
    batch,
    resolveOffset,
    heartbeat,
    commitOffsetsIfNecessary,
    isRunning,
    isStale,
  }: EachBatchPayload): Promise<void> {
    const stopTimer = this.deps.metrics.batchSeconds.startTimer();
    let start = 0;
    windows: while (start < batch.messages.length && isRunning() && !isStale()) {
      const end = windowEnd(batch.messages, start);
      const records = await this.normalizeWindowOrWait(batch, start, end, heartbeat);
      for (let i = 0; i < records.length;) {
        if (!isRunning() || isStale()) break windows;
        const chunk = takeChunk(records, i);
        await this.produceChunk(batch, chunk);
        i += chunk.records.length;
        resolveOffset(chunk.records[chunk.records.length - 1]!.message.offset);
        await commitOffsetsIfNecessary();
        await heartbeat();
      }
      start = end;
    }
    await commitOffsetsIfNecessary();
    const lag = Number(batch.offsetLagLow());
    if (Number.isFinite(lag))
      this.deps.metrics.lag.set(
        { group: this.config.groupId, topic: batch.topic, partition: String(batch.partition) },
        lag,
      );
    stopTimer();
  }

  /**
   * A window's records, or — when a key cannot be had (key store unreachable, PRIVACY_KEK_UNKNOWN, a sealed record
   * while PRIVACY_KEYS is not set) — the error, which fails the batch like a produce failure: kafkajs retries it
   * from the last resolved offset with backoff, so the partition waits; nothing is dead-lettered or emitted in clear.
   */
  private async normalizeWindowOrWait(
    batch: Batch,
    start: number,
    end: number,
    heartbeat: () => Promise<void>,
  ): Promise<NormalizedRecord[]> {
    try {
      return await this.normalizeWindow(batch, start, end, heartbeat);
    } catch (error) {
      if (isPrivacyError(error) && error.retryable) {
        this.deps.metrics.privacyRetries.inc({ code: error.code });
        this.deps.logger[this.deps.vault === null ? 'error' : 'warn'](
          {
            code: error.code,
            partition: batch.partition,
            offset: batch.messages[start]?.offset,
            msg: error.message,
          },
          'no key for raw records yet; the partition waits and retries',
        );
      }
      throw error;
    }
  }

  /**
   * Produces a chunk's events and dead letters in one call. When the broker refuses it as too large (a topic whose
   * max.message.bytes is smaller than a record's events), the records are produced one by one, and a record whose
   * events cannot be produced becomes a dead letter (NORMALIZER_OUTPUT_TOO_LARGE) instead of failing the batch for
   * ever. Any other produce failure fails the batch (kafkajs retries it).
   */
  private async produceChunk(batch: Batch, chunk: NormalizedChunk): Promise<void> {
    const events = chunk.records.flatMap((record) => record.events);
    const deadLetters = chunk.records.flatMap((record) =>
      record.deadLetter === null ? [] : [record.deadLetter.message],
    );
    const topicMessages = [
      ...(events.length > 0 ? [{ topic: this.config.chatEventsTopic.name, messages: events }] : []),
      ...(deadLetters.length > 0 ? [{ topic: this.config.deadLetterTopic, messages: deadLetters }] : []),
    ];
    if (topicMessages.length > 0) {
      try {
        await this.send((producer) => producer.sendBatch({ topicMessages, acks: -1 }));
      } catch (error) {
        if (!isTooLarge(error)) throw error;
        this.deps.logger.warn(
          {
            partition: batch.partition,
            offset: chunk.records[0]?.message.offset,
            records: chunk.records.length,
          },
          'the broker refused a produce as too large; producing record by record',
        );
        for (const record of chunk.records) await this.produceRecord(batch, record);
        return;
      }
    }
    for (const record of chunk.records) this.count(record);
  }

  private async produceRecord(batch: Batch, record: NormalizedRecord): Promise<void> {
    if (record.deadLetter !== null) {
      await this.sendDeadLetter(record.deadLetter.message);
      this.count(record);
      return;
    }
    for (const slice of slices(record.events, FALLBACK_SLICE_BYTES)) {
      try {
        await this.send((producer) =>
          producer.send({ topic: this.config.chatEventsTopic.name, messages: slice, acks: -1 }),
        );
      } catch (error) {
        if (!isTooLarge(error)) throw error;
        const failure = new NormalizerError(
          'NORMALIZER_OUTPUT_TOO_LARGE',
          `the broker refused an event of this record as too large for ${this.config.chatEventsTopic.name} (its max.message.bytes); ` +
            `the record has ${record.events.length} events, ${record.bytes} bytes`,
        );
        this.deps.logger.warn(
          {
            code: failure.code,
            partition: batch.partition,
            offset: record.message.offset,
            msg: failure.message,
          },
          'raw record dead-lettered',
        );
        const deadLetter = deadLetterMessage(
          { topic: batch.topic, partition: batch.partition, message: record.message },
          failure,
          this.config.groupId,
        );
        await this.sendDeadLetter(deadLetter);
        this.count({ ...record, deadLetter: { message: deadLetter, code: failure.code } });
        return;
      }
    }
    this.count(record);
  }

  /**
   * A dead letter keeps the raw record byte for byte; when even the dead-letter topic refuses it as too large, it
   * goes without its value (header `dlq.value.omitted`), since the raw topic keeps the record at `dlq.origin.*`.
   */
  private async sendDeadLetter(deadLetter: Message): Promise<void> {
    try {
      await this.send((producer) =>
        producer.send({ topic: this.config.deadLetterTopic, messages: [deadLetter], acks: -1 }),
      );
    } catch (error) {
      if (!isTooLarge(error)) throw error;
      await this.send((producer) =>
        producer.send({ topic: this.config.deadLetterTopic, messages: [withoutValue(deadLetter)], acks: -1 }),
      );
    }
  }

  private count(record: NormalizedRecord): void {
    const { metrics } = this.deps;
    if (record.erased) {
      metrics.rawRecords.inc({ outcome: 'erased' });
      metrics.recordsErased.inc();
      return;
    }
    if (record.deadLetter !== null) {
      metrics.rawRecords.inc({ outcome: 'dead_lettered' });
      return;
    }
    metrics.rawRecords.inc({ outcome: 'normalized' });
    for (const event of record.events)
      metrics.chatEvents.inc({ type: String(event.headers?.['event.type']) });
  }

  /**
   * Runs a produce on the current producer. A produce refused as too large may have been written to some of its
   * partitions and not others, and kafkajs then rewinds the idempotence sequence of all of them, so the next
   * produce to a written partition would be refused as out of order: after such a refusal the producer is
   * replaced (a new producer id starts new sequences) before the error is handed on.
   */
  private async send<T>(produce: (producer: Producer) => Promise<T>): Promise<T> {
    if (this.replacing !== undefined) await this.replacing;
    const slot = this.slot!;
    slot.inFlight += 1;
    try {
      return await produce(slot.producer);
    } catch (error) {
      if (isTooLarge(error)) await this.replaceProducer(slot);
      throw error;
    } finally {
      slot.inFlight -= 1;
      if (slot.retired && slot.inFlight === 0) this.disconnectQuietly(slot);
    }
  }

  private async replaceProducer(failed: ProducerSlot): Promise<void> {
    if (this.slot !== failed) return; // another partition replaced it already
    this.replacing ??= (async () => {
      try {
        this.slot = await this.connectProducer();
        failed.retired = true;
        if (failed.inFlight === 0) this.disconnectQuietly(failed);
      } finally {
        this.replacing = undefined;
      }
    })();
    await this.replacing;
  }

  private async connectProducer(): Promise<ProducerSlot> {
    const producer = this.deps.kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    await producer.connect();
    return { producer, inFlight: 0, retired: false };
  }

  private disconnectQuietly(slot: ProducerSlot): void {
    slot.producer.disconnect().catch((error: unknown) => {
      this.deps.logger.warn(
        { err: { message: describeUnexpected(error) } },
        'disconnecting a replaced producer failed',
      );
    });
  }

  /**
   * Raw records [start, end) of a batch → each one's events (sealed with privacy on) or its dead letter. Stage by
   * stage over the whole window, so the key store is asked once per tenant per stage: decode; the keys of sealed
   * bodies (`create: false`); open and parse; the keys of the events' scopes not known yet (`create: true`) and the
   * chat→customer index (before any offset of the window is resolved, so an erasure by e-mail finds a chat once
   * its events are on the topic); seal and encode. Throws only an infrastructure fault or a retryable key fault.
   */
  private async normalizeWindow(
    batch: Batch,
    start: number,
    end: number,
    heartbeat: () => Promise<void>,
  ): Promise<NormalizedRecord[]> {
    const items: WindowItem[] = [];
    try {
      for (let i = start; i < end; i++) items.push(this.startItem(batch, batch.messages[i]!));
      for (const item of items)
        await this.stage(batch, item, async () => {
          if (item.message.value === null)
            throw new NormalizerError('NORMALIZER_UNDECODABLE', 'raw record has no value (tombstone)');
          item.raw = await this.decode(item.message.value);
        });
      // A window (up to WINDOW_RECORDS records, several key-store calls) heartbeats between stages and before each
      // key-store call, so a slow key store never outlasts the session timeout and rebalances the group.
      await heartbeat();
      const keys = new KeyStates();
      await this.fetchBodyKeys(batch, items, keys, heartbeat);
      await heartbeat();
      for (const item of items) await this.stage(batch, item, async () => this.openAndParse(item, keys));
      await heartbeat();
      await this.fetchEventKeys(batch, items, keys, heartbeat);
      await heartbeat();
      for (const item of items)
        await this.stage(batch, item, async () => this.encodeEvents(batch, item, keys));
      return items.map((item) => item.result!);
    } finally {
      for (const item of items) item.span.end();
    }
  }

  /**
   * A raw record's span, continuing the ingest's trace (its producer span is the parent and the link); the record's
   * chat events carry this span's context. A no-op while tracing is off.
   */
  private startItem(batch: Batch, message: KafkaMessage): WindowItem {
    const parent = traceContextOf(message.headers);
    const remote = spanContextOf(message.headers);
    const span: Span = tracer.startSpan(
      `${batch.topic} process`,
      {
        kind: SpanKind.CONSUMER,
        attributes: {
          'messaging.destination.name': batch.topic,
          'messaging.destination.partition.id': String(batch.partition),
          'messaging.kafka.offset': Number(message.offset),
        },
        ...(remote === undefined ? {} : { links: [{ context: remote }] }),
      },
      parent,
    );
    const active = trace.setSpan(parent, span);
    return { message, span, active, eventHeaders: traceHeaders(active) ?? {} };
  }

  /**
   * Runs one stage of a record still in play, inside its span (so log lines carry its trace ids). An infrastructure
   * fault (registry unreachable) or a retryable key fault fails the batch; anything else is about the record's bytes
   * and would fail again: its dead letter, so the partition moves on.
   */
  private async stage(batch: Batch, item: WindowItem, work: () => Promise<void>): Promise<void> {
    if (item.result !== undefined) return;
    try {
      await context.with(item.active, work);
    } catch (error) {
      if (isInfrastructureFault(error)) {
        markSpanFailed(item.span, error);
        throw error;
      }
      // An undeclared error's message may quote opened values: the span gets the failure built without it.
      const failure = failureOf(error);
      markSpanFailed(item.span, failure);
      item.result = context.with(item.active, () => this.deadLettered(batch, item.message, failure));
    }
  }

  private deadLettered(batch: Batch, message: KafkaMessage, failure: NormalizerError): NormalizedRecord {
    this.deps.logger.warn(
      { code: failure.code, partition: batch.partition, offset: message.offset, msg: failure.message },
      'raw record dead-lettered',
    );
    // The record as consumed: a sealed record stays sealed in its dead letter.
    const deadLetter = deadLetterMessage(
      { topic: batch.topic, partition: batch.partition, message },
      failure,
      this.config.groupId,
    );
    return {
      message,
      events: [],
      bytes: message.value?.length ?? 0,
      deadLetter: { message: deadLetter, code: failure.code },
      erased: false,
    };
  }

  /** One `keysFor(…, { create: false })` per tenant for the window's sealed bodies. */
  private async fetchBodyKeys(
    batch: Batch,
    items: readonly WindowItem[],
    keys: KeyStates,
    heartbeat: () => Promise<void>,
  ): Promise<void> {
    const wanted = new ScopesByTenant();
    for (const item of items) {
      // Plain and erased records need no key.
      const scope = item.raw === undefined ? null : scopeToOpen(item.raw);
      if (item.result !== undefined || scope === null) continue;
      if (this.deps.vault === null)
        throw new PrivacyError(
          'PRIVACY_KEY_UNAVAILABLE',
          `raw record at offset ${item.message.offset} is sealed but PRIVACY_KEYS is not set: this normalizer cannot open it; ` +
            'set PRIVACY_KEYS, PRIVACY_EMAIL_HASH_KEY and PRIVACY_DATABASE_URL (the keys the ingest seals with)',
        );
      const tenant = item.raw!.tenant;
      if (!isKeyStoreId(tenant) || !isKeyStoreId(scope)) {
        await this.stage(batch, item, async () => {
          throw new NormalizerError(
            'NORMALIZER_SEALED_BODY_INVALID',
            `raw record ${item.raw!.event_id}: sealed without a tenant or with a key scope the key store refuses`,
          );
        });
        continue;
      }
      wanted.add(tenant, scope);
    }
    if (this.deps.vault === null || wanted.size === 0) return;
    const refused = new RefusedScopes();
    await fetchKeys(this.deps.vault, wanted, { create: false }, keys, refused, heartbeat);
    for (const item of items) {
      const scope = item.raw === undefined ? null : scopeToOpen(item.raw);
      if (item.result !== undefined || scope === null) continue;
      const code = refused.codeOf(item.raw!.tenant!, scope);
      if (code !== undefined)
        await this.stage(batch, item, async () => {
          throw new NormalizerError(
            'NORMALIZER_KEY_SCOPE_INVALID',
            `raw record ${item.raw!.event_id}: the key store refuses its key scope (${code})`,
          );
        });
    }
  }

  /** The body in clear (opened when sealed) parsed into domain events; an erased scope's record yields none. */
  private async openAndParse(item: WindowItem, keys: KeyStates): Promise<void> {
    const raw = item.raw!;
    let body = raw.body;
    const sealed = raw.sealed ?? null;
    if (sealed !== null) {
      let opened: { body: string } | { erased: true };
      try {
        opened = openRawBody(raw, raw.tenant === null ? undefined : keys.get(raw.tenant, sealed.key_scope));
      } catch (error) {
        if (isPrivacyError(error) && !error.retryable)
          throw new NormalizerError(
            'NORMALIZER_SEALED_BODY_INVALID',
            `raw record ${raw.event_id}: its sealed body does not open with the key of its scope (${error.code})`,
            { cause: error },
          );
        throw error;
      }
      if ('erased' in opened) {
        item.result = { message: item.message, events: [], bytes: 0, deadLetter: null, erased: true };
        this.deps.logger.debug(
          { offset: item.message.offset },
          'raw record of an erased key scope: no events',
        );
        return;
      }
      body = opened.body;
    }
    item.events = normalizeRawWebhook({ ...raw, body }, this.config.limits.parse);
  }

  /**
   * With privacy on: one `keysFor(…, { create: true })` per tenant for the events' key scopes not known from the
   * bodies' look-up, then one `recordCustomers` per tenant for what the events tell of the chats' customers.
   */
  private async fetchEventKeys(
    batch: Batch,
    items: readonly WindowItem[],
    keys: KeyStates,
    heartbeat: () => Promise<void>,
  ): Promise<void> {
    const vault = this.deps.vault;
    if (vault === null) return;
    const wanted = new ScopesByTenant();
    // Each tenant's latest record time: a replay dates new keys and moves last activity (retention) by the records
    // it reads, never to now, or replaying years of log would defer every chat's retention by a full period.
    const seenAtByTenant = new Map<string, Date>();
    for (const item of items) {
      if (item.result !== undefined || item.events === undefined) continue;
      const tenant = item.raw!.tenant;
      if (tenant !== null) {
        const at = new Date(Math.floor(item.raw!.received_at / 1000));
        const latest = seenAtByTenant.get(tenant);
        if (latest === undefined || latest < at) seenAtByTenant.set(tenant, at);
      }
      const invalid = item.events.find((event) => {
        const scope = chatEventKeyScope(event);
        return scope !== null && (!isKeyStoreId(event.tenant) || !isKeyStoreId(scope));
      });
      if (invalid !== undefined) {
        await this.stage(batch, item, async () => {
          throw new NormalizerError(
            'NORMALIZER_KEY_SCOPE_INVALID',
            `event ${invalid.event_id} (${invalid.type}): its tenant or key scope is empty, over 256 characters or holds a NUL`,
          );
        });
        continue;
      }
      for (const event of item.events) {
        const scope = chatEventKeyScope(event);
        if (scope === null) continue;
        const known = keys.get(event.tenant, scope);
        if (known === undefined || known.state === 'absent') wanted.add(event.tenant, scope);
      }
    }
    if (wanted.size > 0) {
      const refused = new RefusedScopes();
      await fetchKeys(vault, wanted, { create: true, seenAtByTenant }, keys, refused, heartbeat);
      for (const item of items) {
        if (item.result !== undefined || item.events === undefined) continue;
        for (const event of item.events) {
          const scope = chatEventKeyScope(event);
          const code = scope === null ? undefined : refused.codeOf(event.tenant, scope);
          if (code === undefined) continue;
          await this.stage(batch, item, async () => {
            throw new NormalizerError(
              'NORMALIZER_KEY_SCOPE_INVALID',
              `event ${event.event_id} (${event.type}): the key store refuses its key scope (${code})`,
            );
          });
          break;
        }
      }
    }
    const links = new Map<string, CustomerLink[]>();
    for (const item of items) {
      if (item.result !== undefined || item.events === undefined) continue;
      const own = new Map<string, CustomerLink[]>();
      customerLinks(item.events, chatEventKeyScope, own);
      // The body's own key: when its scope differs from its events' (raw:<event id> of an unrecognised action), an
      // erasure by customer must find that key too, or the redacted body stays readable on the raw topic.
      const bodyScope = item.raw?.sealed?.key_scope ?? null;
      for (const [tenant, found] of own) {
        let tenantLinks = links.get(tenant);
        if (tenantLinks === undefined) links.set(tenant, (tenantLinks = []));
        tenantLinks.push(...found);
        if (bodyScope !== null && isKeyStoreId(bodyScope))
          for (const link of found)
            if (link.chatId !== bodyScope) tenantLinks.push({ ...link, chatId: bodyScope });
      }
    }
    for (const [tenant, tenantLinks] of links) {
      const fresh = this.recordedLinks.newOnes(tenant, tenantLinks);
      for (let i = 0; i < fresh.length; i += MAX_CHATS_PER_CALL) {
        await heartbeat();
        const slice = fresh.slice(i, i + MAX_CHATS_PER_CALL);
        await this.recordLinks(vault, tenant, slice);
        this.recordedLinks.remember(tenant, slice);
      }
    }
  }

  /**
   * One `recordCustomers` for the links; a non-retryable refusal (ids the store will never take) would fail every
   * retry of the batch: then link by link, leaving out (with a warn line naming only the code) those refused.
   */
  private async recordLinks(
    vault: PrivacyVault,
    tenant: string,
    links: readonly CustomerLink[],
  ): Promise<void> {
    try {
      await vault.recordCustomers(tenant, links);
    } catch (error) {
      if (!isPrivacyError(error) || error.retryable) throw error;
      for (const link of links) {
        try {
          await vault.recordCustomers(tenant, [link]);
        } catch (single) {
          if (!isPrivacyError(single) || single.retryable) throw single;
          this.deps.logger.warn({ code: single.code }, 'a customer link the key store refuses left out');
        }
      }
    }
  }

  /**
   * The record's events sealed (privacy on) and encoded. A record's events join the chunk only once all of them are
   * encoded: a record is either mapped whole or dead-lettered, never both. The sealed bytes are what count, against
   * NORMALIZER_MAX_OUTPUT_BYTES and the produce chunk.
   */
  private async encodeEvents(batch: Batch, item: WindowItem, keys: KeyStates): Promise<void> {
    const { serde, chatEventSchema, logger } = this.deps;
    const events: Message[] = [];
    let limitedBytes = 0;
    let sentBytes = 0;
    for (const parsed of item.events!) {
      const event = this.seal(parsed, keys);
      let value: Buffer;
      try {
        value = serde.encode(chatEventSchema, event);
      } catch (cause) {
        throw new NormalizerError(
          'NORMALIZER_UNENCODABLE',
          `event ${event.event_id} (${event.type}) does not fit the chat-event schema`,
          { cause },
        );
      }
      const key = chatEventKey(event, item.message.key);
      const headers = { ...item.eventHeaders, 'event.type': event.type, 'event.id': event.event_id };
      const chatEvent: Message = { key, value, headers };
      const bytes = eventBytes(chatEvent);
      limitedBytes += bytes.limited;
      sentBytes += bytes.sent;
      if (limitedBytes > this.config.limits.maxOutputBytes) {
        throw new NormalizerError(
          'NORMALIZER_OVER_LIMIT',
          `raw record ${item.raw!.event_id}: its events take more than NORMALIZER_MAX_OUTPUT_BYTES (${this.config.limits.maxOutputBytes} bytes)`,
        );
      }
      events.push(chatEvent);
    }
    item.span.setAttribute('livechat.chat_events', events.length);
    logger.debug(
      { partition: batch.partition, offset: item.message.offset, chat_events: events.length },
      'raw record normalized',
    );
    item.result = { message: item.message, events, bytes: sentBytes, deadLetter: null, erased: false };
  }

  /**
   * A chat event as it goes on the topic: privacy off, as parsed; on, its personal values sealed with its scope's
   * key (an erased scope's values cleared, no envelope kept).
   */
  private seal(event: ChatDomainEvent, keys: KeyStates): ChatDomainEvent {
    if (this.deps.vault === null) return event;
    const scope = chatEventKeyScope(event);
    if (scope === null) return event;
    const state = keys.get(event.tenant, scope);
    if (state?.state === 'active') return sealChatEvent(event, scope, state.key);
    if (state?.state === 'erased') return sealChatEvent(event, scope, 'erased');
    // fetchEventKeys asked with create: true, which answers every scope: only a bug gets here. Not retryable (the
    // same record would fail again and stall the partition): the record is dead-lettered, still as consumed.
    throw new NormalizerError(
      'NORMALIZER_UNEXPECTED',
      `no key state for the key scope of event ${event.event_id} (${event.type})`,
    );
  }

  /**
   * Decodes a raw record with the current RawWebhook schema (fields added since it was written at their defaults):
   * a value written with any other schema (one that does not resolve to RawWebhook) is undecodable, not a
   * shapeless object further on.
   */
  private async decode(value: Buffer): Promise<RawWebhook> {
    try {
      return await readRawWebhook(this.deps.serde, value);
    } catch (error) {
      if (error instanceof EventsError && !error.retryable) {
        throw new NormalizerError('NORMALIZER_UNDECODABLE', `raw record cannot be decoded: ${error.code}`, {
          cause: error,
        });
      }
      throw error;
    }
  }
}

/**
 * A chat event's bytes, counted twice. `limited` (key and value) counts against NORMALIZER_MAX_OUTPUT_BYTES: that
 * limit bounds a raw record's work, and its meaning must not depend on the headers (event.type and event.id were
 * always sent and never counted; the trace context exists only with tracing on), or turning tracing on would
 * dead-letter webhooks that were mapped. `sent` (headers included: the trace context is up to ~600 bytes) is what
 * the record takes in a produce, for the budgets that keep a produce under the topic's max.message.bytes
 * (SEND_CHUNK_BYTES and the fallback slices); a broker refusal is handled there anyway (NORMALIZER_OUTPUT_TOO_LARGE).
 */
export function eventBytes(message: Message): { limited: number; sent: number } {
  const value = message.value;
  const valueLength =
    value === null || value === undefined
      ? 0
      : typeof value === 'string'
        ? Buffer.byteLength(value)
        : value.length;
  const limited = valueLength + keyBytes(message.key ?? null);
  return { limited, sent: limited + headerBytes(message.headers) };
}

function keyBytes(key: string | Buffer | null): number {
  if (key === null) return 0;
  return typeof key === 'string' ? Buffer.byteLength(key) : key.length;
}

/**
 * What a record is dead-lettered with: a NormalizerError as is (its messages are ours, no values), anything else
 * as NORMALIZER_UNEXPECTED naming only the error's class and code.
 */
function failureOf(error: unknown): NormalizerError {
  if (error instanceof NormalizerError) return error;
  return new NormalizerError(
    'NORMALIZER_UNEXPECTED',
    `raw record failed unexpectedly: ${describeUnexpected(error)}`,
    { cause: error },
  );
}

/**
 * A fault of the infrastructure (the registry unreachable, the key store unreachable or missing a master key):
 * retrying the same record later can help.
 */
function isInfrastructureFault(error: unknown): boolean {
  return (
    (error instanceof EventsError || error instanceof NormalizerError || isPrivacyError(error)) &&
    error.retryable
  );
}

/** The end of the window starting at `start`: at most WINDOW_RECORDS records and WINDOW_BYTES of values (one at least). */
function windowEnd(messages: readonly KafkaMessage[], start: number): number {
  let end = start;
  let bytes = 0;
  while (end < messages.length && end - start < WINDOW_RECORDS && (end === start || bytes < WINDOW_BYTES))
    bytes += messages[end++]!.value?.length ?? 0;
  return end;
}

/**
 * The records from `start` that go in one produce: up to SEND_CHUNK records, ending once their bytes (sealed
 * events with headers, or dead letters) pass SEND_CHUNK_BYTES.
 */
function takeChunk(records: readonly NormalizedRecord[], start: number): NormalizedChunk {
  let end = start;
  let bytes = 0;
  while (end < records.length && end - start < SEND_CHUNK && bytes < SEND_CHUNK_BYTES)
    bytes += records[end++]!.bytes;
  return { records: records.slice(start, end) };
}

/** Whether a produce failed because the broker refused it as too large (kafkajs wraps the protocol error as `cause`). */
export function isTooLarge(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const type = (e as { type?: unknown }).type;
    if (typeof type === 'string' && TOO_LARGE_ERRORS.has(type)) return true;
  }
  return false;
}

/** Consecutive runs of messages of at most `maxBytes` (a bigger message is a run of its own). */
function slices(messages: readonly Message[], maxBytes: number): Message[][] {
  const runs: Message[][] = [];
  let run: Message[] = [];
  let bytes = 0;
  for (const message of messages) {
    const size = eventBytes(message).sent;
    if (run.length > 0 && bytes + size > maxBytes) {
      runs.push(run);
      run = [];
      bytes = 0;
    }
    run.push(message);
    bytes += size;
  }
  if (run.length > 0) runs.push(run);
  return runs;
}
