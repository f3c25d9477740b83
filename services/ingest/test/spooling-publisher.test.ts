import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfluentAvroSerde, SchemaRegistryClient, rawWebhookSchema } from '@livechat-pipeline/events';
import type { RawWebhook, RegisteredSchema } from '@livechat-pipeline/events';
import { afterEach, describe, expect, it } from 'vitest';
import { ProduceBatcher } from '../src/produce-batcher.js';
import type { KeyedRawRecord } from '../src/raw-record.js';
import { DiskSpool } from '../src/spool/disk-spool.js';
import { SpoolingPublisher } from '../src/spool/spooling-publisher.js';
import type { DirectPublisher } from '../src/spool/spooling-publisher.js';

// The spooling publisher's switch, step by step. Kafka is a ProduceBatcher (the ingest's own) whose sends the test
// acknowledges or fails by hand, so the interleavings that matter are exact; the spool is the real one on disk.
// (The same paths against the real broker: spool-outage.fault.int.test.ts, spool-flapping.int.test.ts.)

const schema: RegisteredSchema = { subject: 'raw-value', id: 7, type: rawWebhookSchema().type };
// encode() needs no registry; the client is never called.
const serde = new ConfluentAvroSerde(new SchemaRegistryClient({ baseUrl: 'http://127.0.0.1:9' }));

const record = (id: string): KeyedRawRecord => ({
  key: 'org|CHAT',
  value: {
    event_id: id,
    received_at: 1_794_937_653_000_000,
    format: 'v3',
    api_version: '3.6+',
    action: 'incoming_event',
    tenant: 'org',
    tenant_source: 'body',
    chat_id: 'CHAT',
    thread_id: 'T',
    webhook_id: null,
    body: '{}',
    content_length: 2,
    user_agent: null,
    remote_address: null,
  },
});

const eventIdOf = (value: Buffer) => (schema.type.fromBuffer(value.subarray(5)) as RawWebhook).event_id;

/** "Kafka": a batcher whose every send waits for the test's verdict; what was acknowledged lands in `log`. */
function controllableKafka() {
  const log: string[] = [];
  const sends: { ids: string[]; ack: () => void; fail: (err?: Error) => void }[] = [];
  const batcher = new ProduceBatcher<string>({
    send: (ids) =>
      new Promise<void>((resolve, reject) => {
        sends.push({
          ids: [...ids],
          ack: () => {
            log.push(...ids);
            resolve();
          },
          fail: (err) => reject(err ?? Object.assign(new Error('broker not available'), { retriable: true })),
        });
      }),
    lingerMs: 0,
    maxRecords: 100,
    maxBytes: 1e6,
    sizeOf: (id) => id.length,
  });
  const direct: DirectPublisher = {
    publishCancellable: (r, deadlineAt) => batcher.enqueueCancellable(r.value.event_id, deadlineAt),
    publishEncoded: (records, deadlineAt) =>
      batcher.enqueueGroup(
        records.map((r) => eventIdOf(r.value)),
        deadlineAt,
      ),
  };
  return { log, sends, direct };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 2000 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 1));
  expect(condition()).toBe(true);
}

const dirs: string[] = [];
const closing: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closing.splice(0)) await close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function setup(spoolAfterMs: number, spoolFromStart?: string) {
  const dir = mkdtempSync(join(tmpdir(), 'spooling-publisher-'));
  dirs.push(dir);
  const kafka = controllableKafka();
  const spool = await DiskSpool.open({
    dir,
    maxBytes: 1 << 20,
    segmentBytes: 1 << 20,
    maxRecordBytes: 1 << 20,
  });
  const publisher = new SpoolingPublisher({
    direct: kafka.direct,
    spool,
    serde,
    schema,
    spoolAfterMs,
    maxRecordBytes: 1 << 20,
    drainMaxRecords: 100,
    drainMaxBytes: 1 << 20,
    ...(spoolFromStart === undefined ? {} : { spoolFromStart }),
  });
  closing.push(() => publisher.close());
  const acked: string[] = [];
  const publish = (id: string) =>
    publisher.publish(record(id), performance.now() + 10_000).then(() => {
      acked.push(id);
    });
  return { kafka, publisher, acked, publish };
}

