import type { ConfluentAvroSerde, RegisteredSchema } from '@livechat-pipeline/events';
import type { Logger } from 'pino';
import { IngestError } from '../errors.js';
import type { SpoolMetrics } from '../metrics.js';
import type { CancellableSend } from '../produce-batcher.js';
import { assertRecordFits } from '../publisher.js';
import type { EncodedRecord, RawWebhookPublisher } from '../publisher.js';
import type { KeyedRawRecord } from '../raw-record.js';
import type { DiskSpool } from './disk-spool.js';
import type { SpoolRecord } from './frame.js';

/** What the spooling publisher needs of the Kafka side (KafkaRawWebhookPublisher). */
export interface DirectPublisher {
  publishCancellable(record: KeyedRawRecord, deadlineAt: number): CancellableSend;
  publishEncoded(records: readonly EncodedRecord[], deadlineAt: number): Promise<void>;
}

export interface SpoolingPublisherOptions {
  readonly direct: DirectPublisher;
  readonly spool: DiskSpool;
  readonly serde: ConfluentAvroSerde;
  readonly schema: RegisteredSchema;
  /** How long a webhook waits for Kafka before it is spooled instead (INGEST_SPOOL_AFTER_MS). */
  readonly spoolAfterMs: number;
  /** The largest key + value the raw topic takes: a bigger record is refused, never spooled. */
  readonly maxRecordBytes: number;
  /** Drain batches: at most this many records / about this many bytes per round trip. */
  readonly drainMaxRecords: number;
  readonly drainMaxBytes: number;
  readonly logger?: Logger;
  readonly metrics?: SpoolMetrics;
  /** Microseconds since the epoch; default Date.now() × 1000. */
  readonly clockMicros?: () => number;
  /** Start in spooling mode for this reason (e.g. Kafka unreachable at start-up). */
  readonly spoolFromStart?: string;
  /**
   * INGEST_SPOOL_TRACE_HEADERS: spool a record's headers (the trace context) too, in frame version 2, which an
   * ingest older than this one cannot read. Off (the default for now): frames stay version 1 and a spooled
   * webhook's trace ends at the spool; version 2 is read either way.
   */
  readonly spoolTraceHeaders?: boolean;
}

export type PublishMode = 'direct' | 'spooling';

interface PendingDirect {
  readonly record: KeyedRawRecord;
  readonly send: CancellableSend;
  settled: boolean;
  /** Answers the request from the spool instead (once; a no-op when already answered). */
  readonly divert: (reason: string) => void;
}

const DRAIN_RETRY_MIN_MS = 100;
const DRAIN_RETRY_MAX_MS = 2000;
/** A drain send's own deadline: long enough for a slow broker, short enough to notice a dead one. */
const DRAIN_SEND_TIMEOUT_MS = 30_000;

/**
 * Kafka first, the on-disk spool when Kafka cannot acknowledge in time. In `direct` mode a webhook goes to Kafka
 * and is answered when Kafka acknowledges it; when Kafka fails it or has not acknowledged it after spoolAfterMs,
 * the publisher switches to `spooling` and the webhook is appended to the spool (answered once fsynced; the
 * Kafka attempt may still land: a duplicate with the same event_id). In `spooling` mode every new webhook goes to
 * the spool, so nothing acknowledged later overtakes what is spooled. The drainer produces the spool in order
 * through the same producers and switches back to `direct` only at a moment when the spool holds nothing and no
 * append is in progress (checked and switched in one synchronous step, so no webhook can slip between).
 */
export class SpoolingPublisher implements RawWebhookPublisher {
  private currentMode: PublishMode = 'direct';
  private closed = false;
  private wake: (() => void) | undefined;
  /** Whether the drainer waits for new records (an append wakes it) rather than backing off from Kafka. */
  private waitingForData = false;
  private readonly gaugeTimer: NodeJS.Timeout;
  private readonly drainer: Promise<void>;
  private readonly clockMicros: () => number;
  private drainedTotal = 0;
  /**
   * False after a start with Kafka unreachable until a drain send succeeds: until then the ingest keeps spooling
   * even with an empty spool (each webhook would otherwise wait INGEST_SPOOL_AFTER_MS for a Kafka known to be down).
   */
  private kafkaConfirmed: boolean;
  private highWaterRecords = 0;
  private highWaterBytes = 0;
  private acknowledging: Promise<void> = Promise.resolve();
  /** Direct writes waiting for Kafka's answer, in arrival order (a Set keeps insertion order). */
  private readonly pendingDirect = new Set<PendingDirect>();

