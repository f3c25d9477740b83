import { SpanKind, TraceFlags, trace, type Context } from '@opentelemetry/api';
import { spanContextOf, traceContextOf, traceLinksOf, withSpan } from '@livechat-pipeline/events';
import type { KafkaMessage, Producer } from 'kafkajs';
import type pg from 'pg';
import { publishDeadLetters, toDeadLetterMessage } from './dead-letter.js';
import { claimEventIds, selectClaimed } from './dedup.js';
import { watchConnection } from './connection-watch.js';
import { ConsumerError, classifyError } from './errors.js';
import { compareAndSetOffset, planBatch } from './offsets.js';
import type { ResolvedOptions, RuntimeHooks } from './options.js';
import type { ConsumerDefinition, ConsumerTransaction, RecordOrigin } from './types.js';

export interface BatchInput {
  readonly topic: string;
  readonly partition: number;
  readonly messages: readonly KafkaMessage[];
  /** The stored offset this member believes in; the commit is a compare-and-set against it. */
  readonly expected: bigint | null;
  /** 1-based attempt number of this batch (transient failures retry it). */
  readonly attempt: number;
}

export interface DeadLetterReport {
  readonly origin: RecordOrigin;
  readonly error: ConsumerError;
}

export type BatchOutcome =
  | {
      readonly kind: 'committed';
      readonly nextOffset: bigint;
      readonly applied: number;
      readonly duplicates: number;
      readonly skipped: number;
      readonly deadLetters: readonly DeadLetterReport[];
    }
  | { readonly kind: 'nothing-new'; readonly skipped: number }
  | { readonly kind: 'conflict'; readonly expected: bigint | null };

interface DecodedRecord<E> {
  readonly message: KafkaMessage;
  readonly event: E;
  readonly id: string;
}

interface PoisonRecord {
  readonly message: KafkaMessage;
  readonly error: ConsumerError;
  readonly attempts: number;
}

export interface BatchProcessorDeps<E> {
  readonly pool: pg.Pool;
  readonly producer: Producer;
  readonly definition: ConsumerDefinition<E>;
  readonly options: ResolvedOptions;
  readonly hooks: RuntimeHooks | undefined;
}

/**
 * What the runtime does with a batch's result inside the batch's span, so the lines it writes (batch committed, dead
 * letters, offset conflicts, transient failures) carry the batch's trace ids.
 */
export interface BatchSettlement {
  /** The batch's outcome: store positions, record metrics, log. */
  settle(outcome: BatchOutcome): Promise<void>;
  /** Processing threw `error` (rethrown afterwards): report it. */
  failed(error: unknown): void;
}

const tracer = trace.getTracer('@livechat-pipeline/postgres-consumer');

/**
 * The parent of a batch's span: the context of its first record whose trace is sampled, or undefined (the active
 * context) when none is. An unsampled record never decides for the others in its batch.
 */
export function batchParentContext(messages: readonly KafkaMessage[]): Context | undefined {
  const traced = messages.find(
    (m) => ((spanContextOf(m.headers)?.traceFlags ?? TraceFlags.NONE) & TraceFlags.SAMPLED) !== 0,
  );
  return traced === undefined ? undefined : traceContextOf(traced.headers);
}

/**
 * Applies one fetched batch of one partition: skip what is below the stored offset, decode, drop
 * duplicates, run the handler, isolate poison records, then store the offset with a
 * compare-and-set -- all in one Postgres transaction. Throws a retryable ConsumerError when the
 * batch should be tried again as a whole; never applies anything twice.
 */
export class BatchProcessor<E> {
  constructor(private readonly deps: BatchProcessorDeps<E>) {}

