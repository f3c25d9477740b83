import http from 'node:http';
import type { AddressInfo } from 'node:net';
import avro from 'avsc';
import { stackEndpoints, testKafka, uniqueName } from '@livechat-pipeline/testkit';
import { describe, expect, it } from 'vitest';
import { rawWebhookSchema } from '../src/raw-webhook.js';
import { SchemaRegistryClient } from '../src/registry-client.js';
import { loadAvroSchema } from '../src/schemas.js';
import { ConfluentAvroSerde } from '../src/serde.js';
import { ensureTopic } from '../src/topic-admin.js';

/** A pass-through HTTP proxy in front of the real registry, counting the schema-by-id requests that reach it. */
async function countingProxy(
  target: string,
): Promise<{ url: string; lookups: () => number; close: () => Promise<void> }> {
  const upstream = new URL(target);
  let lookups = 0;
  const server = http.createServer((req, res) => {
    if (req.url?.includes('/schemas/ids/')) lookups++;
    const forward = http.request(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: `${upstream.pathname}${req.url ?? ''}`,
        headers: req.headers,
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    lookups: () => lookups,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const registry = () => new SchemaRegistryClient({ baseUrl: stackEndpoints().schemaRegistryUrl });

describe('ConfluentAvroSerde on the real registry', () => {
  it('registers with BACKWARD_TRANSITIVE, encodes, and decodes in a fresh serde', async () => {
    const subject = `${uniqueName('serde')}-value`;
    const writer = new ConfluentAvroSerde(registry());
    const schema = await writer.register(subject, rawWebhookSchema());
    expect(await registry().getCompatibility(subject)).toBe('BACKWARD_TRANSITIVE');
    const again = await writer.register(subject, rawWebhookSchema());
    expect(again.id).toBe(schema.id);

    const value = {
      event_id: 'e'.repeat(64),
      received_at: Date.now() * 1000,
      format: 'v2',
      api_version: '2',
      action: 'chat_started',
      tenant: null,
      tenant_source: 'none',
      chat_id: null,
      thread_id: null,
      webhook_id: null,
      body: '{}',
      content_length: null,
      user_agent: null,
      remote_address: null,
      spooled_at: null,
      archive: null,
      sealed: null,
    };
    const bytes = writer.encode(schema, value);
    expect(bytes[0]).toBe(0);
    expect(bytes.readUInt32BE(1)).toBe(schema.id);

    const proxy = await countingProxy(stackEndpoints().schemaRegistryUrl);
    try {
      const reader = new ConfluentAvroSerde(new SchemaRegistryClient({ baseUrl: proxy.url }));
      // Concurrent misses for one id collapse into one registry request.
      const decoded = await Promise.all(Array.from({ length: 20 }, () => reader.decode(bytes)));
      expect(proxy.lookups()).toBe(1);
      for (const d of decoded) expect(d).toEqual({ schemaId: schema.id, value });
      await reader.decode(bytes);
      expect(proxy.lookups()).toBe(1);
    } finally {
      await proxy.close();
    }
  });

  it('rejects a backward-incompatible schema with a typed error', async () => {
    const subject = `${uniqueName('serde-compat')}-value`;
    const serde = new ConfluentAvroSerde(registry());
    await serde.register(subject, rawWebhookSchema());
    const incompatible = {
      type: 'record',
      name: 'RawWebhook',
      namespace: 'com.livechatpipeline.raw',
      fields: [{ name: 'required_new', type: 'string' }],
    };
    const loaded = {
      path: 'x',
      schema: incompatible as avro.Schema,
      text: JSON.stringify(incompatible),
      type: avro.Type.forSchema(incompatible as avro.Schema),
    };
    await expect(serde.register(subject, loaded)).rejects.toMatchObject({ code: 'EVENTS_REGISTRY_REJECTED' });
  });

  it('decodes into a reader schema (evolution)', async () => {
    const subject = `${uniqueName('serde-evolve')}-value`;
    const serde = new ConfluentAvroSerde(registry());
    const v1 = await serde.register(subject, loadAvroSchema('raw-webhook/released/raw-webhook.v1.avsc'));
    const reader = avro.Type.forSchema({
      type: 'record',
      name: 'RawWebhook',
      namespace: 'com.livechatpipeline.raw',
      fields: [
        { name: 'event_id', type: 'string' },
        { name: 'added_later', type: ['null', 'string'], default: null },
      ],
    });
    const bytes = serde.encode(v1, {
      event_id: 'x',
      received_at: 1,
      format: 'v3',
      api_version: null,
      action: 'a',
      tenant: null,
      tenant_source: 'none',
      chat_id: null,
      thread_id: null,
      webhook_id: null,
      body: '{}',
      content_length: null,
      user_agent: null,
      remote_address: null,
    });
    const { value } = await new ConfluentAvroSerde(registry()).decode(bytes, reader);
    expect(value).toEqual({ event_id: 'x', added_later: null });
  });

  it('fails decoding an unknown schema id with EVENTS_SCHEMA_NOT_FOUND', async () => {
    const bytes = Buffer.from([0, 0x7f, 0xff, 0xff, 0xf0, 2, 0]);
    await expect(new ConfluentAvroSerde(registry()).decode(bytes)).rejects.toMatchObject({
      code: 'EVENTS_SCHEMA_NOT_FOUND',
    });
  });
});

describe('ensureTopic', () => {
  it('creates a missing topic once, with its configs', async () => {
    const kafka = testKafka('events-test');
    const topic = uniqueName('events-topic');
    const spec = { topic, numPartitions: 2, replicationFactor: 1, configs: { 'retention.ms': '-1' } };
    expect(await ensureTopic(kafka, spec)).toBe(true);
    expect(await ensureTopic(kafka, spec)).toBe(false);
    const admin = kafka.admin();
    await admin.connect();
    try {
      const meta = await admin.fetchTopicMetadata({ topics: [topic] });
      expect(meta.topics[0]?.partitions).toHaveLength(2);
    } finally {
      await admin.disconnect();
    }
  });
});
