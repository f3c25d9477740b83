import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { pino } from 'pino';
import {
  ConfluentAvroSerde,
  SchemaRegistryClient,
  rawWebhookSchema,
  valueSubject,
  type RawWebhook,
} from '@livechat-pipeline/events';
import { webhookTenant, type ChatDomainEvent } from '@livechat-pipeline/livechat';
import { createTopic, readTopic, stackEndpoints, testKafka, uniqueName } from '@livechat-pipeline/testkit';
import { loadNormalizerConfig } from '../src/config.js';
import { NORMALIZER_ERROR_CODES, NormalizerError } from '../src/errors.js';
import { normalizeRawWebhook } from '../src/normalize-record.js';
import { startNormalizer, type RunningNormalizer } from '../src/start.js';
import { bodyText, fuzzSeed, hostileBody } from './support/hostile-bodies.js';

const SEED = fuzzSeed(20_261_129);
const RECORDS = (() => {
  const fromEnv = Number(process.env['FUZZ_RECORDS']);
  return Number.isSafeInteger(fromEnv) && fromEnv > 0 ? fromEnv : 800;
})();
/** From the first record produced to every outcome on its topic, the sentinel's included. */
const BOUND_MS = 45_000;
const org = 'f9c7cc55-b35a-4e76-b0d5-ae9fce362314';

/**
 * A raw record as the ingest stores it: under the tenant its body names (the one the ingest authenticated), else
 * under a path label. `forged` stores it under another tenant, which the normalizer must refuse to map.
 */
const rawRecord = (eventId: string, body: string, forged = false): RawWebhook => {
  let named: string | null = null;
  try {
    named = webhookTenant(JSON.parse(body));
  } catch {
    // not JSON: no tenant in the body
  }
  return {
    event_id: eventId,
    received_at: 1_795_600_000_000_000,
    format: 'v3',
    api_version: null,
    action: 'fuzz',
    tenant: forged ? 'tenant-forged' : (named ?? 'tenant-label'),
    tenant_source: forged || named === null ? 'path' : 'body',
    chat_id: null,
    thread_id: null,
    webhook_id: null,
    body,
    content_length: null,
    user_agent: null,
    remote_address: null,
  };
};

/**
 * What a record should become: its events' ids (maybe none), or the code of its dead letter (`null`: any code,
 * for a record the pure step fails on with an error it does not declare).
 */
type Expected = { readonly events: readonly string[] } | { readonly code: string | null };

