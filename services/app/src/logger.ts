import { createServiceLogger } from '@livechat-pipeline/service-host';
import type { DestinationStream, Logger } from 'pino';
import type { AppConfig } from './config.js';

/**
 * Censored wherever they appear. Log lines are built from chosen fields only (method names, ids, statuses);
 * these paths are the second line of defence.
 */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'authorization',
  'access_token',
  'refresh_token',
  'secret_key',
  'client_secret',
  'code',
  'code_verifier',
  '*.access_token',
  '*.refresh_token',
  '*.secret_key',
  '*.client_secret',
  'body',
  '*.body',
] as const;

export function createAppLogger(
  config: Pick<AppConfig, 'logLevel'>,
  destination?: DestinationStream,
): Logger {
  return createServiceLogger(
    {
      service: 'app',
      level: config.logLevel,
      redactPaths: REDACT_PATHS,
      serializers: {
        // Only method and path: queries carry OAuth codes and state.
        req: (req: { method?: string; url?: string; id?: string }) => ({
          method: req.method,
          path: (req.url ?? '').split('?')[0],
          id: req.id,
        }),
      },
    },
    destination,
  );
}
