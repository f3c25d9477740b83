import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';

export interface PrivacyMetrics {
  readonly registry: Registry;
  /** Erasures this process ran, by kind (`retention`; `sweep` counts the requests it swept). */
  readonly erasures: Counter<'kind'>;
  readonly retentionChatsErased: Counter;
  /** Runs of a job that failed (`retention`, `sweep`); the next interval tries again. */
  readonly jobFailures: Counter<'job'>;
  /** Erasures (sweep) or retention batches whose projection step failed; the job went on, the sweep retries them. */
  readonly projectionStepFailures: Counter<'job'>;
  /** Runs skipped because another instance held the job's lock. */
  readonly jobSkipped: Counter<'job'>;
  readonly jobLastSuccess: Gauge<'job'>;
}

export function createPrivacyMetrics(): PrivacyMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    erasures: new Counter({
      name: 'privacy_erasures_total',
      help: 'Erasures run by this process, by kind (retention batches; sweep: requests swept)',
      labelNames: ['kind'],
      registers: [registry],
    }),
    retentionChatsErased: new Counter({
      name: 'privacy_retention_chats_erased_total',
      help: 'Chats erased by the retention job (keys shredded and projections erased)',
      registers: [registry],
    }),
    jobFailures: new Counter({
      name: 'privacy_job_failures_total',
      help: 'Runs of a job (retention, sweep) that failed; the next interval retries',
      labelNames: ['job'],
      registers: [registry],
    }),
    projectionStepFailures: new Counter({
      name: 'privacy_projection_step_failures_total',
      help: 'Erasures (sweep) or retention batches whose projection step failed; the job went on, the sweep retries them',
      labelNames: ['job'],
      registers: [registry],
    }),
    jobSkipped: new Counter({
      name: 'privacy_job_skipped_total',
      help: 'Runs of a job skipped because another instance held its advisory lock',
      labelNames: ['job'],
      registers: [registry],
    }),
    jobLastSuccess: new Gauge({
      name: 'privacy_job_last_success_timestamp_seconds',
      help: 'When a job (retention, sweep) last finished without error, Unix seconds',
      labelNames: ['job'],
      registers: [registry],
    }),
  };
}
