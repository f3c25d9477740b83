import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import type { SASLOptions } from 'kafkajs';
import { z } from 'zod';
import {
  ServiceConfigError,
  boolVar,
  brokersVar,
  intVar,
  logLevelVar,
  nameVar,
  parseSchemaEnv,
  postgresTlsEnv,
  presentEnv,
} from './env.js';

/**
 * A real cluster's Kafka settings, shared by every service: TLS, SASL, and the replication of the topics the
 * services create. Variable syntax is checked with the service's own configuration (they are part of
 * `connectionEnv`); `kafkaClusterFromEnv` adds what needs several variables or the file system (files readable,
 * username with password, `min.insync.replicas` against the replication factor) and is what
 * `createServiceKafka` applies, so a service gets them without code of its own.
 */

export const SASL_MECHANISMS = ['plain', 'scram-sha-256', 'scram-sha-512'] as const;
export type SaslMechanism = (typeof SASL_MECHANISMS)[number];

const pathVar = () => z.string().trim().min(1, 'must be a file path');

/** The variables (field by field); `connectionEnv` includes them. */
export const kafkaClusterEnv = {
  KAFKA_REPLICATION_FACTOR: intVar(1, 16).default(1),
  KAFKA_MIN_INSYNC_REPLICAS: intVar(1, 16).optional(),
  KAFKA_ALLOW_SINGLE_INSYNC_REPLICA: boolVar({ aliases: true }).default(false),
  KAFKA_SSL: boolVar({ aliases: true }).default(false),
  KAFKA_SSL_CA_FILE: pathVar().optional(),
  KAFKA_SSL_CERT_FILE: pathVar().optional(),
  KAFKA_SSL_KEY_FILE: pathVar().optional(),
  KAFKA_SSL_KEY_PASSWORD: z.string().optional(),
  KAFKA_SSL_REJECT_UNAUTHORIZED: boolVar({ aliases: true }).default(true),
  KAFKA_SASL_MECHANISM: z
    .string()
    .trim()
    .toLowerCase()
    .pipe(z.enum(SASL_MECHANISMS, { message: `must be one of ${SASL_MECHANISMS.join(', ')}` }))
    .optional(),
  KAFKA_SASL_USERNAME: z.string().trim().min(1).optional(),
  KAFKA_SASL_PASSWORD: z.string().optional(),
  KAFKA_ALLOW_SASL_PLAIN_WITHOUT_SSL: boolVar({ aliases: true }).default(false),
};

/**
 * The connection settings every service shares, with defaults for the local stack: brokers, client id, registry,
 * log level, the cluster settings above and `PGSSLMODE`.
 */
export const connectionEnv = (clientId: string) => ({
  KAFKA_BROKERS: brokersVar().default(['127.0.0.1:59092']),
  KAFKA_CLIENT_ID: nameVar.default(clientId),
  ...kafkaClusterEnv,
  ...postgresTlsEnv,
  SCHEMA_REGISTRY_URL: z.url('must be a URL').default('http://127.0.0.1:58081/apis/ccompat/v7'),
  LOG_LEVEL: logLevelVar(),
});

const clusterSchema = z.object(kafkaClusterEnv);

/**
 * Parses the environment with a schema (blank = unset) and names every bad variable in one ServiceConfigError.
 * When the schema has the cluster settings (built with `connectionEnv`), the checks that need several of them or
 * the file system (`readKafkaCluster`) are in the same message.
 */
export function parseEnv<S extends z.ZodType>(schema: S, env: NodeJS.ProcessEnv, what: string): z.output<S> {
  const withCluster = schema instanceof z.ZodObject && 'KAFKA_SASL_MECHANISM' in schema.shape;
  const cluster = withCluster ? readKafkaCluster(env) : undefined;
  return parseSchemaEnv(schema, env, what, cluster === undefined || cluster.ok ? [] : cluster.problems);
}
type ClusterVars = z.output<typeof clusterSchema>;

/** What a kafkajs client needs to reach the cluster (none of it is ever logged). */
export interface KafkaClientSecurity {
  readonly ssl?: ConnectionOptions | true;
  readonly sasl?: SASLOptions;
}

