import { createServiceLogger } from '@livechat-pipeline/service-host';
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

/** The service's pino logger; `destination` lets tests capture every line. */
export function createLogger(
  config: Pick<IngestConfig, 'logLevel'>,
  destination?: DestinationStream,
): Logger {
  return createServiceLogger(
    { service: 'ingest', level: config.logLevel, redactPaths: REDACT_PATHS },
    destination,
  );
}
