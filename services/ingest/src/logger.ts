import { createServiceLogger } from '@livechat-pipeline/service-host';
import { destination as pinoDestination } from 'pino';
import type { DestinationStream, Logger } from 'pino';
import type { IngestConfig } from './config.js';

/**
 * Paths pino censors wherever they appear in a log line. Bodies are never logged in the first place; these are
 * the second line of defence (Authorization header, the v2 token, the v3 secret_key).
 */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'headers.cookie',
  'authorization',
  'body',
  'req.body',
  'secret_key',
  'token',
  '*.secret_key',
  '*.token',
  '*.body',
] as const;

/**
 * The service's pino logger; `destination` lets tests capture every line. By default it writes to stdout
 * asynchronously: at info there is one line per accepted webhook, and a synchronous write(2) per line cost the
 * ingest measurable CPU at peak (README, Benchmark). Lines written while a write is in flight go out together
 * in the next one (nothing waits for a buffer to fill, so a quiet ingest's lines are not delayed), and pino
 * flushes what is left synchronously when the process exits.
 */
export function createLogger(
  config: Pick<IngestConfig, 'logLevel'>,
  destination: DestinationStream = pinoDestination({ dest: 1, sync: false }),
): Logger {
  return createServiceLogger(
    { service: 'ingest', level: config.logLevel, redactPaths: REDACT_PATHS },
    destination,
  );
}
