import { parseArgs } from 'node:util';
import pino from 'pino';
import { z } from 'zod';
import { ConfluentAvroSerde, SchemaRegistryClient } from '@livechat-pipeline/events';
import { isPrivacyError, migratePrivacy } from '@livechat-pipeline/privacy';
import {
  ServiceConfigError,
  connectionEnv,
  createServiceKafka,
  kafkaClusterFromEnv,
  parseEnv,
} from '@livechat-pipeline/service-host';
import type { CliIo } from './cli-run.js';
import { loadPrivacyServiceConfig } from './config.js';
import { PrivacyCliError } from './errors.js';
import { reencrypt, swapSteps, type ReencryptKind, type ReencryptOptions } from './reencrypt.js';
import { createPrivacyRuntime } from './start.js';

export const REENCRYPT_USAGE =
  '  pnpm privacy reencrypt --topic raw|chat-events [--source <topic>] [--target <topic>]';

const TOPIC_NAME = /^[A-Za-z0-9._-]{1,249}$/;

/** `reencrypt`'s options (after the command word), or PRIVACY_CLI_BAD_ARGUMENTS naming what is wrong. */
export function parseReencryptArgs(argv: readonly string[]): ReencryptOptions {
  const bad = (message: string): never => {
    throw new PrivacyCliError('PRIVACY_CLI_BAD_ARGUMENTS', message);
  };
  let values: { topic?: string | undefined; source?: string | undefined; target?: string | undefined };
  try {
    const parsed = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: { topic: { type: 'string' }, source: { type: 'string' }, target: { type: 'string' } },
    });
    values = parsed.values;
  } catch (error) {
    return bad((error as Error).message);
  }
  const kind = values.topic?.trim();
  if (kind !== 'raw' && kind !== 'chat-events')
    return bad('reencrypt needs --topic raw or --topic chat-events');
  for (const name of ['source', 'target'] as const) {
    const value = values[name];
    if (value !== undefined && !TOPIC_NAME.test(value.trim()))
      bad(`--${name} must be a Kafka topic name (letters, digits, ".", "_", "-"; at most 249)`);
  }
  const source = values.source?.trim();
  const target = values.target?.trim();
  return {
    kind: kind as ReencryptKind,
    ...(source === undefined ? {} : { source }),
    ...(target === undefined ? {} : { target }),
  };
}

/**
 * `pnpm privacy reencrypt …`: the privacy service's configuration (the key store) with the Kafka and registry
 * variables every service reads (KAFKA_BROKERS, SCHEMA_REGISTRY_URL, KAFKA_SSL*, KAFKA_SASL_*). Exit codes as the
 * other commands: 0 done (the counts and the swap steps as JSON), 2 bad arguments or configuration, 1 failed (run it
 * again: it resumes).
 */
export async function runReencryptCli(argv: readonly string[], io: CliIo): Promise<number> {
  let options: ReencryptOptions;
  let config;
  let connection;
  try {
    options = parseReencryptArgs(argv);
    config = loadPrivacyServiceConfig(io.env);
    connection = parseEnv(z.object(connectionEnv('livechat-privacy-reencrypt')), io.env, 'Kafka');
  } catch (error) {
    if (error instanceof PrivacyCliError) {
      io.stderr(`${error.code}: ${error.message}\nusage:\n${REENCRYPT_USAGE}\n`);
      return 2;
    }
    if (error instanceof ServiceConfigError) {
      io.stderr(`${error.message}\n`);
      return 2;
    }
    throw error;
  }
  const logger = pino({ level: 'warn' }, pino.destination(2));
  const kafka = createServiceKafka({
    clientId: connection.KAFKA_CLIENT_ID,
    brokers: connection.KAFKA_BROKERS,
    logger,
    security: kafkaClusterFromEnv(io.env),
  });
  const runtime = createPrivacyRuntime({ ...config, poolSize: Math.min(config.poolSize, 2) });
  try {
    await migratePrivacy(runtime.vaultPool, { schema: config.privacy.schema });
    const result = await reencrypt(
      {
        kafka,
        serde: new ConfluentAvroSerde(new SchemaRegistryClient({ baseUrl: connection.SCHEMA_REGISTRY_URL })),
        vault: runtime.deps.vault,
        brokers: connection.KAFKA_BROKERS,
      },
      options,
    );
    io.stdout(`${JSON.stringify({ ...result, nextSteps: swapSteps(result) }, null, 2)}\n`);
    return 0;
  } catch (error) {
    io.stderr(
      `${isPrivacyError(error) ? `${error.code}: ` : ''}${error instanceof Error ? error.message : String(error)}\n` +
        'nothing copied is lost: run the same command again to resume\n',
    );
    return 1;
  } finally {
    await runtime.close();
  }
}
