import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ConfluentAvroSerde,
  SchemaRegistryClient,
  rawWebhookSchema,
  valueSubject,
} from '@livechat-pipeline/events';
import type { RawWebhook } from '@livechat-pipeline/events';
import { readTopic, stackEndpoints, testKafka, uniqueName, waitFor } from '@livechat-pipeline/testkit';
import { Partitioners } from 'kafkajs';
import { afterAll, describe, expect, it } from 'vitest';
import { DiskSpool } from '../src/spool/disk-spool.js';
import type { SpoolRecord } from '../src/spool/frame.js';
import { decodeAll, postWebhook, startTestIngest, topicRecordCount } from './support/harness.js';
import { fixture } from './support/fixtures.js';

const RECORDS = 30;

describe('spool drain interrupted between produce and acknowledge', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ingest-spool-drain-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('re-sends only the records after the acknowledged position; every record reaches the topic, first occurrences in spool order per key', async () => {
    const topic = uniqueName('ingest-raw-drain');
    // A first ingest creates the topic (with the settings it checks), registers the schema and notes the topic
    // in the spool directory.
    const first = await startTestIngest({ RAW_WEBHOOK_TOPIC: topic, INGEST_SPOOL_DIR: dir });
    await first.close();
    const serde = new ConfluentAvroSerde(
      new SchemaRegistryClient({ baseUrl: stackEndpoints().schemaRegistryUrl }),
    );
    const schema = await serde.register(valueSubject(topic), rawWebhookSchema());

    const records: SpoolRecord[] = Array.from({ length: RECORDS }, (_, i) => {
      const chat = `DRAIN-${i % 3}`;
      const value: RawWebhook = {
        event_id: `drain-${String(i).padStart(3, '0')}`.padEnd(64, '0'),
        received_at: 1_794_937_653_000_000 + i,
        format: 'v3',
        api_version: '3.6+',
        action: 'incoming_event',
        tenant: 'org-drain',
        tenant_source: 'body',
        chat_id: chat,
        thread_id: 'T1',
        webhook_id: null,
        body: '{}',
        content_length: 2,
        user_agent: null,
        remote_address: null,
        spooled_at: 1_794_937_654_000_000 + i,
      };
      return {
        key: Buffer.from(`org-drain|${chat}`),
        value: serde.encode(schema, value),
        spooledAtMicros: value.spooled_at as number,
      };
    });
    const spoolOptions = { dir, maxBytes: 1 << 20, segmentBytes: 2048, maxRecordBytes: 1 << 20 };
    const spool = await DiskSpool.open(spoolOptions);
    for (const r of records) await spool.append(r);

    // A drainer's first two rounds: records 0-9 produced and acknowledged, records 10-19 produced, then the
    // process dies before acknowledging them.
    const producer = testKafka('spool-drain-test').producer({
      idempotent: true,
      maxInFlightRequests: 1,
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    await producer.connect();
    const produce = (batch: readonly SpoolRecord[]) =>
      producer.send({ topic, acks: -1, messages: batch.map((r) => ({ key: r.key, value: r.value })) });
    const round1 = await spool.read(10, 1 << 20);
    await produce(round1.records);
    await spool.acknowledge(round1.next, round1.records.length);
    const round2 = await spool.read(10, 1 << 20);
    expect(round2.records.map((r) => r.value)).toEqual(records.slice(10, 20).map((r) => r.value));
    await produce(round2.records);
    await producer.disconnect();
    await spool.close(); // no acknowledge: the crash

    // Those records belong to `topic`: an ingest for another topic refuses the directory.
    await expect(
      startTestIngest({ RAW_WEBHOOK_TOPIC: uniqueName('ingest-raw-other'), INGEST_SPOOL_DIR: dir }),
    ).rejects.toMatchObject({ code: 'INGEST_SPOOL_TOPIC_MISMATCH' });

    // The restarted ingest finds 20 records in its spool, drains them and goes back to writing directly.
    const ingest = await startTestIngest({ RAW_WEBHOOK_TOPIC: topic, INGEST_SPOOL_DIR: dir });
    try {
      expect(ingest.runtime.spooling?.mode).toBe('spooling');
      expect(
        ingest.logs.some((l) => l.includes('"msg":"spool recovered"') && l.includes('"records":20')),
      ).toBe(true);
      await waitFor(async () => (ingest.runtime.spooling?.mode === 'direct' ? true : undefined), {
        timeoutMs: 30_000,
        intervalMs: 50,
        message: 'the spool drained',
      });
      // Exactly the 30 records plus the 10 that were produced but not acknowledged: nothing before them again.
      expect(await topicRecordCount(topic)).toBe(RECORDS + 10);
      const stored = await decodeAll(await readTopic(topic, { count: RECORDS + 10 }));
      const firstSeen = new Map<string, string[]>();
      const seen = new Set<string>();
      for (const r of stored) {
        if (seen.has(r.value.event_id)) continue;
        seen.add(r.value.event_id);
        firstSeen.set(r.key, [...(firstSeen.get(r.key) ?? []), r.value.event_id]);
      }
      expect(seen.size).toBe(RECORDS);
      for (let chat = 0; chat < 3; chat++) {
        const expected = Array.from({ length: RECORDS }, (_, i) => i)
          .filter((i) => i % 3 === chat)
          .map((i) => `drain-${String(i).padStart(3, '0')}`.padEnd(64, '0'));
        expect(firstSeen.get(`org-drain|DRAIN-${chat}`)).toEqual(expected);
      }
      const duplicated = stored.filter(
        (r, i) => stored.findIndex((o) => o.value.event_id === r.value.event_id) !== i,
      );
      expect(duplicated.map((r) => r.value.event_id).sort()).toEqual(
        records.slice(10, 20).map((_, i) => `drain-${String(10 + i).padStart(3, '0')}`.padEnd(64, '0')),
      );
    } finally {
      await ingest.close();
    }
  });
});

describe('records the raw topic refuses for good', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ingest-spool-rejected-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('a body that grows past the topic limit when re-serialised is 413 INGEST_RECORD_TOO_LARGE, stored nowhere', async () => {
    const ingest = await startTestIngest({ INGEST_SPOOL_DIR: dir, INGEST_SPOOL_AFTER_MS: '200' });
    try {
      const f = fixture('v3.6-incoming_event-file') as { payload: Record<string, unknown> };
      // 90,000 numbers written as 9e20 (5 bytes each with the comma): 450 KB, under the 1 MiB body limit; stored
      // re-serialised as 900000000000000000000 they take 2 MB, over the topic's max.message.bytes (1.25 MiB).
      const body = JSON.stringify({ ...f, payload: { ...f.payload, numbers: ['__N__'] } }).replace(
        '"__N__"',
        Array.from({ length: 90_000 }, () => '9e20').join(','),
      );
      const res = await ingest.app.inject({
        method: 'POST',
        url: '/webhooks/livechat',
        headers: { 'content-type': 'application/json' },
        payload: body,
      });
      expect(res.statusCode, res.body).toBe(413);
      expect(res.json()).toMatchObject({ code: 'INGEST_RECORD_TOO_LARGE' });
      expect(ingest.runtime.spooling?.mode).toBe('direct'); // not a Kafka failure: nothing spooled
      expect(await topicRecordCount(ingest.topic)).toBe(0);
      expect((await postWebhook(ingest, fixture('v3.6-incoming_event-file'))).statusCode).toBe(200);
    } finally {
      await ingest.close();
    }
  });

  it('a spooled record Kafka refuses while draining is set aside in rejected/ and the drain goes on, in order', async () => {
    const topic = uniqueName('ingest-raw-rejected');
    const first = await startTestIngest({ RAW_WEBHOOK_TOPIC: topic, INGEST_SPOOL_DIR: dir });
    await first.close();
    const spool = await DiskSpool.open({
      dir,
      maxBytes: 64 << 20,
      segmentBytes: 64 << 20,
      maxRecordBytes: 64 << 20,
    });
    // Spooled by an ingest whose topic took more (or with a bigger body limit): 2 MiB, over this topic's limit.
    const at = (i: number) => 1_794_937_654_000_000 + i;
    await spool.append({ key: Buffer.from('k|C'), value: Buffer.from('small-1'), spooledAtMicros: at(1) });
    await spool.append({ key: Buffer.from('k|C'), value: Buffer.alloc(2 << 20, 7), spooledAtMicros: at(2) });
    await spool.append({ key: Buffer.from('k|C'), value: Buffer.from('small-3'), spooledAtMicros: at(3) });
    await spool.close();
    const ingest = await startTestIngest({ RAW_WEBHOOK_TOPIC: topic, INGEST_SPOOL_DIR: dir });
    try {
      await waitFor(async () => (ingest.runtime.spooling?.mode === 'direct' ? true : undefined), {
        timeoutMs: 30_000,
        intervalMs: 50,
        message: 'the spool drained past the refused record',
      });
      const values = (await readTopic(topic, { count: 2 })).map((m) => m.value?.toString());
      expect(values).toEqual(['small-1', 'small-3']);
      expect(await topicRecordCount(topic)).toBe(2);
      expect(existsSync(join(dir, 'rejected'))).toBe(true);
      expect(readdirSync(join(dir, 'rejected'))).toHaveLength(1);
      const metrics = await (await fetch(`${ingest.operationsUrl}/metrics`)).text();
      expect(metrics).toMatch(/^ingest_spool_rejected_records_total 1$/m);
      expect(ingest.logs.some((l) => l.includes('refuses a spooled record for good'))).toBe(true);
    } finally {
      await ingest.close();
    }
  });
});
