import { setTimeout as sleep } from 'node:timers/promises';
import type { Admin, Batch, Consumer, EachBatchPayload, Producer } from 'kafkajs';
import pg from 'pg';
import type { Registry } from 'prom-client';
import { keepConsumerRunning, type KeptConsumer } from '@livechat-pipeline/events';
import { backoffDelay } from './backoff.js';
import { BatchProcessor, type BatchOutcome } from './batch-processor.js';
import { ensureDeadLetterTopic } from './dead-letter.js';
import { purgeExpiredEventIds } from './dedup.js';
import { ConsumerError, classifyError } from './errors.js';
import { ConsumerMetrics } from './metrics.js';
import { migrateConsumerSchema } from './migrations.js';
import { partitionId, readAllStoredOffsets, readStoredOffset } from './offsets.js';
import { quoteIdent, resolveOptions, type PostgresConsumerOptions, type ResolvedOptions } from './options.js';
import type { ConsumerDefinition, ReadyReport, RuntimeEvent } from './types.js';

type Assignment = Readonly<Record<string, readonly number[]>>;

/** A Pool whose connections start in the consumer's schema and cannot hang forever. */
export function createConsumerPool(options: ResolvedOptions): pg.Pool {
  return new pg.Pool({
    connectionString: options.databaseUrl,
    max: options.poolSize,
    connectionTimeoutMillis: options.connectionTimeoutMs,
    statement_timeout: options.statementTimeoutMs,
    // Client-side bound too: a server that stops answering (not just refusing) must still time out.
    query_timeout: options.statementTimeoutMs + 5_000,
    options: `-c search_path=${quoteIdent(options.schema)},public`,
  });
}

/**
 * A Kafka consumer whose effects, dedup records and offsets commit in one Postgres transaction.
 * Postgres holds the offsets (Kafka's are advisory): on assignment and at the first batch of a
 * partition it seeks to the stored offset; records below it are skipped.
 */
export class PostgresConsumer<E> {
  readonly options: ResolvedOptions;
  private readonly pool: pg.Pool;
  private readonly consumer: Consumer;
  private readonly producer: Producer;
  private readonly admin: Admin;
  private readonly metrics: ConsumerMetrics;
  private readonly processor: BatchProcessor<E>;
  private readonly emit: (event: RuntimeEvent) => void;
  /** Stored offset per partition of the current assignment, once read from Postgres (null: none stored). */
  private readonly positions = new Map<string, bigint | null>();
  private assignment: Assignment = {};
  private generation = 0;
  private joined = false;
  private state: 'new' | 'starting' | 'running' | 'stopping' | 'stopped' = 'new';
  private purgeTimer: NodeJS.Timeout | undefined;
  private metricsTimer: NodeJS.Timeout | undefined;
  private refreshingMetrics = false;
  /** The last metrics refresh failed: the next failure is not reported again, the next success is. */
  private metricsRefreshFailing = false;
  private kept: KeptConsumer | undefined;

  constructor(
    private readonly definition: ConsumerDefinition<E>,
    private readonly rawOptions: PostgresConsumerOptions,
  ) {
    this.options = resolveOptions(definition, rawOptions);
    const onEvent = rawOptions.onEvent;
    this.emit = (event) => {
      try {
        onEvent?.(event);
      } catch {
        // A listener's bug must not break consumption.
      }
    };
    this.pool = createConsumerPool(this.options);
    // Idle connections die when Postgres restarts; without a listener that would crash the process.
    this.pool.on('error', (error) => this.emit({ type: 'background-failure', task: 'postgres-pool', error }));
    const kafka = rawOptions.kafka;
    this.consumer = kafka.consumer({
      groupId: this.options.groupId,
      sessionTimeout: this.options.sessionTimeoutMs,
      heartbeatInterval: this.options.heartbeatIntervalMs,
      maxBytesPerPartition: this.options.maxBytesPerPartition,
      maxWaitTimeInMs: this.options.maxWaitTimeMs,
      allowAutoTopicCreation: false,
    });
    this.producer = kafka.producer({ allowAutoTopicCreation: false, idempotent: true });
    this.admin = kafka.admin();
    this.metrics = new ConsumerMetrics(
      this.options.consumerName,
      rawOptions.metricsRegistry,
      this.options.groupId,
    );
    this.processor = new BatchProcessor({
      pool: this.pool,
      producer: this.producer,
      definition,
      options: this.options,
      hooks: rawOptions.hooks,
    });
    this.watchGroup();
  }

  get metricsRegistry(): Registry {
    return this.metrics.registry;
  }

  /** The settings its Postgres pool was built with (size, timeouts): lets a service's checks see what it uses. */
  get poolOptions(): Readonly<pg.PoolOptions> {
    return this.pool.options;
  }