  /** Processes the batch, then runs `settlement` (inside the batch's span when there is one); returns the outcome. */
  async process(input: BatchInput, settlement?: BatchSettlement): Promise<BatchOutcome> {
    const plan = planBatch(input.messages, input.expected);
    if (plan.fresh.length === 0 || plan.nextOffset === null) {
      const outcome: BatchOutcome = { kind: 'nothing-new', skipped: plan.skipped };
      await settlement?.settle(outcome);
      return outcome;
    }
    const nextOffset = plan.nextOffset;
    // One span per batch, linked to every record's producing span and a child of the first sampled one's (so a
    // webhook's trace reaches its projection; one unsampled record must not leave the others' batch span
    // unrecorded); the Postgres transaction is a child span. No-ops while tracing is off.
    const { links, dropped } = traceLinksOf(plan.fresh);
    return withSpan(
      tracer,
      `${input.topic} process`,
      {
        kind: SpanKind.CONSUMER,
        links,
        attributes: {
          ...(dropped === 0 ? {} : { 'livechat.links_dropped': dropped }),
          'messaging.consumer.group.name': this.deps.options.consumerName,
          'messaging.destination.name': input.topic,
          'messaging.destination.partition.id': String(input.partition),
          'messaging.batch.message_count': plan.fresh.length,
          'livechat.attempt': input.attempt,
        },
      },
      async () => {
        let outcome: BatchOutcome;
        try {
          const { decoded, poison } = await this.decodeAll(input, plan.fresh);
          outcome = await this.inTransaction(input, plan.skipped, nextOffset, decoded, poison);
        } catch (error) {
          settlement?.failed(error);
          throw error;
        }
        await settlement?.settle(outcome);
        return outcome;
      },
      batchParentContext(plan.fresh),
    );
  }

  private async inTransaction(
    input: BatchInput,
    skipped: number,
    nextOffset: bigint,
    decoded: readonly DecodedRecord<E>[],
    poison: PoisonRecord[],
  ): Promise<BatchOutcome> {
    const plan = { skipped, nextOffset };
    const client = await this.connect();
    // The span starts once a pool client is held: time spent waiting for the pool is not transaction time.
    return withSpan(
      tracer,
      'postgres transaction',
      { kind: SpanKind.CLIENT, attributes: { 'db.system.name': 'postgresql' } },
      async () => {
        const watch = watchConnection(client);
        let broken = false;
        try {
          await client.query('begin');
          const tx = this.transaction(client);
          const applied = await this.applyWholeBatch(tx, decoded).then(
            (result) => result,
            async (error: unknown) => {
              const failure = classifyError(error, 'handler');
              if (failure.retryable) throw failure;
              await client.query('rollback to savepoint whole_batch');
              return this.applyOneByOne(tx, decoded, input.attempt + 1, poison);
            },
          );
          const key = {
            consumer: this.deps.options.consumerName,
            topic: input.topic,
            partition: input.partition,
          };
          const stored = await compareAndSetOffset(
            tx,
            this.deps.options.schema,
            key,
            input.expected,
            plan.nextOffset,
          );
          if (!stored) {
            await client.query('rollback');
            return { kind: 'conflict', expected: input.expected };
          }
          // Dead letters go out before the commit: a crash in between re-sends them (at least once),
          // never loses them.
          const failedAt = new Date();
          if (poison.length > 0) {
            // A Kafka round trip inside the transaction: a span of its own, so the transaction's time is readable.
            const deadLetterTopic = this.deps.options.deadLetterTopic;
            await withSpan(
              tracer,
              `${deadLetterTopic} publish`,
              {
                kind: SpanKind.PRODUCER,
                attributes: {
                  'messaging.destination.name': deadLetterTopic,
                  'messaging.batch.message_count': poison.length,
                },
              },
              () =>
                publishDeadLetters(
                  this.deps.producer,
                  deadLetterTopic,
                  poison.map((p) =>
                    toDeadLetterMessage({
                      origin: originOf(input, p.message),
                      message: p.message,
                      error: p.error,
                      attempts: p.attempts,
                      consumer: this.deps.options.consumerName,
                      failedAt,
                    }),
                  ),
                ),
            );
          }
          await client.query('commit');
          await this.deps.hooks?.afterPostgresCommit?.({
            topic: input.topic,
            partition: input.partition,
            nextOffset: plan.nextOffset.toString(),
          });
          return {
            kind: 'committed',
            nextOffset: plan.nextOffset,
            applied: applied.applied,
            duplicates: applied.duplicates,
            skipped: plan.skipped,
            deadLetters: poison.map((p) => ({ origin: originOf(input, p.message), error: p.error })),
          };
        } catch (error) {
          broken = true;
          await client.query('rollback').catch(() => undefined);
          throw classifyError(error, 'storage');
        } finally {
          // A connection that saw an error may be half-dead (Postgres restarting): do not reuse it.
          watch.stop();
          client.release(broken || watch.lost() !== undefined);
        }
      },
    );
  }

