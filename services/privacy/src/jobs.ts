import type pg from 'pg';
import type { Logger } from 'pino';
import {
  isPrivacyError,
  runRetentionErasure,
  sweepErasures,
  type ErasureDeps,
} from '@livechat-pipeline/privacy';
import type { PrivacyMetrics } from './metrics.js';

export type JobName = 'retention' | 'sweep';

/**
 * The advisory lock of each job: one instance of N runs it at a time (the others skip that round). A job whose lock
 * connection is lost stops between requests or batches (the batch in hand may overlap another instance's run:
 * erasures are idempotent).
 */
export const JOB_LOCKS: Readonly<Record<JobName, string>> = {
  retention: 'livechat-pipeline/privacy/retention',
  sweep: 'livechat-pipeline/privacy/sweep',
};

export interface JobOptions {
  readonly retentionDays: number | null;
  readonly retentionIntervalMs: number;
  readonly retentionBatchSize: number;
  readonly sweepIntervalMs: number;
  /** Erasures younger than this are not swept yet (PRIVACY_SWEEP_DELAY_MS). */
  readonly sweepAfterMs: number;
}

export type JobOutcome =
  | { readonly ran: true; readonly result: Record<string, number> }
  | { readonly ran: false; readonly reason: 'locked' };

/**
 * The privacy service's two periodic jobs, each under a Postgres session advisory lock taken with
 * pg_try_advisory_lock on its own connection: the retention job (erase chats past their tenant's days) and the
 * sweep (projections erased again once every cached key has expired). A failed run is logged and counted; the
 * next interval tries again.
 */
export class PrivacyJobs {
  private readonly timers = new Map<JobName, NodeJS.Timeout>();
  private readonly running = new Set<Promise<unknown>>();
  private stopped = false;
  /** The jobs of one instance run one at a time: each holds a lock connection and needs one more to work. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly deps: ErasureDeps,
    /** The key store's pool: the locks are taken there, where every instance meets. */
    private readonly lockPool: pg.Pool,
    private readonly options: JobOptions,
    private readonly metrics: PrivacyMetrics,
    private readonly logger: Logger,
  ) {}

  /** Runs both jobs now, then every interval. */
  start(): void {
    this.schedule('retention', 0);
    this.schedule('sweep', 0);
  }

  /** Runs one job once under its lock (after this instance's other job, if running); `locked` when another instance holds it. */
  runOnce(job: JobName): Promise<JobOutcome> {
    const run = this.queue.then(() => this.runLocked(job));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async runLocked(job: JobName): Promise<JobOutcome> {
    const client = await this.lockPool.connect();
    let lost: Error | undefined;
    // the session lock goes with the connection: the job stops between requests/batches once it is lost, so that
    // another instance that takes the lock does not run the same job alongside
    const lockLost = new AbortController();
    const onError = (error: Error): void => {
      lost ??= error;
      lockLost.abort();
    };
    client.on('error', onError);
    try {
      const { rows } = await client.query<{ locked: boolean }>(
        'select pg_try_advisory_lock(hashtext($1)) as locked',
        [JOB_LOCKS[job]],
      );
      if (rows[0]?.locked !== true) {
        this.metrics.jobSkipped.inc({ job });
        return { ran: false, reason: 'locked' };
      }
      try {
        return { ran: true, result: await this.work(job, lockLost.signal) };
      } finally {
        await client.query('select pg_advisory_unlock(hashtext($1))', [JOB_LOCKS[job]]).catch(() => {
          // the connection is gone, and the session's lock with it
        });
      }
    } finally {
      client.off('error', onError);
      client.release(lost);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    await Promise.allSettled([...this.running]);
  }

  private async work(job: JobName, signal: AbortSignal): Promise<Record<string, number>> {
    if (job === 'retention') {
      const done = await runRetentionErasure(this.deps, {
        defaultDays: this.options.retentionDays,
        batchSize: this.options.retentionBatchSize,
        onBatch: (_tenant, chatIds) => {
          this.metrics.erasures.inc({ kind: 'retention' });
          this.metrics.retentionChatsErased.inc(chatIds.length);
        },
        onFailure: (requestId, _tenant, error) => this.stepFailed(job, requestId, error),
        signal,
      });
      return done;
    }
    const done = await sweepErasures(this.deps, this.options.sweepAfterMs, {
      onFailure: (requestId, _tenant, error) => this.stepFailed(job, requestId, error),
      signal,
    });
    if (done.swept > 0) this.metrics.erasures.inc({ kind: 'sweep' }, done.swept);
    return done;
  }

  /** A request's projection step failed: counted and logged; the job goes on with the others, the sweep retries it. */
  private stepFailed(job: JobName, requestId: string, error: unknown): void {
    this.metrics.projectionStepFailures.inc({ job });
    this.logger.warn(
      {
        job,
        requestId,
        code: isPrivacyError(error) ? error.code : (error as { code?: unknown }).code,
        message: (error as Error).message,
      },
      `privacy ${job} job: an erasure's projection step failed; the others go on, the sweep retries it`,
    );
  }

  private schedule(job: JobName, delayMs: number): void {
    if (this.stopped) return;
    const timer = setTimeout(() => {
      const run = this.runOnce(job).then(
        (outcome) => {
          if (outcome.ran) {
            this.metrics.jobLastSuccess.set({ job }, Date.now() / 1000);
            this.logger.info({ job, ...outcome.result }, `privacy ${job} job done`);
          } else this.logger.debug({ job }, `privacy ${job} job skipped: another instance holds its lock`);
        },
        (error: unknown) => {
          this.metrics.jobFailures.inc({ job });
          this.logger.warn(
            {
              job,
              code: isPrivacyError(error) ? error.code : (error as { code?: unknown }).code,
              message: (error as Error).message,
            },
            `privacy ${job} job failed; the next run retries`,
          );
        },
      );
      this.running.add(run);
      void run.finally(() => {
        this.running.delete(run);
        this.schedule(
          job,
          job === 'retention' ? this.options.retentionIntervalMs : this.options.sweepIntervalMs,
        );
      });
    }, delayMs);
    timer.unref();
    this.timers.set(job, timer);
  }
}
