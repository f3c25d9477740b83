import { Partitioners, type Batch, type Consumer, type EachBatchPayload, type Kafka, type Message, type Producer } from 'kafkajs';
import type { Logger } from 'pino';
import { EventsError, rawWebhookSchema, type ConfluentAvroSerde, type RawWebhook, type RegisteredSchema } from '@livechat-pipeline/events';
import { chatEventKey, describeUnexpected, normalizeRawWebhook } from './normalize-record.js';
import { deadLetterMessage } from './dead-letter.js';
import { NormalizerError } from './errors.js';
import type { NormalizerConfig } from './config.js';
import type { NormalizerMetrics } from './metrics.js';

/**
 * A produce call carries at most this many raw records' events, and ends early once their encoded
 * size passes SEND_CHUNK_BYTES: one chunk usually lands in one partition as one record batch, which
 * must stay under the topic's max.message.bytes (the broker default is 1 MiB).
 */
const SEND_CHUNK = 1000;
const SEND_CHUNK_BYTES = 512 * 1024;

interface NormalizedChunk {
  readonly events: Message[];
  readonly deadLetters: Message[];
  readonly eventTypes: Map<string, number>;
  /** Index after the chunk's last raw record. */
  end: number;
}

export interface NormalizerDeps {
  readonly kafka: Kafka;
  readonly serde: ConfluentAvroSerde;
  readonly chatEventSchema: RegisteredSchema;
  readonly logger: Logger;
  readonly metrics: NormalizerMetrics;
}

/**
 * Consumes raw webhooks, produces chat events (at least once: offsets are committed only after the
 * events are acknowledged; ids are deterministic, so a replayed batch yields the same events, which
 * consumers deduplicate). Records that cannot be decoded or parsed go to the dead-letter topic.
 */
export class RawWebhookNormalizer {
  private consumer: Consumer | undefined;
  private producer: Producer | undefined;
  private joined = false;
  private readonly rawWebhookReader = rawWebhookSchema().type;

  constructor(
    private readonly config: NormalizerConfig,
    private readonly deps: NormalizerDeps,
  ) {}

