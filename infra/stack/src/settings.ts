import { fileURLToPath } from 'node:url';
import path from 'node:path';

/** Where the stack keeps its downloads, data, logs and pid files (git-ignored). */
export interface StackSettings {
  readonly home: string;
  readonly postgresPort: number;
  readonly kafkaPort: number;
  readonly kafkaControllerPort: number;
  /** The broker's SASL_SSL listener (kafka-secure.ts). */
  readonly kafkaSecurePort: number;
  /** STACK_KAFKA_SECURE (default on): the SASL_SSL listener, its throwaway CA (openssl) and SCRAM user. */
  readonly kafkaSecure: boolean;
  readonly registryPort: number;
  readonly registryManagementPort: number;
  readonly postgresUser: string;
  readonly postgresPassword: string;
  /** The ingest's least-privilege role (created at every `up`; the app grants it its access when it migrates). */
  readonly ingestRole: string;
  readonly ingestRolePassword: string;
  readonly registryDatabase: string;
  readonly kafkaHeap: string;
  readonly startTimeoutMs: number;
}

export class StackConfigError extends Error {
  readonly code = 'STACK_BAD_CONFIG';
}

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const stackSourceDir = path.join(repoRoot, 'infra', 'stack');

function port(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1 || value > 65535) {
    throw new StackConfigError(`${name} must be a TCP port (1-65535), got "${raw}"`);
  }
  return value;
}

/** Reads the stack's settings once; every variable is optional and defaults to the local stack. */
export function loadStackSettings(env: NodeJS.ProcessEnv = process.env): StackSettings {
  const timeout = Number(env['STACK_START_TIMEOUT_MS'] ?? 120_000);
  if (!Number.isFinite(timeout) || timeout <= 0) {
    throw new StackConfigError(`STACK_START_TIMEOUT_MS must be a positive number of milliseconds`);
  }
  const registryPort = port(env, 'STACK_REGISTRY_PORT', 58081);
  const kafkaPort = port(env, 'STACK_KAFKA_PORT', 59092);
  const secure = (env['STACK_KAFKA_SECURE'] ?? '').trim() || '1';
  if (!['0', '1', 'true', 'false'].includes(secure)) {
    throw new StackConfigError(
      `STACK_KAFKA_SECURE must be 1 or 0 (true or false), got "${secure.slice(0, 20)}"`,
    );
  }
  return Object.freeze({
    home: path.resolve(env['STACK_HOME'] ?? path.join(repoRoot, 'infra', '.local')),
    postgresPort: port(env, 'STACK_POSTGRES_PORT', 55432),
    kafkaPort,
    kafkaControllerPort: port(env, 'STACK_KAFKA_CONTROLLER_PORT', 59093),
    // Two above the Kafka port unless set (the controller's is usually one above), so stacks never clash.
    kafkaSecurePort: port(env, 'STACK_KAFKA_SECURE_PORT', kafkaPort + 2),
    kafkaSecure: secure === '1' || secure === 'true',
    registryPort,
    // Next to the registry's own port unless set, so two stacks with different ports never clash.
    registryManagementPort: port(env, 'STACK_REGISTRY_MANAGEMENT_PORT', registryPort + 1),
    postgresUser: 'postgres',
    postgresPassword: env['STACK_POSTGRES_PASSWORD'] ?? 'postgres',
    ingestRole: 'livechat_ingest',
    ingestRolePassword: env['STACK_INGEST_DB_PASSWORD'] ?? 'livechat_ingest',
    registryDatabase: 'schema_registry',
    kafkaHeap: env['STACK_KAFKA_HEAP'] ?? '512m',
    startTimeoutMs: timeout,
  });
}

export interface StackEndpoints {
  readonly kafkaBrokers: string;
  readonly schemaRegistryUrl: string;
  readonly databaseUrl: string;
  /** The same database as the ingest's role: read the registry, write last_webhook_at, nothing else. */
  readonly ingestDatabaseUrl: string;
}

export function stackEndpoints(settings: StackSettings): StackEndpoints {
  return {
    kafkaBrokers: `127.0.0.1:${settings.kafkaPort}`,
    schemaRegistryUrl: `http://127.0.0.1:${settings.registryPort}/apis/ccompat/v7`,
    databaseUrl: `postgres://${settings.postgresUser}:${encodeURIComponent(settings.postgresPassword)}@127.0.0.1:${settings.postgresPort}/postgres`,
    ingestDatabaseUrl: `postgres://${settings.ingestRole}:${encodeURIComponent(settings.ingestRolePassword)}@127.0.0.1:${settings.postgresPort}/postgres`,
  };
}

export const stackDirs = (settings: StackSettings) => ({
  downloads: path.join(settings.home, 'downloads'),
  kafkaLib: path.join(settings.home, 'kafka', 'lib'),
  kafkaConfig: path.join(settings.home, 'kafka', 'config'),
  apicurio: path.join(settings.home, 'apicurio'),
  data: path.join(settings.home, 'data'),
  postgresData: path.join(settings.home, 'data', 'postgres'),
  kafkaData: path.join(settings.home, 'data', 'kafka'),
  logs: path.join(settings.home, 'logs'),
  run: path.join(settings.home, 'run'),
});