describe('SpoolingPublisher: the switch to spooling', () => {
  it('a failed batch spools its writes and takes back the ones queued behind it: none reaches Kafka ahead of them', async () => {
    const { kafka, publisher, acked, publish } = await setup(5_000);
    const x = publish('X');
    await tick(); // X's batch is on the wire
    const a = publish('A');
    const b = publish('B'); // queued behind X's batch
    expect(kafka.sends).toHaveLength(1);
    kafka.sends[0]?.fail(); // transient: X goes to the spool, A and B are taken back and spooled after it
    await Promise.all([x, a, b]);
    // Answers of one group commit resolve in no set order (X comes by more promise hops than A, and a loaded machine
    // runs both deadlines in one timers phase); the order that matters is the spool's, checked on the drain below.
    expect([...acked].sort()).toEqual(['A', 'B', 'X']);
    expect(publisher.mode).toBe('spooling');
    // Without the take-back the batcher would now send [A, B] directly, ahead of X: no such send.
    for (let i = 0; i < 5; i++) await tick();
    expect(kafka.sends.slice(1).map((s) => s.ids)).not.toContainEqual(['A', 'B']);
    // The drainer sends the spool in order; acknowledged, the publisher writes directly again.
    await until(() => kafka.sends.length === 2);
    expect(kafka.sends[1]?.ids).toEqual(['X', 'A', 'B']);
    kafka.sends[1]?.ack();
    await until(() => publisher.mode === 'direct');
    expect(kafka.log).toEqual(['X', 'A', 'B']);
  });

  it('when the first write is not acknowledged in time, the writes waiting behind it are spooled with it, in arrival order', async () => {
    const { kafka, publisher, acked, publish } = await setup(40);
    const x = publish('X');
    await tick(); // X on the wire, slow
    const a = publish('A');
    await new Promise((resolve) => setTimeout(resolve, 20));
    const b = publish('B'); // its own spool-after is 20 ms after X's and A's
    await Promise.all([x, a]); // X's spool-after passes: the switch
    expect(publisher.mode).toBe('spooling');
    // X's batch is acknowledged now (its direct copy lands late). Without the take-back the batcher would now send
    // B, whose own deadline has not passed, ahead of the spooled X and A.
    kafka.sends[0]?.ack();
    await b;
    expect([...acked].sort()).toEqual(['A', 'B', 'X']); // in no set order (see above); the spool's order is below
    await until(() => kafka.sends.length === 2);
    expect(kafka.sends[1]?.ids).toEqual(['X', 'A', 'B']); // the drainer's: A and B never went out on their own
    kafka.sends[1]?.ack();
    await until(() => publisher.mode === 'direct');
    expect(kafka.log).toEqual(['X', 'X', 'A', 'B']);
  });

  it('started with Kafka unreachable it spools from the first webhook, empty spool or not, until a drain send succeeds', async () => {
    const { kafka, publisher, acked, publish } = await setup(5_000, 'kafka unreachable at start-up');
    for (let i = 0; i < 20; i++) await tick();
    expect(publisher.mode).toBe('spooling'); // the spool is empty, yet no switch back to a Kafka known to be down
    const started = performance.now();
    await publish('A');
    expect(performance.now() - started).toBeLessThan(1000); // not after INGEST_SPOOL_AFTER_MS (5 s here)
    expect(acked).toEqual(['A']);
    await until(() => kafka.sends.length === 1);
    kafka.sends[0]?.ack();
    await until(() => publisher.mode === 'direct');
    expect(kafka.log).toEqual(['A']);
  });

  it('a record Kafka refuses for good is not spooled (it would block the drain): the request fails with its error', async () => {
    const { kafka, publisher, acked, publish } = await setup(5_000);
    const x = publish('X');
    await tick();
    // As kafkajs reports a record over the topic's max.message.bytes.
    const tooLarge = Object.assign(new Error('message too large'), {
      type: 'MESSAGE_TOO_LARGE',
      retriable: false,
    });
    kafka.sends[0]?.fail(tooLarge);
    await expect(x).rejects.toMatchObject({ code: 'INGEST_KAFKA_UNAVAILABLE', cause: tooLarge });
    expect(acked).toEqual([]);
    expect(publisher.mode).toBe('direct');
  });

  it('a record larger than the raw topic takes is refused up front (413 INGEST_RECORD_TOO_LARGE), in both modes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'spooling-publisher-'));
    dirs.push(dir);
    const kafka = controllableKafka();
    const spool = await DiskSpool.open({
      dir,
      maxBytes: 1 << 20,
      segmentBytes: 1 << 20,
      maxRecordBytes: 1 << 20,
    });
    const publisher = new SpoolingPublisher({
      direct: {
        ...kafka.direct,
        publishCancellable: (r, deadlineAt) => {
          // The real publisher checks the size before queueing (KafkaRawWebhookPublisher); so does this one.
          if (r.value.body.length > 1000) {
            throw Object.assign(new Error('too large'), { code: 'INGEST_RECORD_TOO_LARGE' });
          }
          return kafka.direct.publishCancellable(r, deadlineAt);
        },
      },
      spool,
      serde,
      schema,
      spoolAfterMs: 5_000,
      maxRecordBytes: 1000,
      drainMaxRecords: 100,
      drainMaxBytes: 1 << 20,
      spoolFromStart: 'test',
    });
    closing.push(() => publisher.close());
    const big = record('BIG');
    const huge = { ...big, value: { ...big.value, body: JSON.stringify({ n: 'x'.repeat(2000) }) } };
    await expect(publisher.publish(huge, performance.now() + 1000)).rejects.toMatchObject({
      code: 'INGEST_RECORD_TOO_LARGE',
      status: 413,
    });
    expect(spool.records).toBe(0);
  });
});