  constructor(private readonly options: SpoolingPublisherOptions) {
    this.clockMicros = options.clockMicros ?? (() => Date.now() * 1000);
    this.kafkaConfirmed = options.spoolFromStart === undefined;
    if (options.spoolFromStart !== undefined) this.startSpooling(options.spoolFromStart);
    else if (!options.spool.idle) this.startSpooling('spool not empty at start-up');
    this.updateGauges();
    // The oldest record's age grows between events too.
    this.gaugeTimer = setInterval(() => this.updateGauges(), 1000);
    this.gaugeTimer.unref();
    this.drainer = this.drainLoop();
  }

  get mode(): PublishMode {
    return this.currentMode;
  }

  /** Spooling and the spool has (almost) no room left: webhooks are answered 503 INGEST_SPOOL_FULL. */
  get refusing(): boolean {
    return this.currentMode === 'spooling' && this.options.spool.nearlyFull;
  }

  /** Records drained to Kafka since start. */
  get drained(): number {
    return this.drainedTotal;
  }

  publish(record: KeyedRawRecord, deadlineAt: number): Promise<void> {
    if (this.closed) {
      return Promise.reject(new IngestError('INGEST_SHUTTING_DOWN', 'ingest is shutting down; retry'));
    }
    if (this.currentMode === 'spooling') return this.spoolRecord(record);
    const now = performance.now();
    const spoolAt = Math.min(now + this.options.spoolAfterMs, deadlineAt);
    let send: CancellableSend;
    try {
      // The batcher drops the write if it has not left by spoolAt (it is spooled instead).
      send = this.options.direct.publishCancellable(record, spoolAt);
    } catch (err) {
      return Promise.reject(err); // e.g. INGEST_RECORD_TOO_LARGE: refused, not spooled
    }
    return new Promise<void>((resolve, reject) => {
      const pending: PendingDirect = {
        record,
        send,
        settled: false,
        divert: (reason) => {
          if (!settle()) return;
          if (this.closed) {
            reject(new IngestError('INGEST_SHUTTING_DOWN', 'ingest is shutting down; retry'));
            return;
          }
          this.spoolRecord(record).then(resolve, reject);
          this.startSpooling(reason);
        },
      };
      const settle = (): boolean => {
        if (pending.settled) return false;
        pending.settled = true;
        clearTimeout(timer);
        this.pendingDirect.delete(pending);
        return true;
      };
      const timer = setTimeout(() => pending.divert('kafka_slow'), Math.max(0, spoolAt - now));
      this.pendingDirect.add(pending);
      send.done.then(
        () => {
          if (settle()) resolve();
        },
        (err: unknown) => {
          if (
            isPermanentRecordError(err) ||
            (err instanceof IngestError && err.code === 'INGEST_SHUTTING_DOWN')
          ) {
            // Kafka refuses this record for good (it would block the drain for ever), or we are stopping.
            if (settle()) reject(err);
            return;
          }
          pending.divert('kafka_error');
        },
      );
    });
  }

  /** Stops the drainer (a send in flight is abandoned: its records stay in the spool) and closes the spool. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.gaugeTimer);
    this.wake?.();
    // A position being recorded is finished first (it writes into the directory, whose lock close() releases).
    await this.acknowledging;
    await this.options.spool.close();
  }

  /** Waits until the drainer loop has ended (after close()); a send it abandoned may still be settling. */
  async drainerStopped(): Promise<void> {
    await this.drainer;
  }