  /** Migrates the schema, connects, joins the group and starts consuming. */
  async start(): Promise<void> {
    if (this.state !== 'new')
      throw new ConsumerError(
        'CONSUMER_CONFIG_INVALID',
        `start() called on a consumer that is ${this.state}`,
      );
    this.state = 'starting';
    await migrateConsumerSchema({
      databaseUrl: this.options.databaseUrl,
      schema: this.options.schema,
      migrationsDir: this.definition.migrationsDir,
    });
    await ensureDeadLetterTopic(this.rawOptions.kafka, this.options.deadLetterTopic);
    await this.admin.connect();
    await this.producer.connect();
    await this.consumer.connect();
    for (const topic of this.options.topics) await this.consumer.subscribe({ topic, fromBeginning: true });
    this.kept = await keepConsumerRunning(
      this.consumer,
      {
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: this.options.partitionsConsumedConcurrently,
        eachBatch: (payload) => this.handleBatch(payload),
      },
      {
        onRestart: ({ error, attempt, delayMs }) =>
          this.emit({ type: 'consumer-restart', attempt, delayMs, error }),
      },
    );
    this.purgeTimer = setInterval(() => void this.purgeDedup(), this.options.dedupPurgeIntervalMs);
    this.purgeTimer.unref();
    void this.purgeDedup();
    this.metricsTimer = setInterval(() => void this.refreshMetrics(), this.options.metricsRefreshIntervalMs);
    this.metricsTimer.unref();
    void this.refreshMetrics();
    this.state = 'running';
    this.emit({ type: 'started', consumer: this.options.consumerName, groupId: this.options.groupId });
  }

  /** Finishes the batch in hand (its transaction commits or rolls back), then disconnects everything. */
  async stop(): Promise<void> {
    if (this.state === 'stopped' || this.state === 'stopping') return;
    this.state = 'stopping';
    clearInterval(this.purgeTimer);
    clearInterval(this.metricsTimer);
    this.kept?.stop();
    await this.consumer.disconnect().catch(() => undefined);
    await this.producer.disconnect().catch(() => undefined);
    await this.admin.disconnect().catch(() => undefined);
    await this.pool.end().catch(() => undefined);
    this.joined = false;
    this.state = 'stopped';
    this.emit({ type: 'stopped' });
  }

  /** Ready = Postgres answers and this member has joined its group. */
  async ready(): Promise<ReadyReport> {
    let postgres: { ok: boolean; error?: string } = { ok: true };
    if (this.state === 'stopped') postgres = { ok: false, error: 'consumer stopped' };
    else {
      try {
        await this.pool.query('select 1');
      } catch (error) {
        postgres = { ok: false, error: error instanceof Error ? error.message : String(error) };
      }
    }
    const joined = this.joined && this.state === 'running';
    return {
      ok: postgres.ok && joined,
      details: { postgres, kafka: { joined, assignment: this.assignment } },
    };
  }

  private watchGroup(): void {
    const { GROUP_JOIN, REBALANCING, CRASH, DISCONNECT, STOP } = this.consumer.events;
    this.consumer.on(GROUP_JOIN, (event) => {
      this.generation += 1;
      this.positions.clear();
      this.joined = true;
      this.assignment = event.payload.memberAssignment;
      this.emit({ type: 'joined', assignment: this.assignment });
      void this.seekAssigned(this.generation, this.assignment);
    });
    this.consumer.on(REBALANCING, () => (this.joined = false));
    this.consumer.on(CRASH, () => (this.joined = false));
    this.consumer.on(DISCONNECT, () => (this.joined = false));
    this.consumer.on(STOP, () => (this.joined = false));
  }

  /**
   * Seeks every newly assigned partition to its stored offset. Needed even though batches check
   * their position: a partition whose Kafka position is at the end (e.g. after a rebuild reset the
   * stored offsets) would never deliver a batch to check.
   */
  private async seekAssigned(generation: number, assignment: Assignment): Promise<void> {
    for (
      let attempt = 1;
      generation === this.generation && this.state !== 'stopping' && this.state !== 'stopped';
      attempt++
    ) {
      try {
        for (const [topic, partitions] of Object.entries(assignment)) {
          for (const partition of partitions) {
            const key = partitionId(topic, partition);
            if (this.positions.has(key)) continue;
            const stored = await readStoredOffset(this.pool, this.options.schema, {
              consumer: this.options.consumerName,
              topic,
              partition,
            });
            // Postgres is the truth: nothing stored means "from the earliest offset", whatever Kafka committed.
            const target = stored ?? (await this.lowWatermark(topic, partition));
            // A batch may have settled this partition while we awaited; its position is newer.
            if (generation !== this.generation || this.positions.has(key)) continue;
            this.positions.set(key, stored);
            this.consumer.seek({ topic, partition, offset: target.toString() });
            this.emit({ type: 'seek', topic, partition, offset: target.toString(), reason: 'assignment' });
          }
        }
        return;
      } catch (error) {
        this.emit({ type: 'background-failure', task: 'assignment-seek', error });
        await sleep(backoffDelay(this.options.backoff, attempt));
      }
    }
  }

