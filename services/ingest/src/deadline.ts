import { IngestError } from './errors.js';

/**
 * Resolves with `work` or rejects with INGEST_DEADLINE_EXCEEDED at `deadlineAt` (a performance.now() time),
 * whichever comes first.
 */
export function withDeadline<T>(
  work: Promise<T>,
  deadlineAt: number,
  message = 'Kafka did not acknowledge the write before the request deadline',
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new IngestError('INGEST_DEADLINE_EXCEEDED', message)),
      Math.max(0, deadlineAt - performance.now()),
    );
    work.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}
