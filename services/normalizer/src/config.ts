import { z } from 'zod';
import { NormalizerError } from './errors.js';
import { TOPICS } from '@livechat-pipeline/events';

export interface NormalizerConfig {
  readonly kafka: { readonly brokers: readonly string[]; readonly clientId: string; readonly replicationFactor: number };
  readonly registry: { readonly url: string };
  readonly groupId: string;
  readonly partitionsConcurrently: number;
  readonly rawTopic: string;
  readonly chatEventsTopic: { readonly name: string; readonly partitions: number };
  readonly deadLetterTopic: string;
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
  KAFKA_CLIENT_ID: name.default('livechat-normalizer'),
  KAFKA_REPLICATION_FACTOR: int(1, 10).default(1),
  SCHEMA_REGISTRY_URL: z.url('must be a URL').default('http://127.0.0.1:58081/apis/ccompat/v7'),
  NORMALIZER_GROUP_ID: name.default('livechat-normalizer'),
  NORMALIZER_PARTITIONS_CONCURRENTLY: int(1, 100).default(3),
  RAW_WEBHOOK_TOPIC: name.default(TOPICS.rawWebhook),
  CHAT_EVENTS_TOPIC: name.default(TOPICS.chatEvents),
  CHAT_EVENTS_TOPIC_PARTITIONS: int(1, 1000).default(6),
  NORMALIZER_DLQ_TOPIC: name.default(TOPICS.normalizerDeadLetters),
  NORMALIZER_HOST: name.default('127.0.0.1'),
  NORMALIZER_PORT: int(0, 65535).default(8090),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

/** Reads the normalizer's environment once; every problem is named in one error. */
export function loadNormalizerConfig(env: NodeJS.ProcessEnv): NormalizerConfig {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => `  ${issue.path.join('.')}: ${issue.message}`);
    throw new NormalizerError('NORMALIZER_BAD_CONFIG', `invalid normalizer configuration:\n${lines.join('\n')}`);
  }
  const e = parsed.data;
  return Object.freeze({
    kafka: { brokers: e.KAFKA_BROKERS, clientId: e.KAFKA_CLIENT_ID, replicationFactor: e.KAFKA_REPLICATION_FACTOR },
    registry: { url: e.SCHEMA_REGISTRY_URL },
    groupId: e.NORMALIZER_GROUP_ID,
    partitionsConcurrently: e.NORMALIZER_PARTITIONS_CONCURRENTLY,
    rawTopic: e.RAW_WEBHOOK_TOPIC,
    chatEventsTopic: { name: e.CHAT_EVENTS_TOPIC, partitions: e.CHAT_EVENTS_TOPIC_PARTITIONS },
    deadLetterTopic: e.NORMALIZER_DLQ_TOPIC,
    http: { host: e.NORMALIZER_HOST, port: e.NORMALIZER_PORT },
    logLevel: e.LOG_LEVEL,
  });
}
