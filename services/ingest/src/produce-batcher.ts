import { IngestError } from './errors.js';

/** A queued write that can be taken back while it waits (ProduceBatcher.enqueueCancellable). */
export interface CancellableSend {
  readonly done: Promise<void>;
  cancel(): boolean;
}

/** Sends one batch; resolves when the broker acknowledged every message of it. */
export type BatchSender<M> = (messages: readonly M[]) => Promise<void>;

export interface BatchReport {
  readonly records: number;
  readonly bytes: number;
  readonly durationMs: number;
  readonly ok: boolean;
}

export interface ProduceBatcherOptions<M> {
  readonly send: BatchSender<M>;
  /**
   * How long the first message of a batch waits for company before the batch goes out. 0 = until the end of the
   * current event-loop turn (setImmediate): the requests whose bodies arrived in the same I/O poll go together.
   */
  readonly lingerMs: number;
  readonly maxRecords: number;
  /** Byte cap of a batch; a single message larger than this goes out alone. */
  readonly maxBytes: number;
  readonly sizeOf: (message: M) => number;
  readonly now?: () => number;
  readonly onBatch?: (report: BatchReport) => void;
}

interface Entry<M> {
  /** One message, or a group that travels in one send (enqueueGroup). */
  readonly messages: readonly M[];
  readonly bytes: number;
  readonly deadlineAt: number;
  readonly resolve: () => void;
  readonly reject: (err: IngestError) => void;
}

/**
 * Collects concurrent produce requests into one send. At most one batch of a batcher is in flight (KafkaJS's
 * idempotent producer allows one in-flight request per broker anyway; the publisher runs one batcher per producer
 * of its pool); while it is, the next batch accumulates and goes out as soon as the first is acknowledged. A batch goes out when the linger time has passed, or at once when
 * it reached maxRecords or maxBytes. Each enqueue resolves when its batch was acknowledged and rejects when
 * the send failed (INGEST_KAFKA_UNAVAILABLE) or its deadline passed before it was sent (INGEST_DEADLINE_EXCEEDED;
 * such messages are not sent at all).
 */
