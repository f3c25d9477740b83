import { IngestError } from './errors.js';

/**
 * Resolves with `work` or rejects with INGEST_DEADLINE_EXCEEDED at `deadlineAt` (a performance.now() time),
 * whichever comes first.
 */
export function withDeadline<T>(work: Promise<T>, deadlineAt: number): Promise<T> {
  const remaining = deadlineAt - performance.now();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new IngestError('INGEST_DEADLINE_EXCEEDED', 'Kafka did not acknowledge the write before the request deadline')),
      Math.max(0, remaining),
    );
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}
