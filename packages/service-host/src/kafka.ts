import { Kafka, logLevel, type LogEntry, type RetryOptions } from 'kafkajs';
import type { Logger } from 'pino';
import { kafkaClusterFromEnv, type KafkaClientSecurity } from './cluster.js';

export interface ServiceKafkaOptions {
  readonly clientId: string;
  readonly brokers: readonly string[];
  readonly logger: Logger;
  /** kafkajs `connectionTimeout` (ms); kafkajs's default when unset. */
  readonly connectionTimeoutMs?: number;
  /** kafkajs `requestTimeout` (ms); kafkajs's default when unset. */
  readonly requestTimeoutMs?: number;
  /** The client's retry policy; default 200 ms … 5 s, 10 retries. */
  readonly retry?: RetryOptions;
  /**
   * TLS and SASL (see cluster.ts). Unset: read from the process environment (`KAFKA_SSL*`, `KAFKA_SASL_*`) and
   * checked, so every service connects to a secured cluster without code of its own; a service that read them
   * with its configuration passes them here.
   */
  readonly security?: KafkaClientSecurity;
}

/** A kafkajs client whose own log lines (warn and above) go to the service's pino logger. */
export function createServiceKafka(options: ServiceKafkaOptions): Kafka {
  const log = options.logger.child({ component: 'kafkajs' });
  const security = options.security ?? kafkaClusterFromEnv(process.env);
  if (typeof security.ssl === 'object' && security.ssl.rejectUnauthorized === false)
    log.warn(
      "KAFKA_SSL_REJECT_UNAUTHORIZED=false: the brokers' certificates are not verified (anyone on the path can pose as a broker)",
    );
  return new Kafka({
    clientId: options.clientId,
    brokers: [...options.brokers],
    ...(security.ssl === undefined ? {} : { ssl: security.ssl }),
    ...(security.sasl === undefined ? {} : { sasl: security.sasl }),
    ...(options.connectionTimeoutMs === undefined ? {} : { connectionTimeout: options.connectionTimeoutMs }),
    ...(options.requestTimeoutMs === undefined ? {} : { requestTimeout: options.requestTimeoutMs }),
    logLevel: logLevel.WARN,
    retry: options.retry ?? { initialRetryTime: 200, maxRetryTime: 5000, retries: 10 },
    logCreator: () => (entry: LogEntry) => {
      const fields = { namespace: entry.namespace, broker: entry.log['broker'], error: entry.log['error'] };
      if (entry.level <= logLevel.ERROR) log.error(fields, entry.log.message);
      else log.warn(fields, entry.log.message);
    },
  });
}