  private async connect(): Promise<pg.PoolClient> {
    try {
      return await this.deps.pool.connect();
    } catch (error) {
      throw classifyError(error, 'storage');
    }
  }

  private transaction(client: pg.PoolClient): ConsumerTransaction {
    return {
      schema: this.deps.options.schema,
      query: (text, values) => client.query(text, values === undefined ? undefined : [...values]),
    };
  }

  private async decodeAll(
    input: BatchInput,
    messages: readonly KafkaMessage[],
  ): Promise<{ decoded: DecodedRecord<E>[]; poison: PoisonRecord[] }> {
    const { decode, eventId } = this.deps.definition;
    const settled = await Promise.allSettled(messages.map((m) => decode(m, originOf(input, m))));
    const decoded: DecodedRecord<E>[] = [];
    const poison: PoisonRecord[] = [];
    settled.forEach((result, index) => {
      const message = messages[index]!;
      if (result.status === 'rejected') {
        const error = classifyError(result.reason, 'decode');
        // A registry outage is not the record's fault: retry the whole batch.
        if (error.retryable) throw error;
        poison.push({ message, error, attempts: input.attempt });
        return;
      }
      let id: string | undefined;
      try {
        id = eventId(result.value);
      } catch (cause) {
        id = undefined;
        poison.push({
          message,
          error: new ConsumerError('CONSUMER_EVENT_ID_MISSING', 'eventId() threw', { cause }),
          attempts: input.attempt,
        });
        return;
      }
      if (!id) {
        poison.push({
          message,
          error: new ConsumerError('CONSUMER_EVENT_ID_MISSING', 'eventId() returned an empty id'),
          attempts: input.attempt,
        });
        return;
      }
      decoded.push({ message, event: result.value, id });
    });
    return { decoded, poison };
  }

  /** Fast path: one dedup INSERT and one handler call for the whole batch. */
  private async applyWholeBatch(
    tx: ConsumerTransaction,
    decoded: readonly DecodedRecord<E>[],
  ): Promise<{ applied: number; duplicates: number }> {
    await tx.query('savepoint whole_batch');
    const { schema, consumerName } = this.deps.options;
    const claimed = await claimEventIds(
      tx,
      schema,
      consumerName,
      decoded.map((d) => d.id),
    );
    const { fresh, duplicates } = selectClaimed(decoded, (d) => d.id, claimed);
    if (fresh.length > 0)
      await this.deps.definition.handle(
        fresh.map((d) => d.event),
        tx,
      );
    return { applied: fresh.length, duplicates };
  }

  /**
   * Slow path after a permanent failure: each event in its own savepoint, so the poison one is
   * rolled back alone (its dedup record too, so a replay is not taken for a duplicate).
   */
  private async applyOneByOne(
    tx: ConsumerTransaction,
    decoded: readonly DecodedRecord<E>[],
    attempts: number,
    poison: PoisonRecord[],
  ): Promise<{ applied: number; duplicates: number }> {
    const { schema, consumerName } = this.deps.options;
    let applied = 0;
    let duplicates = 0;
    for (const record of decoded) {
      await tx.query('savepoint one_event');
      const claimed = await claimEventIds(tx, schema, consumerName, [record.id]);
      if (!claimed.has(record.id)) {
        duplicates += 1;
        await tx.query('release savepoint one_event');
        continue;
      }
      try {
        await this.deps.definition.handle([record.event], tx);
        await tx.query('release savepoint one_event');
        applied += 1;
      } catch (error) {
        const failure = classifyError(error, 'handler');
        if (failure.retryable) throw failure;
        await tx.query('rollback to savepoint one_event');
        await tx.query('release savepoint one_event');
        poison.push({ message: record.message, error: failure, attempts });
      }
    }
    return { applied, duplicates };
  }
}

function originOf(input: { topic: string; partition: number }, message: KafkaMessage): RecordOrigin {
  return { topic: input.topic, partition: input.partition, offset: message.offset };
}
