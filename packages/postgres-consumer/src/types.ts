import type { KafkaMessage } from 'kafkajs';
import type { QueryResult, QueryResultRow } from 'pg';
import type { ConsumerError } from './errors.js';

/**
 * The transaction a handler writes in. The runtime owns BEGIN/COMMIT: the handler's writes, the
 * dedup records and the offsets commit together, so a handler must never commit or roll back.
 * The connection's search_path starts with the consumer's schema, so unqualified names resolve there.
 */
export interface ConsumerTransaction {
  readonly schema: string;
  query<R extends QueryResultRow = QueryResultRow>(
    text: string,
    values?: readonly unknown[],
  ): Promise<QueryResult<R>>;
}

/** Where a record came from. */
export interface RecordOrigin {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
}

/** Applies a batch of new (deduplicated, decoded) events inside the runtime's transaction. */
export type EventHandler<E> = (events: readonly E[], tx: ConsumerTransaction) => Promise<void>;

/** What a consumer declares; everything else (connections, tuning) is in PostgresConsumerOptions. */
export interface ConsumerDefinition<E> {
  /** Stable name: keys offsets and dedup records, default group id and dead-letter topic. */
  readonly name: string;
  readonly topics: readonly string[];
  /** Postgres schema of the consumer's tables and bookkeeping; default: the name with `[^a-z0-9_]` -> `_`. */
  readonly schema?: string;
  /** Directory of node-pg-migrate migrations (`.sql` files, applied in name order inside `schema`). */
  readonly migrationsDir?: string;
  /** Tables a rebuild truncates; default: every table in the schema except the runtime's own. */
  readonly tables?: readonly string[];
  /** Bytes -> event. Throw for an undecodable value (a permanent fault unless the error says `retryable: true`). */
  readonly decode: (message: KafkaMessage, origin: RecordOrigin) => Promise<E>;
  /** The id deduplication is keyed by (LiveChat redelivers the same event under the same id). */
  readonly eventId: (event: E) => string;
  readonly handle: EventHandler<E>;
}

/** Something that can run a query: a pool, a client, a transaction. */
export interface Queryable {
  query<R extends QueryResultRow = QueryResultRow>(text: string, values?: unknown[]): Promise<QueryResult<R>>;
}

/** Where a batch left a partition, as reported by RuntimeEvent 'batch-committed'. */
export interface BatchSummary {
  readonly topic: string;
  readonly partition: number;
  readonly nextOffset: string;
  readonly applied: number;
  readonly duplicates: number;
  readonly skipped: number;
  readonly deadLettered: number;
  readonly durationMs: number;
}

/** What the runtime reports instead of logging; services map these to their logger. */
export type RuntimeEvent =
  | { readonly type: 'started'; readonly consumer: string; readonly groupId: string }
  | { readonly type: 'joined'; readonly assignment: Readonly<Record<string, readonly number[]>> }
  | {
      readonly type: 'seek';
      readonly topic: string;
      readonly partition: number;
      readonly offset: string;
      readonly reason: 'assignment' | 'batch-start';
    }
  | ({ readonly type: 'batch-committed' } & BatchSummary)
  | {
      readonly type: 'records-skipped';
      readonly topic: string;
      readonly partition: number;
      readonly count: number;
      readonly storedOffset: string;
    }
  | {
      readonly type: 'offset-conflict';
      readonly topic: string;
      readonly partition: number;
      readonly expected: string | null;
    }
  | {
      readonly type: 'transient-failure';
      readonly topic: string;
      readonly partition: number;
      readonly attempt: number;
      readonly delayMs: number;
      readonly error: ConsumerError;
    }
  | {
      readonly type: 'dead-lettered';
      readonly origin: RecordOrigin;
      readonly error: ConsumerError;
      readonly deadLetterTopic: string;
    }
  | {
      readonly type: 'kafka-commit-failed';
      readonly topic: string;
      readonly partition: number;
      readonly error: unknown;
    }
  | { readonly type: 'dedup-purged'; readonly deleted: number }
  | {
      readonly type: 'background-failure';
      readonly task: 'dedup-purge' | 'assignment-seek' | 'postgres-pool' | 'metrics-refresh';
      readonly error: unknown;
    }
  /** A background task whose failure was reported works again (the metrics refresh reports each outage once). */
  | { readonly type: 'background-recovered'; readonly task: 'metrics-refresh' }
  | {
      /** kafkajs gave up on the consumer (a non-retriable crash); it is started again after `delayMs`. */
      readonly type: 'consumer-restart';
      readonly attempt: number;
      readonly delayMs: number;
      readonly error: Error;
    }
  | { readonly type: 'stopped' };

export interface ReadyReport {
  readonly ok: boolean;
  readonly details: {
    readonly postgres: { readonly ok: boolean; readonly error?: string };
    readonly kafka: {
      readonly joined: boolean;
      readonly assignment: Readonly<Record<string, readonly number[]>>;
    };
  };
}