describe('normalizer fuzz on the real stack', () => {
  let running: RunningNormalizer | undefined;
  afterAll(async () => {
    await running?.stop();
  });

  it(`maps or dead-letters each of ${RECORDS} hostile raw records within a bound, and a sentinel after them is mapped (seed ${SEED}, FUZZ_SEED / FUZZ_RECORDS to change)`, async () => {
    const rawTopic = uniqueName('raw-fuzz');
    const outTopic = uniqueName('chat-events-fuzz');
    const dlqTopic = uniqueName('raw-dlq-fuzz');
    await createTopic(rawTopic, 1, [{ name: 'max.message.bytes', value: String(8 * 1024 * 1024) }]);
    const serde = new ConfluentAvroSerde(
      new SchemaRegistryClient({ baseUrl: stackEndpoints().schemaRegistryUrl }),
    );
    const rawSchema = await serde.register(valueSubject(rawTopic), rawWebhookSchema());
    const config = loadNormalizerConfig({
      KAFKA_BROKERS: stackEndpoints().kafkaBrokers.join(','),
      SCHEMA_REGISTRY_URL: stackEndpoints().schemaRegistryUrl,
      RAW_WEBHOOK_TOPIC: rawTopic,
      CHAT_EVENTS_TOPIC: outTopic,
      CHAT_EVENTS_TOPIC_PARTITIONS: '3',
      NORMALIZER_DLQ_TOPIC: dlqTopic,
      NORMALIZER_GROUP_ID: uniqueName('normalizer-fuzz'),
    });

    // The records: hostile bodies in valid envelopes, and now and then a body that is not JSON or a value that is
    // not a RawWebhook at all. The expectation of each comes from the same pure step the normalizer runs.
    const bodies = fc.sample(fc.tuple(hostileBody, fc.nat(99)), { seed: SEED, numRuns: RECORDS });
    const values: Buffer[] = [];
    const expected: Expected[] = [];
    bodies.forEach(([body, dice], index) => {
      if (dice === 0) {
        values.push(Buffer.from(`not the wire format ${index}`));
        expected.push({ code: 'NORMALIZER_UNDECODABLE' });
        return;
      }
      const text = dice === 1 ? bodyText(body).slice(0, -1) : bodyText(body);
      const raw = rawRecord(`fuzz-${index}`, text, dice === 2);
      values.push(serde.encode(rawSchema, raw));
      try {
        expected.push({
          events: normalizeRawWebhook(raw, config.limits.parse).map((event) => event.event_id),
        });
      } catch (error) {
        expected.push({ code: error instanceof NormalizerError ? error.code : null });
      }
    });
    const sentinel = rawRecord(
      'fuzz-sentinel',
      JSON.stringify({
        action: 'incoming_event',
        organization_id: org,
        payload: {
          chat_id: 'C',
          thread_id: 'T',
          event: { id: 'SENTINEL', type: 'message', text: 'still flowing' },
        },
      }),
    );
    values.push(serde.encode(rawSchema, sentinel));

    running = await startNormalizer(config, pino({ level: 'silent' }));
    const started = Date.now();
    const producer = testKafka('raw-producer-fuzz').producer({ idempotent: true });
    await producer.connect();
    try {
      // One produce call is one record batch: keep each well under the topic's 8 MiB.
      for (let i = 0; i < values.length;) {
        const messages: { key: string; value: Buffer }[] = [];
        let bytes = 0;
        while (i < values.length && (messages.length === 0 || bytes + values[i]!.length < 2 * 1024 * 1024)) {
          bytes += values[i]!.length;
          messages.push({ key: `fuzz|${i}`, value: values[i++]! });
        }
        await producer.send({ topic: rawTopic, acks: -1, messages });
      }
    } finally {
      await producer.disconnect();
    }

    const expectedEvents = expected.reduce((sum, e) => sum + ('events' in e ? e.events.length : 0), 0);
    const expectedDead = expected.filter((e) => 'code' in e).length;
    const out = await readTopic(outTopic, { count: expectedEvents + 1, timeoutMs: BOUND_MS });
    const dead = await readTopic(dlqTopic, {
      count: expectedDead,
      timeoutMs: Math.max(1_000, BOUND_MS - (Date.now() - started)),
    });
    const elapsedMs = Date.now() - started;

    const eventsByRaw = new Map<string, Set<string>>();
    for (const message of out) {
      const event = (await serde.decode<ChatDomainEvent>(message.value!)).value;
      const ids = eventsByRaw.get(event.raw_event_id) ?? new Set<string>();
      ids.add(event.event_id);
      eventsByRaw.set(event.raw_event_id, ids);
    }
    const deadByOffset = new Map(
      dead.map(
        (m) =>
          [m.headers?.['dlq.origin.offset']?.toString(), m.headers?.['dlq.error.code']?.toString()] as const,
      ),
    );
    const codes = new Map<string, number>();
    let mapped = 0;
    let unaccounted = 0;
    expected.forEach((outcome, index) => {
      if ('code' in outcome) {
        const code = deadByOffset.get(String(index));
        codes.set(code ?? 'missing', (codes.get(code ?? 'missing') ?? 0) + 1);
        if (code === undefined || (outcome.code !== null && code !== outcome.code)) unaccounted += 1;
        return;
      }
      mapped += 1;
      const got = [...(eventsByRaw.get(`fuzz-${index}`) ?? [])].sort();
      if (JSON.stringify(got) !== JSON.stringify([...new Set(outcome.events)].sort())) unaccounted += 1;
    });
    console.log(
      `normalizer fuzz: seed ${SEED}, ${RECORDS} raw records in ${elapsedMs} ms: ${mapped} mapped into ${expectedEvents} events, ` +
        `${expectedDead} dead-lettered ${JSON.stringify(Object.fromEntries(codes))}, ${unaccounted} unaccounted; sentinel ${eventsByRaw.has('fuzz-sentinel') ? 'mapped' : 'MISSING'}`,
    );
    expect(unaccounted).toBe(0);
    expect(eventsByRaw.get('fuzz-sentinel')?.size).toBe(1);
    expect(out).toHaveLength(expectedEvents + 1);
    expect(dead).toHaveLength(expectedDead);
    for (const code of deadByOffset.values()) expect(Object.keys(NORMALIZER_ERROR_CODES)).toContain(code);
    expect(elapsedMs).toBeLessThan(BOUND_MS);
  });
});
