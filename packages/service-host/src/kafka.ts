import { Kafka, logLevel, type LogEntry } from 'kafkajs';
import type { Logger } from 'pino';

/** A kafkajs client whose own log lines (warn and above) go to the service's pino logger. */
export function createServiceKafka(options: { clientId: string; brokers: readonly string[]; logger: Logger }): Kafka {
  const log = options.logger.child({ component: 'kafkajs' });
  return new Kafka({
    clientId: options.clientId,
    brokers: [...options.brokers],
    logLevel: logLevel.WARN,
    retry: { initialRetryTime: 200, maxRetryTime: 5000, retries: 10 },
    logCreator: () => (entry: LogEntry) => {
      const fields = { namespace: entry.namespace, error: entry.log['error'] };
      if (entry.level <= logLevel.ERROR) log.error(fields, entry.log.message);
      else log.warn(fields, entry.log.message);
    },
  });
}