  async start(): Promise<void> {
    const { kafka } = this.deps;
    this.producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner });
    await this.producer.connect();
    this.consumer = kafka.consumer({ groupId: this.config.groupId, maxBytes: 16 * 1024 * 1024 });
    this.consumer.on(this.consumer.events.GROUP_JOIN, () => (this.joined = true));
    this.consumer.on(this.consumer.events.CRASH, (e) => {
      this.joined = false;
      this.deps.logger.error({ err: { message: e.payload.error.message } }, 'consumer crashed; kafkajs restarts it');
    });
    await this.consumer.connect();
    await this.consumer.subscribe({ topic: this.config.rawTopic, fromBeginning: true });
    await this.consumer.run({
      // Offsets are resolved only once their events are acknowledged; kafkajs commits resolved
      // offsets every few seconds and on rebalance or shutdown (at least once, never at most once).
      eachBatchAutoResolve: false,
      // One partition's wait for its acknowledgement overlaps another's parsing.
      partitionsConsumedConcurrently: this.config.partitionsConcurrently,
      eachBatch: (payload) => this.handleBatch(payload),
    });
  }

  get ready(): boolean {
    return this.joined;
  }

  /** Finishes the batch in hand, commits, and disconnects. */
  async stop(): Promise<void> {
    await this.consumer?.disconnect();
    await this.producer?.disconnect();
  }

  private async handleBatch({ batch, resolveOffset, heartbeat, commitOffsetsIfNecessary, isRunning, isStale }: EachBatchPayload): Promise<void> {
    const stopTimer = this.deps.metrics.batchSeconds.startTimer();
    let start = 0;
    while (start < batch.messages.length && isRunning() && !isStale()) {
      const chunk = await this.normalizeChunk(batch, start);
      const topicMessages = [
        ...(chunk.events.length > 0 ? [{ topic: this.config.chatEventsTopic.name, messages: chunk.events }] : []),
        ...(chunk.deadLetters.length > 0 ? [{ topic: this.config.deadLetterTopic, messages: chunk.deadLetters }] : []),
      ];
      if (topicMessages.length > 0) await this.producer!.sendBatch({ topicMessages, acks: -1 });
      for (const [type, count] of chunk.eventTypes) this.deps.metrics.chatEvents.inc({ type }, count);
      resolveOffset(batch.messages[chunk.end - 1]!.offset);
      start = chunk.end;
      await commitOffsetsIfNecessary();
      await heartbeat();
    }
    await commitOffsetsIfNecessary();
    const lag = Number(batch.offsetLagLow());
    if (Number.isFinite(lag)) this.deps.metrics.lag.set({ partition: String(batch.partition) }, lag);
    stopTimer();
  }

  /** Normalizes raw records from `start` until the chunk is full (records or bytes); poison becomes dead letters. */
  private async normalizeChunk(batch: Batch, start: number): Promise<NormalizedChunk> {
    const { serde, chatEventSchema, metrics, logger } = this.deps;
    const chunk: NormalizedChunk = { events: [], deadLetters: [], eventTypes: new Map(), end: start };
    let bytes = 0;
    while (chunk.end < batch.messages.length && chunk.end - start < SEND_CHUNK && bytes < SEND_CHUNK_BYTES) {
      const message = batch.messages[chunk.end++]!;
      try {
        if (message.value === null) throw new NormalizerError('NORMALIZER_UNDECODABLE', 'raw record has no value (tombstone)');
        const raw = await this.decode(message.value);
        // A record's events join the chunk only once all of them are encoded: a record is either mapped whole
        // or dead-lettered, never both.
        const events: Message[] = [];
        let recordBytes = 0;
        for (const event of normalizeRawWebhook(raw, this.config.limits.parse)) {
          let value: Buffer;
          try {
            value = serde.encode(chatEventSchema, event);
          } catch (cause) {
            throw new NormalizerError('NORMALIZER_UNENCODABLE', `event ${event.event_id} (${event.type}) does not fit the chat-event schema`, { cause });
          }
          const key = chatEventKey(event, message.key);
          recordBytes += value.length + keyBytes(key);
          if (recordBytes > this.config.limits.maxOutputBytes) {
            throw new NormalizerError(
              'NORMALIZER_OVER_LIMIT',
              `raw record ${raw.event_id}: its events take more than NORMALIZER_MAX_OUTPUT_BYTES (${this.config.limits.maxOutputBytes} bytes)`,
            );
          }
          events.push({ key, value, headers: { 'event.type': event.type, 'event.id': event.event_id } });
        }
        for (const event of events) {
          chunk.events.push(event);
          const type = String(event.headers!['event.type']);
          chunk.eventTypes.set(type, (chunk.eventTypes.get(type) ?? 0) + 1);
        }
        bytes += recordBytes;
        metrics.rawRecords.inc({ outcome: 'normalized' });
      } catch (error) {
        // Only an infrastructure fault (the registry unreachable) fails the batch, which kafkajs retries from the
        // last committed offset. Everything else, expected or not, is about these bytes and would fail again:
        // a dead letter, so the partition moves on.
        if (isInfrastructureFault(error)) throw error;
        const failure =
          error instanceof NormalizerError
            ? error
            : new NormalizerError('NORMALIZER_UNEXPECTED', `raw record failed unexpectedly: ${describeUnexpected(error)}`, { cause: error });
        logger.warn({ code: failure.code, partition: batch.partition, offset: message.offset, msg: failure.message }, 'raw record dead-lettered');
        chunk.deadLetters.push(deadLetterMessage({ topic: batch.topic, partition: batch.partition, message }, failure, this.config.groupId));
        bytes += message.value?.length ?? 0;
        metrics.rawRecords.inc({ outcome: 'dead_lettered' });
      }
    }
    return chunk;
  }

  /**
   * Decodes a raw record into the RawWebhook this service reads: a value written with any other schema (one that
   * does not resolve to RawWebhook) is undecodable, not a shapeless object further on.
   */
  private async decode(value: Buffer): Promise<RawWebhook> {
    try {
      return (await this.deps.serde.decode<RawWebhook>(value, this.rawWebhookReader)).value;
    } catch (error) {
      if (error instanceof EventsError && !error.retryable) {
        throw new NormalizerError('NORMALIZER_UNDECODABLE', `raw record cannot be decoded: ${error.code}`, { cause: error });
      }
      throw error;
    }
  }
}

function keyBytes(key: string | Buffer | null): number {
  if (key === null) return 0;
  return typeof key === 'string' ? Buffer.byteLength(key) : key.length;
}

/** A fault of the infrastructure (the registry unreachable): retrying the same record later can help. */
function isInfrastructureFault(error: unknown): boolean {
  return (error instanceof EventsError || error instanceof NormalizerError) && error.retryable;
}
