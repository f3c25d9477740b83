import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureTopic, topicSpecs } from '@livechat-pipeline/events';
import { loadStackSettings, secureKafkaReady, stackSecureKafka } from '@livechat-pipeline/local-stack';
import { createServiceKafka, kafkaClusterFromEnv } from '@livechat-pipeline/service-host';
import { stackEndpoints, uniqueName, waitFor } from '@livechat-pipeline/testkit';

/**
 * A service's Kafka client configured only through the cluster variables (KAFKA_SSL, KAFKA_SSL_CA_FILE,
 * KAFKA_SASL_*), against the local broker's SASL_SSL listener (TLS with the launcher's throwaway CA, SCRAM
 * users in the cluster metadata). Needs the managed local stack: on a stack named by the endpoint variables
 * the file is left out (vitest.config.ts).
 */
const settings = loadStackSettings();
const secure = stackSecureKafka(settings);
const logger = pino({ level: 'silent' });
const disconnects: (() => Promise<void>)[] = [];

/** `failFast`: no retries, for the logins that must be refused (kafkajs would retry a TLS failure for seconds). */
function secureKafka(env: NodeJS.ProcessEnv, options: { failFast?: boolean } = {}) {
  return createServiceKafka({
    clientId: 'sasl-ssl-test',
    brokers: [secure.brokers],
    logger,
    connectionTimeoutMs: 3000,
    ...(options.failFast === true ? { retry: { retries: 0 } } : {}),
    security: kafkaClusterFromEnv(env),
  });
}

const clusterEnv = (mechanism: string, password = secure.password): NodeJS.ProcessEnv => ({
  KAFKA_SSL: 'true',
  KAFKA_SSL_CA_FILE: secure.caFile,
  KAFKA_SASL_MECHANISM: mechanism,
  KAFKA_SASL_USERNAME: secure.username,
  KAFKA_SASL_PASSWORD: password,
});

beforeAll(async () => {
  // A broker started by a launcher without the listener (or with STACK_KAFKA_SECURE=0) cannot run these: say what
  // to do instead of failing on a missing CA file.
  if (!settings.kafkaSecure || !(await secureKafkaReady(settings)))
    throw new Error(
      `the local broker has no SASL_SSL listener on ${secure.brokers}${settings.kafkaSecure ? '' : ' (STACK_KAFKA_SECURE=0)'}: restart the stack with it: pnpm stack down && pnpm stack up`,
    );
});

afterAll(async () => {
  for (const disconnect of disconnects) await disconnect().catch(() => undefined);
});

describe('a Kafka cluster with TLS and SASL', () => {
  it('produces and consumes a registry-encoded record through SASL/SCRAM over TLS', async () => {
    const kafka = secureKafka(clusterEnv('scram-sha-512'));
    const topic = uniqueName('sasl-ssl');
    // Created through the secure listener with the services' own spec (min.insync.replicas included).
    expect(
      await ensureTopic(kafka, topicSpecs.chatEvents({ topic, partitions: 1, replicationFactor: 1 }), {
        brokers: [secure.brokers],
      }),
    ).toBe(true);

    const registry = new SchemaRegistry({ host: stackEndpoints().schemaRegistryUrl });
    const { id } = await registry.register(
      {
        type: SchemaType.AVRO,
        schema: JSON.stringify({
          type: 'record',
          name: 'Secure',
          namespace: 'dev.livechatpipeline.test',
          fields: [{ name: 'chat', type: 'string' }],
        }),
      },
      { subject: `${topic}-value` },
    );

    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, retry: { retries: 3 } });
    await producer.connect();
    disconnects.push(() => producer.disconnect());
    await producer.send({
      topic,
      acks: -1,
      messages: [{ key: 'tenant:chat-1', value: await registry.encode(id, { chat: 'chat-1' }) }],
    });

    const received: unknown[] = [];
    const consumer = kafka.consumer({ groupId: uniqueName('sasl-ssl-group') });
    await consumer.connect();
    disconnects.push(() => consumer.disconnect());
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        received.push({ key: message.key?.toString(), value: await registry.decode(message.value!) });
      },
    });
    await waitFor(() => received.length > 0, { timeoutMs: 20_000, message: 'the record through SASL_SSL' });
    expect(received).toEqual([{ key: 'tenant:chat-1', value: { chat: 'chat-1' } }]);
  });

  it('logs in with every mechanism the settings accept, and is refused a wrong password or an unknown CA', async () => {
    for (const mechanism of ['scram-sha-256', 'scram-sha-512', 'plain']) {
      const admin = secureKafka(clusterEnv(mechanism)).admin();
      await admin.connect();
      expect((await admin.describeCluster()).brokers).toHaveLength(1);
      await admin.disconnect();
    }
    const wrongPassword = secureKafka(clusterEnv('scram-sha-512', 'not-the-password'), {
      failFast: true,
    }).admin();
    await expect(wrongPassword.connect()).rejects.toThrow(/SASL SCRAM SHA512 authentication failed/);
    await wrongPassword.disconnect();

    // Without the stack's CA the broker's certificate is not trusted: TLS is really verified.
    const { KAFKA_SSL_CA_FILE: _ca, ...withoutCa } = clusterEnv('scram-sha-512');
    const untrusted = secureKafka(withoutCa, { failFast: true }).admin();
    await expect(untrusted.connect()).rejects.toThrow(
      /self-signed certificate|unable to verify|certificate/i,
    );
    await untrusted.disconnect();
  });
});
