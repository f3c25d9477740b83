import type { Logger } from 'pino';
import { errorForLog } from '../errors.js';
import type { SyncReport } from './sync.js';

/**
 * Runs the webhook sync after a connect without keeping the browser waiting: at most one run per process at a
 * time (a connect while one runs relies on it: the configuration it converges to is the same), and across
 * processes `pg_try_advisory_lock` (a sync already running elsewhere makes this one return at once). So a
 * burst of callbacks neither queues on the lock nor takes the small pool's connections.
 */
export class BackgroundSync {
  private running: Promise<void> | undefined;
  private closed = false;

  constructor(
    private readonly run: (tenantId: string) => Promise<SyncReport>,
    private readonly logger: Logger,
    private readonly onOutcome: (outcome: 'synced' | 'skipped' | 'failed') => void = () => undefined,
  ) {}

  /** Starts a sync for the client id, with this tenant's credentials, unless one is running. Never throws. */
  trigger(tenantId: string): void {
    if (this.closed || this.running !== undefined) return;
    // (a synchronous throw of `run` becomes a logged failure too, never the callback's error)
    this.running = Promise.resolve()
      .then(() => this.run(tenantId))
      .then(
        (report) => {
          const skipped = report.skipped === true;
          this.onOutcome(skipped ? 'skipped' : 'synced');
          this.logger.info(
            {
              tenant_id: tenantId,
              skipped,
              registered: report.registered.length,
              unregistered: report.unregistered.length,
            },
            skipped ? 'webhook sync already running elsewhere' : 'webhooks synced after connect',
          );
        },
        (err: unknown) => {
          this.onOutcome('failed');
          this.logger.warn(
            { tenant_id: tenantId, err: errorForLog(err) },
            'webhook sync after connect failed; retried at the next connect, or run `pnpm livechat webhooks sync`',
          );
        },
      )
      .finally(() => {
        this.running = undefined;
      });
  }

  /** The run in progress, if any (tests, shutdown). */
  idle(): Promise<void> {
    return this.running ?? Promise.resolve();
  }

  /** Starts nothing more; waits for the run in progress. */
  async close(): Promise<void> {
    this.closed = true;
    await this.idle();
  }
}