  private async lowWatermark(topic: string, partition: number): Promise<bigint> {
    try {
      const offsets = await this.admin.fetchTopicOffsets(topic);
      const found = offsets.find((o) => o.partition === partition);
      return BigInt(found?.low ?? '0');
    } catch (error) {
      throw new ConsumerError('CONSUMER_KAFKA_UNAVAILABLE', `could not read the watermarks of ${topic}`, {
        cause: error,
        details: { topic, partition },
      });
    }
  }

  /**
   * The stored offset a batch must compare-and-set against, or 'seeked' when the fetch position is
   * past it (the batch is dropped; the next fetch starts at the stored offset). A position behind
   * the stored offset needs no seek: those records are skipped.
   */
  private async positionFor(batch: Batch, key: string): Promise<{ expected: bigint | null } | 'seeked'> {
    if (this.positions.has(key)) return { expected: this.positions.get(key) ?? null };
    const { topic, partition } = batch;
    const stored = await readStoredOffset(this.pool, this.options.schema, {
      consumer: this.options.consumerName,
      topic,
      partition,
    });
    const target = stored ?? (await this.lowWatermark(topic, partition));
    if (this.positions.has(key)) return 'seeked';
    this.positions.set(key, stored);
    if (BigInt(batch.firstOffset() ?? '0') > target) {
      this.consumer.seek({ topic, partition, offset: target.toString() });
      this.emit({ type: 'seek', topic, partition, offset: target.toString(), reason: 'batch-start' });
      return 'seeked';
    }
    return { expected: stored };
  }

  private async handleBatch(payload: EachBatchPayload): Promise<void> {
    const { batch, isRunning, isStale, heartbeat, pause } = payload;
    if (batch.isEmpty()) return;
    const key = partitionId(batch.topic, batch.partition);
    let resume: (() => void) | undefined;
    try {
      for (let attempt = 1; isRunning() && !isStale(); attempt++) {
        const delayMs = backoffDelay(this.options.backoff, attempt);
        let reported = false;
        // A transient failure: counted and logged once (inside the batch's span when processing failed there).
        const report = (error: unknown): ConsumerError => {
          const failure = classifyError(error, 'storage');
          if (!failure.retryable || reported) return failure;
          reported = true;
          this.metrics.recordTransientFailure(failure.code);
          this.emit({
            type: 'transient-failure',
            topic: batch.topic,
            partition: batch.partition,
            attempt,
            delayMs,
            error: failure,
          });
          return failure;
        };
        try {
          const position = await this.positionFor(batch, key);
          if (position === 'seeked' || isStale()) return;
          const startedAt = performance.now();
          await this.processor.process(
            {
              topic: batch.topic,
              partition: batch.partition,
              messages: batch.messages,
              expected: position.expected,
              attempt,
            },
            {
              settle: (outcome) => this.settle(payload, key, outcome, performance.now() - startedAt),
              failed: (error) => void report(error),
            },
          );
          return;
        } catch (error) {
          const failure = report(error);
          if (!failure.retryable) throw failure;
          // Pause so the fetcher stops pulling this partition while we wait; nothing is skipped.
          resume ??= pause();
          await waitHeartbeating(delayMs, heartbeat, () => !isRunning() || isStale());
        }
      }
    } finally {
      resume?.();
    }
  }