  private spoolRecord(record: KeyedRawRecord): Promise<void> {
    const spooledAtMicros = this.clockMicros();
    let appended: Promise<void>;
    try {
      const value = this.options.serde.encode(this.options.schema, {
        ...record.value,
        spooled_at: spooledAtMicros,
      });
      const key = Buffer.from(record.key, 'utf8');
      // Never spool what Kafka will refuse for good (headers counted: the direct path would send them).
      assertRecordFits(key, value, this.options.maxRecordBytes, record.headers);
      // With INGEST_SPOOL_TRACE_HEADERS=true the headers (the trace context) are spooled too, so a drained record
      // continues the webhook's trace; otherwise the frame stays version 1, readable by an older ingest (rollback).
      appended = this.options.spool.append(
        record.headers === undefined || this.options.spoolTraceHeaders !== true
          ? { key, value, spooledAtMicros }
          : { key, value, spooledAtMicros, headers: record.headers },
      );
    } catch (err) {
      return Promise.reject(err);
    }
    return appended.then(
      () => {
        this.options.metrics?.appendedRecords.inc();
        this.updateGauges();
        if (this.waitingForData) this.wake?.();
      },
      (err: unknown) => {
        if (err instanceof IngestError) {
          if (err.code === 'INGEST_SPOOL_FULL') this.options.metrics?.refused.inc({ reason: 'full' });
          else if (err.code === 'INGEST_SPOOL_UNAVAILABLE')
            this.options.metrics?.refused.inc({ reason: 'unavailable' });
        }
        throw err;
      },
    );
  }

  /**
   * From now on every webhook goes to the spool, and so does every direct write still waiting for its answer, in
   * the order they arrived: one still queued in a batcher is taken back first (so it never reaches Kafka after
   * records spooled before it), one already on the wire is spooled too (its direct copy, if it lands, lands before
   * anything drained from the spool). So no webhook answered later reaches Kafka before one answered earlier.
   */
  private startSpooling(reason: string): void {
    if (this.currentMode === 'spooling') return;
    this.currentMode = 'spooling';
    for (const pending of [...this.pendingDirect]) {
      pending.send.cancel();
      pending.divert(reason);
    }
    this.options.metrics?.spooling.set(1);
    this.options.logger?.warn(
      { reason, spool_records: this.options.spool.records, spool_bytes: this.options.spool.bytes },
      'spooling started: new webhooks go to the on-disk spool until it is drained to Kafka',
    );
    this.wake?.();
  }

  private updateGauges(): void {
    const metrics = this.options.metrics;
    if (metrics === undefined) return;
    const spool = this.options.spool;
    metrics.bytes.set(spool.bytes);
    metrics.records.set(spool.records);
    this.highWaterRecords = Math.max(this.highWaterRecords, spool.records);
    this.highWaterBytes = Math.max(this.highWaterBytes, spool.bytes);
    metrics.highWaterRecords.set(this.highWaterRecords);
    metrics.highWaterBytes.set(this.highWaterBytes);
    const oldest = spool.oldestSpooledAtMicros;
    metrics.oldestRecordAge.set(oldest === undefined ? 0 : Math.max(0, (this.clockMicros() - oldest) / 1e6));
  }

