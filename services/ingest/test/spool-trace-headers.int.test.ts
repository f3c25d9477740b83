import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ConfluentAvroSerde,
  SchemaRegistryClient,
  rawWebhookSchema,
  valueSubject,
} from '@livechat-pipeline/events';
import { readTopic, stackEndpoints, uniqueName } from '@livechat-pipeline/testkit';
import { afterAll, describe, expect, it } from 'vitest';
import type { KeyedRawRecord } from '../src/raw-record.js';
import { DiskSpool } from '../src/spool/disk-spool.js';
import { SpoolingPublisher } from '../src/spool/spooling-publisher.js';
import { startTestIngest } from './support/harness.js';

// A traced webhook that was spooled (Kafka down) reaches the real raw topic through the drain (publishEncoded)
// with its `traceparent` header when INGEST_SPOOL_TRACE_HEADERS=true; with the default (false) it is spooled and
// drained without headers (spool frame version 1, which an older ingest can read after a rollback).

const TRACEPARENT = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

describe('spooled trace headers drain to Kafka', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ingest-spool-trace-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('with INGEST_SPOOL_TRACE_HEADERS=true the drained record has its traceparent; with false it has none', async () => {
    const topic = uniqueName('ingest-raw-trace');
    // A first ingest creates the topic and notes it (and the schema) in the spool directory.
    const first = await startTestIngest({ RAW_WEBHOOK_TOPIC: topic, INGEST_SPOOL_DIR: dir });
    await first.close();
    const serde = new ConfluentAvroSerde(
      new SchemaRegistryClient({ baseUrl: stackEndpoints().schemaRegistryUrl }),
    );
    const schema = await serde.register(valueSubject(topic), rawWebhookSchema());

    // Two webhooks spooled while "Kafka is down" (the direct side refuses, so nothing drains yet), one per setting.
    for (const spoolTraceHeaders of [true, false]) {
      const spool = await DiskSpool.open({
        dir,
        maxBytes: 1 << 20,
        segmentBytes: 1 << 20,
        maxRecordBytes: 1 << 20,
      });
      const publisher = new SpoolingPublisher({
        direct: {
          publishCancellable: () => {
            throw new Error('not used: the publisher starts spooling');
          },
          publishEncoded: () => Promise.reject(new Error('Kafka is down in this test')),
        },
        spool,
        serde,
        schema,
        spoolAfterMs: 1000,
        maxRecordBytes: 1 << 20,
        drainMaxRecords: 100,
        drainMaxBytes: 1 << 20,
        spoolFromStart: 'test',
        spoolTraceHeaders,
      });
      const record: KeyedRawRecord = {
        key: `org-trace|CHAT-${String(spoolTraceHeaders)}`,
        headers: { traceparent: TRACEPARENT },
        value: {
          event_id: `trace-${String(spoolTraceHeaders)}`.padEnd(64, '0'),
          received_at: 1_794_937_653_000_000,
          format: 'v3',
          api_version: '3.6+',
          action: 'incoming_event',
          tenant: 'org-trace',
          tenant_source: 'body',
          chat_id: `CHAT-${String(spoolTraceHeaders)}`,
          thread_id: 'T1',
          webhook_id: null,
          body: '{}',
          content_length: 2,
          user_agent: null,
          remote_address: null,
        },
      };
      await publisher.publish(record, performance.now() + 5000);
      await publisher.close();
      await spool.close();
    }

    // The ingest starts with the spool holding both and drains them to the real topic.
    const ingest = await startTestIngest({
      RAW_WEBHOOK_TOPIC: topic,
      INGEST_SPOOL_DIR: dir,
      INGEST_SPOOL_TRACE_HEADERS: 'true',
    });
    try {
      const drained = await readTopic(topic, { count: 2, timeoutMs: 20_000 });
      const traceparentOf = (chat: string) =>
        drained.find((m) => m.key?.toString() === `org-trace|${chat}`)?.headers?.['traceparent']?.toString();
      expect(drained).toHaveLength(2);
      expect(traceparentOf('CHAT-true')).toBe(TRACEPARENT);
      expect(traceparentOf('CHAT-false')).toBeUndefined();
    } finally {
      await ingest.close();
    }
  });
});
