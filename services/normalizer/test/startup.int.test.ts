import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { createTopic, stackEndpoints, uniqueName, waitFor } from '@livechat-pipeline/testkit';
import { loadNormalizerConfig } from '../src/config.js';
import { startNormalizer } from '../src/start.js';

function capture() {
  const lines: { msg?: string; step?: string; level?: number }[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString('utf8')) as { msg?: string; step?: string });
      done();
    },
  });
  return { lines, logger: pino({ level: 'info' }, stream) };
}

const configFor = (rawTopic: string, extra: Record<string, string> = {}) =>
  loadNormalizerConfig({
    KAFKA_BROKERS: stackEndpoints().kafkaBrokers.join(','),
    SCHEMA_REGISTRY_URL: stackEndpoints().schemaRegistryUrl,
    RAW_WEBHOOK_TOPIC: rawTopic,
    CHAT_EVENTS_TOPIC: uniqueName('startup-chat-events'),
    CHAT_EVENTS_TOPIC_PARTITIONS: '2',
    NORMALIZER_DLQ_TOPIC: uniqueName('startup-raw-dlq'),
    NORMALIZER_GROUP_ID: uniqueName('startup-normalizer'),
    ...extra,
  });

describe('normalizer start-up', () => {
  it('waits for the raw topic the ingest creates (a fresh stack), retrying the step, then runs', async () => {
    const rawTopic = uniqueName('startup-raw');
    const { lines, logger } = capture();
    const starting = startNormalizer(configFor(rawTopic), logger);
    try {
      await waitFor(
        () =>
          lines.some((l) => l.msg === `start-up step "wait for input topic ${rawTopic}" failed; retrying`),
        {
          timeoutMs: 30_000,
          message: 'a logged retry of the input-topic step',
        },
      );
      await createTopic(rawTopic, 2);
      const running = await starting;
      try {
        await waitFor(() => running.normalizer.ready, {
          timeoutMs: 30_000,
          message: 'normalizer joined its group',
        });
      } finally {
        await running.stop();
      }
    } finally {
      await starting.then((r) => r.stop()).catch(() => undefined);
    }
  });

  it('gives up at NORMALIZER_STARTUP_TIMEOUT_MS naming the step when the raw topic never comes', async () => {
    const rawTopic = uniqueName('never-raw');
    const error = await startNormalizer(
      configFor(rawTopic, { NORMALIZER_STARTUP_TIMEOUT_MS: '3000' }),
      pino({ level: 'silent' }),
    ).catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: 'SERVICE_STARTUP_TIMEOUT',
      step: `wait for input topic ${rawTopic}`,
    });
  });
});