  /** Waits `ms`, or less when woken: by close() and startSpooling() always, by an append when `forData`. */
  private sleep(ms: number, forData = false): Promise<void> {
    this.waitingForData = forData;
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wake = undefined;
        this.waitingForData = false;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wake = done;
    });
  }

  /**
   * Sends records one at a time; one Kafka refuses for good is written to the spool directory's `rejected/` folder
   * and counted (ingest_spool_rejected_records_total, an error line) instead of blocking the drain for ever. A
   * transient failure throws (the caller retries from the acknowledged position).
   */
  private async drainOneByOne(records: readonly SpoolRecord[]): Promise<void> {
    for (const record of records) {
      try {
        await this.options.direct.publishEncoded([record], performance.now() + DRAIN_SEND_TIMEOUT_MS);
      } catch (err) {
        if (!isPermanentRecordError(err)) throw err;
        const file = await this.options.spool.setAside(record);
        this.options.metrics?.rejected.inc();
        this.options.logger?.error(
          { err: describe(err), file, bytes: record.key.length + record.value.length },
          'spool drain: Kafka refuses a spooled record for good; set aside (not on the raw topic)',
        );
      }
    }
  }

  private async drainLoop(): Promise<void> {
    const { spool, logger } = this.options;
    let retryMs = DRAIN_RETRY_MIN_MS;
    let spoolingSince = performance.now();
    let drainedThisEpisode = 0;
    while (!this.closed) {
      if (this.currentMode === 'direct') {
        await this.sleep(60_000);
        spoolingSince = performance.now();
        drainedThisEpisode = 0;
        continue;
      }
      let batch;
      try {
        batch = await spool.read(this.options.drainMaxRecords, this.options.drainMaxBytes);
      } catch (err) {
        logger?.error({ err: describe(err) }, 'spool read failed; retrying');
        await this.sleep(DRAIN_RETRY_MAX_MS);
        continue;
      }
      if (this.closed) break;
      if (batch.records.length === 0) {
        // The switch back: nothing left and nothing being appended, checked and done in this one step.
        if (this.kafkaConfirmed && spool.release()) {
          this.currentMode = 'direct';
          this.options.metrics?.spooling.set(0);
          this.updateGauges();
          logger?.info(
            {
              drained_records: drainedThisEpisode,
              spooling_ms: Math.round(performance.now() - spoolingSince),
            },
            'spool drained: webhooks go to Kafka directly again',
          );
          continue;
        }
        // An append is being committed (read it once it is), or Kafka is not confirmed yet (wait for records).
        await this.sleep(this.kafkaConfirmed ? DRAIN_RETRY_MIN_MS : DRAIN_RETRY_MAX_MS, true);
        continue;
      }
      try {
        try {
          await this.options.direct.publishEncoded(batch.records, performance.now() + DRAIN_SEND_TIMEOUT_MS);
        } catch (err) {
          if (!isPermanentRecordError(err)) throw err;
          // Some record of the batch is refused for good: one by one, in order, setting aside what is refused.
          await this.drainOneByOne(batch.records);
        }
      } catch (err) {
        if (this.closed) break;
        logger?.debug(
          { err: describe(err), retry_ms: retryMs },
          'spool drain: Kafka did not acknowledge; retrying',
        );
        await this.sleep(retryMs);
        retryMs = Math.min(retryMs * 2, DRAIN_RETRY_MAX_MS);
        continue;
      }
      retryMs = DRAIN_RETRY_MIN_MS;
      this.kafkaConfirmed = true;
      if (this.closed) break; // produced but not recorded: re-sent at the next start (duplicates are fine)
      this.acknowledging = spool.acknowledge(batch.next, batch.records.length).catch((err: unknown) => {
        logger?.error({ err: describe(err) }, 'spool drain: could not record the drained position');
      });
      await this.acknowledging;
      this.drainedTotal += batch.records.length;
      drainedThisEpisode += batch.records.length;
      this.options.metrics?.drainedRecords.inc(batch.records.length);
      this.updateGauges();
    }
  }
}

function describe(err: unknown): Record<string, string> {
  if (err instanceof IngestError) {
    const cause =
      err.cause instanceof Error ? `${err.cause.name}: ${err.cause.message}`.slice(0, 300) : undefined;
    return { code: err.code, message: err.message, ...(cause === undefined ? {} : { cause }) };
  }
  return { message: err instanceof Error ? err.message.slice(0, 300) : String(err).slice(0, 300) };
}

/** Kafka error types that refuse a record for good: retrying it (or spooling it) can never succeed. */
const PERMANENT_RECORD_ERRORS = new Set([
  'MESSAGE_TOO_LARGE',
  'RECORD_LIST_TOO_LARGE',
  'INVALID_RECORD',
  'CORRUPT_MESSAGE',
]);

/** Whether `err` (or an error in its cause chain, e.g. the batcher's INGEST_KAFKA_UNAVAILABLE) is one of those. */
export function isPermanentRecordError(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e !== undefined && e !== null && depth < 8; depth++) {
    const { type, retriable, cause, originalError } = e as {
      type?: unknown;
      retriable?: unknown;
      cause?: unknown;
      originalError?: unknown;
    };
    if (typeof type === 'string' && PERMANENT_RECORD_ERRORS.has(type) && retriable === false) return true;
    if (e instanceof IngestError && e.code === 'INGEST_RECORD_TOO_LARGE') return true;
    e = cause ?? originalError;
  }
  return false;
}
