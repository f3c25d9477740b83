import { pino } from 'pino';
import type { DestinationStream, Logger, LoggerOptions } from 'pino';
import type { LogLevel } from './env.js';
import { traceLogFields } from './tracing.js';

export interface ServiceLoggerOptions {
  /** The `service` field of every line. */
  readonly service: string;
  readonly level: LogLevel;
  /** Paths pino censors (`[redacted]`) wherever they appear: the service's second line of defence. */
  readonly redactPaths?: readonly string[];
  readonly serializers?: LoggerOptions['serializers'];
}

/** The service's pino logger (JSON lines); `destination` lets tests capture every line. */
export function createServiceLogger(options: ServiceLoggerOptions, destination?: DestinationStream): Logger {
  const pinoOptions: LoggerOptions = {
    level: options.level,
    base: { service: options.service },
    // trace_id / span_id on a line written inside a span (an empty object while tracing is off).
    mixin: traceLogFields,
    ...(options.redactPaths === undefined
      ? {}
      : { redact: { paths: [...options.redactPaths], censor: '[redacted]' } }),
    ...(options.serializers === undefined ? {} : { serializers: options.serializers }),
  };
  return destination === undefined ? pino(pinoOptions) : pino(pinoOptions, destination);
}
