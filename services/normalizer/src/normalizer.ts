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
import type { PrivacyVault } from '@livechat-pipeline/privacy';
import { SpanKind, context, trace, type Span } from '@opentelemetry/api';
import {
  EventsError,
  headerBytes,
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
  readonly bytes: number;
  readonly deadLetter: { readonly message: Message; readonly code: string } | null;
}

interface NormalizedChunk {
  readonly records: NormalizedRecord[];
  /** Index after the chunk's last raw record. */
  end: number;
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
    while (start < batch.messages.length && isRunning() && !isStale()) {
      const chunk = await this.normalizeChunk(batch, start);
      await this.produceChunk(batch, chunk);
      resolveOffset(batch.messages[chunk.end - 1]!.offset);
      start = chunk.end;
      await commitOffsetsIfNecessary();
      await heartbeat();
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

  /** Normalizes raw records from `start` until the chunk is full (records or bytes); poison becomes dead letters. */
  private async normalizeChunk(batch: Batch, start: number): Promise<NormalizedChunk> {
    const chunk: NormalizedChunk = { records: [], end: start };
    let bytes = 0;
    while (chunk.end < batch.messages.length && chunk.end - start < SEND_CHUNK && bytes < SEND_CHUNK_BYTES) {
      const message = batch.messages[chunk.end++]!;
      // A span per raw record, continuing the ingest's trace (its producer span is the parent and the link); the
      // record's chat events carry this span's context. A no-op while tracing is off.
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
      try {
        const normalized = await context.with(active, () =>
          this.normalizeRecord(batch, message, span, traceHeaders(active) ?? {}),
        );
        chunk.records.push(normalized.record);
        bytes += normalized.bytes;
      } finally {
        span.end();
      }
    }
    return chunk;
  }

  /**
   * One raw record, inside its span (so log lines carry its trace ids): its events (with `eventHeaders`, the span's
   * trace context), or its dead letter. Throws only an infrastructure fault.
   */
  private async normalizeRecord(
    batch: Batch,
    message: KafkaMessage,
    span: Span,
    eventHeaders: Record<string, string>,
  ): Promise<{ record: NormalizedRecord; bytes: number }> {
    const { serde, chatEventSchema, logger } = this.deps;
    try {
      if (message.value === null)
        throw new NormalizerError('NORMALIZER_UNDECODABLE', 'raw record has no value (tombstone)');
      const raw = await this.decode(message.value);
      // A record's events join the chunk only once all of them are encoded: a record is either mapped whole
      // or dead-lettered, never both.
      const events: Message[] = [];
      let limitedBytes = 0;
      let sentBytes = 0;
      for (const event of normalizeRawWebhook(raw, this.config.limits.parse)) {
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
        const key = chatEventKey(event, message.key);
        const headers = { ...eventHeaders, 'event.type': event.type, 'event.id': event.event_id };
        const chatEvent: Message = { key, value, headers };
        const bytes = eventBytes(chatEvent);
        limitedBytes += bytes.limited;
        sentBytes += bytes.sent;
        if (limitedBytes > this.config.limits.maxOutputBytes) {
          throw new NormalizerError(
            'NORMALIZER_OVER_LIMIT',
            `raw record ${raw.event_id}: its events take more than NORMALIZER_MAX_OUTPUT_BYTES (${this.config.limits.maxOutputBytes} bytes)`,
          );
        }
        events.push(chatEvent);
      }
      span.setAttribute('livechat.chat_events', events.length);
      logger.debug(
        { partition: batch.partition, offset: message.offset, chat_events: events.length },
        'raw record normalized',
      );
      return { record: { message, events, bytes: sentBytes, deadLetter: null }, bytes: sentBytes };
    } catch (error) {
      markSpanFailed(span, error);
      // Only an infrastructure fault (the registry unreachable) fails the batch, which kafkajs retries from the
      // last committed offset. Everything else, expected or not, is about these bytes and would fail again:
      // a dead letter, so the partition moves on.
      if (isInfrastructureFault(error)) throw error;
      const failure =
        error instanceof NormalizerError
          ? error
          : new NormalizerError(
              'NORMALIZER_UNEXPECTED',
              `raw record failed unexpectedly: ${describeUnexpected(error)}`,
              { cause: error },
            );
      logger.warn(
        { code: failure.code, partition: batch.partition, offset: message.offset, msg: failure.message },
        'raw record dead-lettered',
      );
      const deadLetter = deadLetterMessage(
        { topic: batch.topic, partition: batch.partition, message },
        failure,
        this.config.groupId,
      );
      return {
        record: { message, events: [], bytes: 0, deadLetter: { message: deadLetter, code: failure.code } },
        bytes: message.value?.length ?? 0,
      };
    }
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

/** A fault of the infrastructure (the registry unreachable): retrying the same record later can help. */
function isInfrastructureFault(error: unknown): boolean {
  return (error instanceof EventsError || error instanceof NormalizerError) && error.retryable;
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
