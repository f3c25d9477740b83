import { z } from 'zod';
import { TOPICS } from '@livechat-pipeline/events';

export class TranscriptsConfigError extends Error {
  readonly code = 'TRANSCRIPTS_BAD_CONFIG';
}

export interface TranscriptsConfig {
  readonly kafka: { readonly brokers: readonly string[]; readonly clientId: string; readonly replicationFactor: number };
  readonly registry: { readonly url: string };
  readonly databaseUrl: string;
  readonly chatEventsTopic: { readonly name: string; readonly partitions: number };
  readonly consumerName: string;
  readonly schema: string;
  /** Throughput knobs of the consumer runtime (see the README). */
  readonly consumer: { readonly partitionsConcurrently: number; readonly fetchMaxBytes: number; readonly poolSize: number };
  readonly http: { readonly host: string; readonly port: number };
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
}

const int = (min: number, max: number) =>
  z.string().trim().regex(/^\d+$/, 'must be an integer').transform(Number).pipe(z.number().int().min(min).max(max));
const name = z.string().trim().min(1, 'must not be empty');

const schema = z.object({
  KAFKA_BROKERS: z
    .string()
    .default('127.0.0.1:59092')
    .transform((s) => s.split(',').map((b) => b.trim()).filter(Boolean))
    .pipe(z.array(z.string().regex(/^[^:\s]+:\d+$/, 'each broker must be host:port')).min(1, 'needs at least one broker')),
  KAFKA_CLIENT_ID: name.default('livechat-transcripts'),
  KAFKA_REPLICATION_FACTOR: int(1, 10).default(1),
  SCHEMA_REGISTRY_URL: z.url('must be a URL').default('http://127.0.0.1:58081/apis/ccompat/v7'),
  DATABASE_URL: z
    .string()
    .default('postgres://postgres:postgres@127.0.0.1:55432/postgres')
    .refine((u) => /^postgres(ql)?:\/\//.test(u), 'must be a postgres:// URL'),
  CHAT_EVENTS_TOPIC: name.default(TOPICS.chatEvents),
  CHAT_EVENTS_TOPIC_PARTITIONS: int(1, 1000).default(6),
  TRANSCRIPTS_CONSUMER_NAME: name.default('transcripts'),
  TRANSCRIPTS_SCHEMA: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, 'must be a lower-case Postgres identifier').default('transcripts'),
  TRANSCRIPTS_PARTITIONS_CONCURRENTLY: int(1, 100).default(3),
  TRANSCRIPTS_FETCH_MAX_BYTES: int(65_536, 64 * 1024 * 1024).default(4 * 1024 * 1024),
  TRANSCRIPTS_POOL_SIZE: int(1, 100).default(6),
  TRANSCRIPTS_HOST: name.default('127.0.0.1'),
  TRANSCRIPTS_PORT: int(0, 65535).default(8091),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export function loadTranscriptsConfig(env: NodeJS.ProcessEnv): TranscriptsConfig {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => `  ${issue.path.join('.')}: ${issue.message}`);
    throw new TranscriptsConfigError(`invalid transcripts configuration:\n${lines.join('\n')}`);
  }
  const e = parsed.data;
  return Object.freeze({
    kafka: { brokers: e.KAFKA_BROKERS, clientId: e.KAFKA_CLIENT_ID, replicationFactor: e.KAFKA_REPLICATION_FACTOR },
    registry: { url: e.SCHEMA_REGISTRY_URL },
    databaseUrl: e.DATABASE_URL,
    chatEventsTopic: { name: e.CHAT_EVENTS_TOPIC, partitions: e.CHAT_EVENTS_TOPIC_PARTITIONS },
    consumerName: e.TRANSCRIPTS_CONSUMER_NAME,
    schema: e.TRANSCRIPTS_SCHEMA,
    consumer: {
      partitionsConcurrently: e.TRANSCRIPTS_PARTITIONS_CONCURRENTLY,
      fetchMaxBytes: e.TRANSCRIPTS_FETCH_MAX_BYTES,
      poolSize: e.TRANSCRIPTS_POOL_SIZE,
    },
    http: { host: e.TRANSCRIPTS_HOST, port: e.TRANSCRIPTS_PORT },
    logLevel: e.LOG_LEVEL,
  });
}