export class ProduceBatcher<M> {
  private readonly queue: Entry<M>[] = [];
  private queuedBytes = 0;
  private timer: NodeJS.Timeout | NodeJS.Immediate | undefined;
  private inFlight: Promise<void> | undefined;
  private closed = false;
  private readonly now: () => number;
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly options: ProduceBatcherOptions<M>) {
    this.now = options.now ?? (() => performance.now());
  }

  /** Messages waiting for a batch (not counting the batch in flight). */
  get queued(): number {
    return this.queue.length;
  }

  get sending(): boolean {
    return this.inFlight !== undefined;
  }

  /** Queues a message; `deadlineAt` is on the same clock as `now` (default performance.now()). */
  enqueue(message: M, deadlineAt: number = Number.POSITIVE_INFINITY): Promise<void> {
    return this.enqueueGroup([message], deadlineAt);
  }

  /**
   * Queues messages that must travel in one send, never split across batches (the spool's drainer: if a send
   * failed after another of its records was written, the retry would put records behind later ones). A group
   * larger than maxRecords / maxBytes goes out alone.
   */
  enqueueGroup(messages: readonly M[], deadlineAt: number = Number.POSITIVE_INFINITY): Promise<void> {
    return this.add(messages, deadlineAt).done;
  }

  /**
   * Queues a message that may be taken back while it waits: `cancel()` removes it when it has not left yet (and
   * returns true; its `done` then rejects), else returns false (it is in flight or settled). The spool takes back
   * the waiting direct writes when it starts spooling, so none of them reaches Kafka after records spooled before.
   */
  enqueueCancellable(message: M, deadlineAt: number = Number.POSITIVE_INFINITY): CancellableSend {
    return this.add([message], deadlineAt);
  }

  private add(messages: readonly M[], deadlineAt: number): CancellableSend {
    if (this.closed) {
      return {
        done: Promise.reject(
          new IngestError('INGEST_SHUTTING_DOWN', 'ingest is shutting down; not accepting new writes'),
        ),
        cancel: () => false,
      };
    }
    let entry: Entry<M> | undefined;
    const done = new Promise<void>((resolve, reject) => {
      let bytes = 0;
      for (const m of messages) bytes += this.options.sizeOf(m);
      entry = { messages, bytes, deadlineAt, resolve, reject };
      this.queue.push(entry);
      this.queuedBytes += bytes;
      if (this.inFlight !== undefined) return; // goes out when the current batch is acknowledged
      if (this.queue.length >= this.options.maxRecords || this.queuedBytes >= this.options.maxBytes) {
        this.flush();
      } else if (this.timer === undefined) {
        this.timer =
          this.options.lingerMs > 0
            ? setTimeout(this.onLinger, this.options.lingerMs)
            : setImmediate(this.onLinger);
      }
    });
    return {
      done,
      cancel: () => {
        const i = entry === undefined ? -1 : this.queue.indexOf(entry);
        if (i < 0 || entry === undefined) return false;
        this.queue.splice(i, 1);
        this.queuedBytes -= entry.bytes;
        entry.reject(new IngestError('INGEST_DEADLINE_EXCEEDED', 'taken back before it was sent'));
        if (this.queue.length === 0 && this.inFlight === undefined) this.notifyIdle();
        return true;
      },
    };
  }

  /** Stops accepting messages and resolves once everything queued has been sent (or has failed). */
  async close(): Promise<void> {
    this.closed = true;
    this.flush();
    if (this.inFlight === undefined && this.queue.length === 0) return;
    await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  private readonly onLinger = (): void => {
    this.timer = undefined;
    this.flush();
  };

  private flush(): void {
    if (this.timer !== undefined) {
      if (this.options.lingerMs > 0) clearTimeout(this.timer as NodeJS.Timeout);
      else clearImmediate(this.timer as NodeJS.Immediate);
      this.timer = undefined;
    }
    if (this.inFlight !== undefined) return;
    const batch = this.take();
    if (batch.length === 0) {
      this.notifyIdle();
      return;
    }
    this.inFlight = this.sendBatch(batch).then((ok) => {
      this.inFlight = undefined;
      if (this.queue.length === 0) this.notifyIdle();
      else if (ok) this.flush();
      // After a failure the next batch waits a turn: the failed writes' handlers (the spool taking back what waits
      // behind them) run first.
      else setImmediate(() => (this.inFlight === undefined ? this.flush() : undefined));
    });
  }

  private take(): Entry<M>[] {
    const now = this.now();
    const batch: Entry<M>[] = [];
    let bytes = 0;
    let records = 0;
    while (this.queue.length > 0) {
      const next = this.queue[0];
      if (next === undefined) break;
      if (next.deadlineAt <= now) {
        this.queue.shift();
        this.queuedBytes -= next.bytes;
        next.reject(
          new IngestError(
            'INGEST_DEADLINE_EXCEEDED',
            'the request deadline passed before the write was sent',
          ),
        );
        continue;
      }
      if (batch.length > 0 && records + next.messages.length > this.options.maxRecords) break;
      if (batch.length > 0 && bytes + next.bytes > this.options.maxBytes) break;
      this.queue.shift();
      this.queuedBytes -= next.bytes;
      bytes += next.bytes;
      records += next.messages.length;
      batch.push(next);
    }
    return batch;
  }

  /** Sends one batch and settles its entries; true when it was acknowledged. */
  private async sendBatch(batch: Entry<M>[]): Promise<boolean> {
    const started = this.now();
    const bytes = batch.reduce((sum, e) => sum + e.bytes, 0);
    const records = batch.reduce((sum, e) => sum + e.messages.length, 0);
    try {
      await this.options.send(
        batch.length === 1 ? (batch[0]?.messages ?? []) : batch.flatMap((e) => e.messages),
      );
    } catch (cause) {
      this.options.onBatch?.({ records, bytes, durationMs: this.now() - started, ok: false });
      const err = new IngestError('INGEST_KAFKA_UNAVAILABLE', 'Kafka did not acknowledge the write', {
        cause,
      });
      for (const e of batch) e.reject(err);
      return false;
    }
    this.options.onBatch?.({ records, bytes, durationMs: this.now() - started, ok: true });
    for (const e of batch) e.resolve();
    return true;
  }

  private notifyIdle(): void {
    if (this.inFlight !== undefined || this.queue.length > 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }
}
