/**
 * postgres-consumer CLI (run with tsx):
 *   dead-letters list   --topic <dlq>                       table of dead letters
 *   dead-letters replay --topic <dlq> (--all | --offset <partition:offset> ...) [--code <error code>]
 *       re-produces the original key/value/headers (never a dlq.* one) to the origin topic and partition;
 *       the live consumer then applies them through its normal path (dedup makes a second replay harmless).
 *       A dead letter without its value (dlq.value.omitted) is skipped and named: its record is at its origin.
 * Both work on any dead-letter topic in the envelope of @livechat-pipeline/events: the normalizer's
 * livechat.webhooks.raw.dlq and every consumer's <consumer>.dlq (older dlq.failed_at dead letters included).
 *   rebuild --definition <module> [--export <name>]          truncate, replay from the earliest offsets
 * Connections: --brokers (env KAFKA_BROKERS, default the local stack's 127.0.0.1:59092), --database-url (env DATABASE_URL);
 * TLS and SASL as every service (KAFKA_SSL*, KAFKA_SASL_*: service-host's kafkaClusterFromEnv), checked before connecting.
 */
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import {
  ServiceConfigError,
  kafkaClusterFromEnv,
  type KafkaClientSecurity,
} from '@livechat-pipeline/service-host';
import { readDeadLetters, replayDeadLetters, type DeadLetterRecord } from './dead-letter.js';
import { progressWriter } from './progress.js';
import { rebuild } from './rebuild.js';
import type { ConsumerDefinition } from './types.js';

const USAGE = `usage:
  cli.ts dead-letters list   --topic <dlq>
  cli.ts dead-letters replay --topic <dlq> (--all | --offset <partition:offset> ...) [--code <error code>]
  cli.ts rebuild --definition <module.ts> [--export definition]
options: --brokers <host:port,...> (KAFKA_BROKERS)  --database-url <url> (DATABASE_URL)
TLS / SASL: KAFKA_SSL, KAFKA_SSL_CA_FILE, KAFKA_SSL_CERT_FILE, KAFKA_SSL_KEY_FILE, KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD (as the services)`;

function fail(message: string): never {
  process.stderr.write(`${message}\n${USAGE}\n`);
  process.exit(2);
}

function table(records: readonly DeadLetterRecord[]): string {
  const header = ['dlq offset', 'origin', 'error code', 'message', 'failed at'];
  const rows = records.map((r) => [
    `${r.partition}:${r.offset}`,
    `${r.origin.topic}/${r.origin.partition}/${r.origin.offset}`,
    r.errorCode,
    `${r.valueOmitted === undefined ? '' : '[value omitted] '}${r.errorMessage.replace(/\s+/g, ' ')}`.slice(
      0,
      60,
    ),
    r.failedAt,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

function isDefinition(value: unknown): value is ConsumerDefinition<unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    typeof v['name'] === 'string' &&
    Array.isArray(v['topics']) &&
    typeof v['handle'] === 'function' &&
    typeof v['decode'] === 'function'
  );
}

async function main(argv: readonly string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      topic: { type: 'string' },
      all: { type: 'boolean', default: false },
      offset: { type: 'string', multiple: true },
      code: { type: 'string' },
      definition: { type: 'string' },
      export: { type: 'string', default: 'definition' },
      brokers: { type: 'string', default: process.env['KAFKA_BROKERS'] ?? '127.0.0.1:59092' },
      'database-url': {
        type: 'string',
        default: process.env['DATABASE_URL'] ?? 'postgres://postgres:postgres@127.0.0.1:55432/postgres',
      },
    },
  });
  let security: KafkaClientSecurity;
  try {
    security = kafkaClusterFromEnv(process.env);
  } catch (error) {
    if (error instanceof ServiceConfigError) fail(error.message);
    throw error;
  }
  const kafka = new Kafka({
    clientId: 'postgres-consumer-cli',
    brokers: values.brokers.split(',').map((b) => b.trim()),
    ...(security.ssl === undefined ? {} : { ssl: security.ssl }),
    ...(security.sasl === undefined ? {} : { sasl: security.sasl }),
    logLevel: logLevel.NOTHING,
  });
  const [command, sub] = positionals;

  if (command === 'dead-letters') {
    const topic = values.topic ?? fail('--topic is required');
    const records = await readDeadLetters(kafka, topic);
    if (sub === 'list') {
      process.stdout.write(`${table(records)}\n${records.length} dead letter(s) in ${topic}\n`);
      return;
    }
    if (sub === 'replay') {
      const wanted = new Set(values.offset ?? []);
      if (!values.all && wanted.size === 0)
        fail('replay needs --all or at least one --offset <partition:offset>');
      const selected = records.filter(
        (r) =>
          (values.all || wanted.has(`${r.partition}:${r.offset}`)) &&
          (values.code === undefined || r.errorCode === values.code),
      );
      const omitted = selected.filter((r) => r.valueOmitted !== undefined);
      const count = await replayDeadLetters(kafka, topic, selected);
      for (const r of omitted) {
        process.stdout.write(
          `skipped ${r.partition}:${r.offset}: its value was omitted (${r.valueOmitted ?? ''}); the record is at ${r.origin.topic}/${r.origin.partition}/${r.origin.offset}\n`,
        );
      }
      process.stdout.write(`replayed ${count} dead letter(s) from ${topic} to their origin topics\n`);
      return;
    }
    fail(`unknown dead-letters command ${String(sub)}`);
  }

  if (command === 'rebuild') {
    const modulePath = values.definition ?? fail('--definition is required');
    const databaseUrl = values['database-url'] ?? fail('--database-url (or DATABASE_URL) is required');
    const loaded = (await import(pathToFileURL(resolve(modulePath)).href)) as Record<string, unknown>;
    const definition = loaded[values.export];
    if (!isDefinition(definition))
      fail(`${modulePath} does not export a consumer definition named "${values.export}"`);
    const bar = progressWriter(process.stderr);
    let last: Parameters<typeof bar.finish>[0] | undefined;
    const result = await rebuild(definition, {
      kafka,
      databaseUrl,
      onProgress: (p) => {
        last = p;
        bar.update(p);
      },
    });
    if (last !== undefined) bar.finish(last);
    process.stdout.write(
      `rebuild of ${definition.name} ${result.resumed ? 'resumed and ' : ''}finished: ${result.total} events in ${(result.durationMs / 1000).toFixed(1)} s\n`,
    );
    return;
  }
  fail(`unknown command ${String(command)}`);
}

main(process.argv.slice(2)).then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