export interface KafkaClusterSettings extends KafkaClientSecurity {
  /** Replication of the topics the services create (`KAFKA_REPLICATION_FACTOR`). */
  readonly replicationFactor: number;
  /**
   * `min.insync.replicas` of the topics the services create: `KAFKA_MIN_INSYNC_REPLICAS`, else
   * min(replication factor, 2). Every producer of the pipeline writes with acks=all.
   */
  readonly minInsyncReplicas: number;
  /** `KAFKA_ALLOW_SINGLE_INSYNC_REPLICA`: a single in-sync copy (or one replica on several brokers) accepted. */
  readonly allowSingleInsyncReplica: boolean;
}

/**
 * The default `min.insync.replicas` for a replication factor: 2 when replicated, so acks=all means two copies
 * (the rule of `defaultMinInsyncReplicas` in @livechat-pipeline/events, which creates the topics).
 */
function defaultMinInsyncReplicas(replicationFactor: number): number {
  return Math.min(replicationFactor, 2);
}

/**
 * Reads and checks the cluster settings from the environment (blank = unset). Throws ServiceConfigError
 * (SERVICE_BAD_CONFIG) naming every bad variable; secrets are never part of a message.
 */
export function kafkaClusterFromEnv(env: NodeJS.ProcessEnv): KafkaClusterSettings {
  const result = readKafkaCluster(env);
  if (!result.ok) throw clusterError(result.problems);
  return result.settings;
}

/**
 * The same checks, returned instead of thrown (one `NAME: message` line per problem), for a service that
 * collects its configuration problems into one error of its own (the ingest).
 */
export function readKafkaCluster(
  env: NodeJS.ProcessEnv,
): { ok: true; settings: KafkaClusterSettings } | { ok: false; problems: string[] } {
  const parsed = clusterSchema.safeParse(presentEnv(env, Object.keys(kafkaClusterEnv)));
  if (!parsed.success) {
    return {
      ok: false,
      problems: parsed.error.issues.map((i) => `${String(i.path[0] ?? '?')}: ${i.message}`),
    };
  }
  const { settings, problems } = resolveCluster(parsed.data);
  return problems.length > 0 ? { ok: false, problems } : { ok: true, settings };
}

function clusterError(problems: readonly string[]): ServiceConfigError {
  return new ServiceConfigError(
    `invalid Kafka cluster configuration:\n${problems.map((p) => `  ${p}`).join('\n')}`,
  );
}