  private async settle(
    payload: EachBatchPayload,
    key: string,
    outcome: BatchOutcome,
    durationMs: number,
  ): Promise<void> {
    const { batch, resolveOffset } = payload;
    const { topic, partition } = batch;
    const lastOffset = batch.messages[batch.messages.length - 1]!.offset;
    switch (outcome.kind) {
      case 'conflict':
        // Another member stored a different offset: forget ours, re-read it at the next batch.
        this.positions.delete(key);
        this.metrics.recordOffsetConflict(topic, partition);
        this.emit({
          type: 'offset-conflict',
          topic,
          partition,
          expected: outcome.expected?.toString() ?? null,
        });
        return;
      case 'nothing-new': {
        resolveOffset(lastOffset);
        this.metrics.recordSkipped(outcome.skipped);
        const stored = this.positions.get(key);
        this.emit({
          type: 'records-skipped',
          topic,
          partition,
          count: outcome.skipped,
          storedOffset: stored?.toString() ?? '',
        });
        return;
      }
      case 'committed': {
        this.positions.set(key, outcome.nextOffset);
        resolveOffset(lastOffset);
        const summary = {
          topic,
          partition,
          nextOffset: outcome.nextOffset.toString(),
          applied: outcome.applied,
          duplicates: outcome.duplicates,
          skipped: outcome.skipped,
          deadLettered: outcome.deadLetters.length,
          durationMs,
        };
        this.metrics.recordBatch({
          ...summary,
          lag: Number(BigInt(batch.highWatermark) - outcome.nextOffset),
        });
        if (outcome.skipped > 0) {
          this.emit({
            type: 'records-skipped',
            topic,
            partition,
            count: outcome.skipped,
            storedOffset: outcome.nextOffset.toString(),
          });
        }
        for (const dead of outcome.deadLetters) {
          this.metrics.recordDeadLetter(dead.error.code);
          this.emit({
            type: 'dead-lettered',
            origin: dead.origin,
            error: dead.error,
            deadLetterTopic: this.options.deadLetterTopic,
          });
        }
        this.emit({ type: 'batch-committed', ...summary });
        await this.commitToKafka(payload, outcome.nextOffset);
        return;
      }
    }
  }

  /** Advisory only: Postgres has the truth, this keeps Kafka's lag tooling meaningful. */
  private async commitToKafka(payload: EachBatchPayload, nextOffset: bigint): Promise<void> {
    const { topic, partition } = payload.batch;
    try {
      await payload.commitOffsetsIfNecessary({
        topics: [{ topic, partitions: [{ partition, offset: nextOffset.toString() }] }],
      });
    } catch (error) {
      this.emit({ type: 'kafka-commit-failed', topic, partition, error });
    }
  }

  /**
   * Lag of every partition of the input topics (high watermark minus the offset stored in Postgres, or minus the low
   * watermark when none is stored) and the dead-letter topic's size, read on a timer rather than after batches: a
   * consumer whose batch hangs or backs off for ever, or that lost its assignment, processes nothing, and its lag
   * must still grow on the dashboard. Every member reports every partition of the group (Postgres is the group's
   * truth), so the value survives rebalances and a dead member; with N members, aggregate with `max by`.
   */
  private async refreshMetrics(): Promise<void> {
    if (this.refreshingMetrics) return;
    this.refreshingMetrics = true;
    try {
      const stored = await readAllStoredOffsets(this.pool, this.options.schema, this.options.consumerName);
      for (const topic of this.options.topics) {
        for (const { partition, high, low } of await this.admin.fetchTopicOffsets(topic)) {
          const next = stored.get(partitionId(topic, partition)) ?? BigInt(low);
          this.metrics.setLag(topic, partition, Number(BigInt(high) - next));
        }
      }
      const dlq = this.options.deadLetterTopic;
      let records = 0n;
      for (const { high, low } of await this.admin.fetchTopicOffsets(dlq))
        records += BigInt(high) - BigInt(low);
      this.metrics.setDeadLetterTopicRecords(dlq, Number(records));
      if (this.metricsRefreshFailing) {
        this.metricsRefreshFailing = false;
        this.emit({ type: 'background-recovered', task: 'metrics-refresh' });
      }
    } catch (error) {
      // Reported once per outage (a refresh every few seconds would flood the log while Kafka is down).
      if (this.state === 'running' && !this.metricsRefreshFailing) {
        this.metricsRefreshFailing = true;
        this.emit({ type: 'background-failure', task: 'metrics-refresh', error });
      }
    } finally {
      this.refreshingMetrics = false;
    }
  }

  private async purgeDedup(): Promise<void> {
    try {
      const deleted = await purgeExpiredEventIds(
        this.pool,
        this.options.schema,
        this.options.consumerName,
        this.options.dedupRetentionMs,
      );
      this.emit({ type: 'dedup-purged', deleted });
    } catch (error) {
      this.emit({ type: 'background-failure', task: 'dedup-purge', error });
    }
  }
}

/** Waits in slices, heartbeating so the group does not evict this member while it backs off. */
async function waitHeartbeating(
  ms: number,
  heartbeat: () => Promise<void>,
  shouldStop: () => boolean,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!shouldStop()) {
    const left = deadline - Date.now();
    if (left <= 0) return;
    await sleep(Math.min(left, 500));
    await heartbeat();
  }
}

export function createPostgresConsumer<E>(
  definition: ConsumerDefinition<E>,
  options: PostgresConsumerOptions,
): PostgresConsumer<E> {
  return new PostgresConsumer(definition, options);
}
