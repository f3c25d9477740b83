import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadStackSettings, secureKafkaReady, stackSecureKafka } from '@livechat-pipeline/local-stack';
import { ConsumerError, toDeadLetterMessage } from '@livechat-pipeline/postgres-consumer';
import { createServiceKafka, kafkaClusterFromEnv } from '@livechat-pipeline/service-host';
import { uniqueName, waitFor } from '@livechat-pipeline/testkit';

/**
 * The dead-letter CLI (`pnpm dead-letters`) reaches a cluster with TLS and SASL through the same variables as the
 * services (KAFKA_SSL, KAFKA_SSL_CA_FILE, KAFKA_SASL_*), against the local broker's SASL_SSL listener; a bad
 * setting stops it before it connects, naming the variable. Needs the managed local stack (vitest.config.ts).
 */
const settings = loadStackSettings();
const secure = stackSecureKafka(settings);
const cli = fileURLToPath(new URL('../packages/postgres-consumer/src/cli.ts', import.meta.url));
const run = promisify(execFile);
const disconnects: (() => Promise<void>)[] = [];

const clusterEnv: NodeJS.ProcessEnv = {
  KAFKA_SSL: 'true',
  KAFKA_SSL_CA_FILE: secure.caFile,
  KAFKA_SASL_MECHANISM: 'scram-sha-512',
  KAFKA_SASL_USERNAME: secure.username,
  KAFKA_SASL_PASSWORD: secure.password,
};
const kafka = () =>
  createServiceKafka({
    clientId: 'cli-sasl-ssl-test',
    brokers: [secure.brokers],
    logger: pino({ level: 'silent' }),
    connectionTimeoutMs: 3000,
    security: kafkaClusterFromEnv(clusterEnv),
  });

/** The CLI with only the cluster variables (no KAFKA_* of this process leaks in). */
function cliEnv(extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('KAFKA_')));
  return { ...env, ...extra };
}

beforeAll(async () => {
  if (!settings.kafkaSecure || !(await secureKafkaReady(settings)))
    throw new Error(
      `the local broker has no SASL_SSL listener on ${secure.brokers}: restart the stack with it: pnpm stack down && pnpm stack up`,
    );
});

afterAll(async () => {
  for (const disconnect of disconnects) await disconnect().catch(() => undefined);
});

describe('the dead-letter CLI on a cluster with TLS and SASL', () => {
  it('lists and replays dead letters through SASL/SCRAM over TLS', async () => {
    const origin = uniqueName('cli-secure-origin');
    const dlq = `${origin}.dlq`;
    const admin = kafka().admin();
    await admin.connect();
    disconnects.push(() => admin.disconnect());
    await admin.createTopics({
      waitForLeaders: true,
      topics: [
        { topic: origin, numPartitions: 1 },
        { topic: dlq, numPartitions: 1 },
      ],
    });
    const producer = kafka().producer();
    await producer.connect();
    disconnects.push(() => producer.disconnect());
    await producer.send({
      topic: dlq,
      acks: -1,
      messages: [
        toDeadLetterMessage({
          origin: { topic: origin, partition: 0, offset: '0' },
          message: {
            key: Buffer.from('chat-1'),
            value: Buffer.from('poison'),
            headers: {},
            timestamp: String(Date.now()),
            attributes: 0,
            offset: '0',
          },
          error: new ConsumerError('CONSUMER_EVENT_REJECTED', 'rejected for the test'),
          attempts: 1,
          consumer: 'cli-secure',
          failedAt: new Date(),
        }),
      ],
    });

    const env = cliEnv({ ...clusterEnv, KAFKA_BROKERS: secure.brokers });
    const listed = await run(
      process.execPath,
      ['--import', 'tsx', cli, 'dead-letters', 'list', '--topic', dlq],
      {
        env,
      },
    );
    expect(listed.stdout).toContain(`${origin}/0/0`);
    expect(listed.stdout).toContain('1 dead letter(s)');

    const replayed = await run(
      process.execPath,
      ['--import', 'tsx', cli, 'dead-letters', 'replay', '--topic', dlq, '--all'],
      { env },
    );
    expect(replayed.stdout).toContain('replayed 1 dead letter(s)');
    await waitFor(
      async () => {
        const [offsets] = await admin.fetchTopicOffsets(origin);
        return offsets?.high === '1';
      },
      { message: 'the replayed record on its origin topic' },
    );
  });

  it('stops before connecting when a cluster setting is bad, naming the variable', async () => {
    const failed = await run(
      process.execPath,
      ['--import', 'tsx', cli, 'dead-letters', 'list', '--topic', 'any.dlq'],
      { env: cliEnv({ ...clusterEnv, KAFKA_BROKERS: secure.brokers, KAFKA_SASL_PASSWORD: '' }) },
    ).then(
      () => undefined,
      (error: { code?: number; stderr?: string }) => error,
    );
    expect(failed?.code).toBe(2);
    expect(failed?.stderr).toContain('KAFKA_SASL_PASSWORD: is needed with KAFKA_SASL_USERNAME');
  });
});