function resolveCluster(v: ClusterVars): { settings: KafkaClusterSettings; problems: string[] } {
  const problems: string[] = [];
  const readPem = (name: keyof ClusterVars, file: string | undefined): string | undefined => {
    if (file === undefined) return undefined;
    try {
      const text = readFileSync(file, 'utf8');
      if (!text.includes('-----BEGIN ')) {
        problems.push(`${name}: ${file} is not a PEM file (no -----BEGIN line)`);
        return undefined;
      }
      return text;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? 'error';
      problems.push(`${name}: cannot read ${file} (${code})`);
      return undefined;
    }
  };

  const tlsFiles = ['KAFKA_SSL_CA_FILE', 'KAFKA_SSL_CERT_FILE', 'KAFKA_SSL_KEY_FILE'] as const;
  if (!v.KAFKA_SSL) {
    for (const name of tlsFiles) {
      if (v[name] !== undefined) problems.push(`${name}: is set but KAFKA_SSL is not true`);
    }
    if (v.KAFKA_SSL_KEY_PASSWORD !== undefined)
      problems.push('KAFKA_SSL_KEY_PASSWORD: is set but KAFKA_SSL is not true');
  }
  if ((v.KAFKA_SSL_CERT_FILE === undefined) !== (v.KAFKA_SSL_KEY_FILE === undefined)) {
    problems.push(
      v.KAFKA_SSL_CERT_FILE === undefined
        ? 'KAFKA_SSL_CERT_FILE: is needed with KAFKA_SSL_KEY_FILE (a client certificate is a certificate and its key)'
        : 'KAFKA_SSL_KEY_FILE: is needed with KAFKA_SSL_CERT_FILE (a client certificate is a certificate and its key)',
    );
  }
  if (v.KAFKA_SSL_KEY_PASSWORD !== undefined && v.KAFKA_SSL_KEY_FILE === undefined)
    problems.push('KAFKA_SSL_KEY_PASSWORD: is set without KAFKA_SSL_KEY_FILE');
  const ca = readPem('KAFKA_SSL_CA_FILE', v.KAFKA_SSL_CA_FILE);
  const cert = readPem('KAFKA_SSL_CERT_FILE', v.KAFKA_SSL_CERT_FILE);
  const key = readPem('KAFKA_SSL_KEY_FILE', v.KAFKA_SSL_KEY_FILE);
  let ssl: ConnectionOptions | true | undefined;
  if (v.KAFKA_SSL) {
    const options: ConnectionOptions = {
      ...(ca === undefined ? {} : { ca }),
      ...(cert === undefined ? {} : { cert }),
      ...(key === undefined ? {} : { key }),
      ...(v.KAFKA_SSL_KEY_PASSWORD === undefined ? {} : { passphrase: v.KAFKA_SSL_KEY_PASSWORD }),
      rejectUnauthorized: v.KAFKA_SSL_REJECT_UNAUTHORIZED,
    };
    ssl = options;
  } else if (!v.KAFKA_SSL_REJECT_UNAUTHORIZED) {
    problems.push('KAFKA_SSL_REJECT_UNAUTHORIZED: is set but KAFKA_SSL is not true');
  }

  let sasl: SASLOptions | undefined;
  const { KAFKA_SASL_MECHANISM: mechanism, KAFKA_SASL_USERNAME: username, KAFKA_SASL_PASSWORD: password } = v;
  if (mechanism === undefined) {
    if (username !== undefined) problems.push('KAFKA_SASL_USERNAME: is set without KAFKA_SASL_MECHANISM');
    if (password !== undefined) problems.push('KAFKA_SASL_PASSWORD: is set without KAFKA_SASL_MECHANISM');
  } else {
    if (username === undefined)
      problems.push(`KAFKA_SASL_USERNAME: is needed with KAFKA_SASL_MECHANISM=${mechanism}`);
    if (password === undefined)
      problems.push(
        username === undefined
          ? `KAFKA_SASL_PASSWORD: is needed with KAFKA_SASL_MECHANISM=${mechanism}`
          : 'KAFKA_SASL_PASSWORD: is needed with KAFKA_SASL_USERNAME',
      );
    if (mechanism === 'plain' && !v.KAFKA_SSL && !v.KAFKA_ALLOW_SASL_PLAIN_WITHOUT_SSL)
      problems.push(
        'KAFKA_SASL_MECHANISM: plain sends the password in clear text without TLS: set KAFKA_SSL=true (or use scram-sha-512; KAFKA_ALLOW_SASL_PLAIN_WITHOUT_SSL=true accepts it, for a local broker only)',
      );
    if (username !== undefined && password !== undefined) sasl = { mechanism, username, password };
  }

  const replicationFactor = v.KAFKA_REPLICATION_FACTOR;
  const minInsyncReplicas = v.KAFKA_MIN_INSYNC_REPLICAS ?? defaultMinInsyncReplicas(replicationFactor);
  if (minInsyncReplicas > replicationFactor) {
    problems.push(
      `KAFKA_MIN_INSYNC_REPLICAS: ${minInsyncReplicas} is more than KAFKA_REPLICATION_FACTOR (${replicationFactor}): no write with acks=all could ever succeed`,
    );
  }
  if (replicationFactor > 1 && minInsyncReplicas === 1 && !v.KAFKA_ALLOW_SINGLE_INSYNC_REPLICA) {
    problems.push(
      `KAFKA_MIN_INSYNC_REPLICAS: 1 with KAFKA_REPLICATION_FACTOR=${replicationFactor} is refused: the services write with acks=all, and with one in-sync replica an acknowledged record can be lost with a single broker; use 2 (the default), or set KAFKA_ALLOW_SINGLE_INSYNC_REPLICA=true to accept it`,
    );
  }
  return {
    settings: {
      ...(ssl === undefined ? {} : { ssl }),
      ...(sasl === undefined ? {} : { sasl }),
      replicationFactor,
      minInsyncReplicas,
      allowSingleInsyncReplica: v.KAFKA_ALLOW_SINGLE_INSYNC_REPLICA,
    },
    problems,
  };
}
