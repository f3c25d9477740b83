import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import avro from 'avsc';
import type { Schema } from 'avsc';
import { describe, expect, it } from 'vitest';
import { EventsError } from '../src/errors.js';
import { RAW_WEBHOOK_FIELDS, rawWebhookSchema } from '../src/raw-webhook.js';
import type { RawWebhook } from '../src/raw-webhook.js';
import { loadAvroSchema } from '../src/schemas.js';
import { TOPICS, valueSubject } from '../src/topics.js';
import { frame, unframe } from '../src/wire-format.js';

const sample: RawWebhook = {
  event_id: 'a'.repeat(64),
  received_at: 1_794_937_653_123_456,
  format: 'v3',
  api_version: '3.4+',
  action: 'incoming_event',
  tenant: 'f9c7cc55-b35a-4e76-b0d5-ae9fce362314',
  tenant_source: 'body',
  chat_id: 'PJ0MRSHTDG',
  thread_id: null,
  webhook_id: null,
  body: '{"action":"incoming_event","secret_key":"[redacted]"}',
  content_length: 52,
  user_agent: null,
  remote_address: '127.0.0.1',
};

describe('raw webhook schema', () => {
  it('loads from schemas/ relative to the package, whatever the cwd', () => {
    const cwd = process.cwd();
    process.chdir('/');
    try {
      expect(rawWebhookSchema().type.name).toBe('com.livechatpipeline.raw.RawWebhook');
    } finally {
      process.chdir(cwd);
    }
  });

  it('has exactly the fields of the RawWebhook type, and round-trips a value with microsecond time', () => {
    const type = rawWebhookSchema().type as avro.types.RecordType;
    expect(type.fields.map((f) => f.name)).toEqual([...RAW_WEBHOOK_FIELDS]);
    // spooled_at left out is written as its default, null.
    expect(type.fromBuffer(type.toBuffer(sample))).toEqual({
      ...sample,
      spooled_at: null,
      archive: null,
      sealed: null,
    });
    const spooled = { ...sample, spooled_at: 1_794_937_660_000_001, archive: null, sealed: null };
    expect(type.fromBuffer(type.toBuffer(spooled))).toEqual(spooled);
  });

  it('the released v1 can be read by the current schema (backward) and is kept verbatim', () => {
    const released = loadAvroSchema('raw-webhook/released/raw-webhook.v1.avsc').type;
    const current = rawWebhookSchema().type;
    const resolver = current.createResolver(released);
    // A v1 record has no spooled_at: it reads as null (it was written to Kafka directly).
    expect(current.fromBuffer(released.toBuffer(sample), resolver)).toEqual({
      ...sample,
      spooled_at: null,
      archive: null,
      sealed: null,
    });
  });

  it('a current record with spooled_at can be read by a v1 reader (forward: it skips the new field)', () => {
    const released = loadAvroSchema('raw-webhook/released/raw-webhook.v1.avsc').type;
    const current = rawWebhookSchema().type;
    const spooled = { ...sample, spooled_at: 1_794_937_660_000_001 };
    expect(released.fromBuffer(current.toBuffer(spooled), released.createResolver(current))).toEqual(sample);
  });

  it('an archive record (v2) is read by a v1 reader as a v3 record with an unknown action (old consumers keep reading)', () => {
    const released = loadAvroSchema('raw-webhook/released/raw-webhook.v1.avsc').type;
    const current = rawWebhookSchema().type;
    const archived = {
      ...sample,
      action: 'archive_thread',
      tenant_source: 'path' as const,
      body: '{"id":"C1","thread":{"id":"T1","active":false,"events":[]}}',
      spooled_at: null,
      archive: {
        method: 'list_archives',
        page_id: 'MTUxNzM5ODEzMTQ5Ng==',
        page_number: 2,
        read_at: 1_794_937_660_000_001,
        part: 1,
        parts: 1,
      },
      sealed: null,
    };
    const { spooled_at: _s, archive: _a, sealed: _sealed, ...v1View } = archived;
    expect(released.fromBuffer(current.toBuffer(archived), released.createResolver(current))).toEqual(v1View);
    expect(current.fromBuffer(current.toBuffer(archived))).toEqual(archived);
  });

  it('why archives are not a WebhookFormat symbol: a v1 reader could not resolve such a writer schema at all', () => {
    const released = loadAvroSchema('raw-webhook/released/raw-webhook.v1.avsc');
    const schema = rawWebhookSchema().schema as unknown as { fields: { name: string; type: unknown }[] };
    const withSymbol = {
      ...schema,
      fields: schema.fields.map((f) =>
        f.name === 'format'
          ? { ...f, type: { type: 'enum', name: 'WebhookFormat', symbols: ['v2', 'v3', 'archive'] } }
          : f,
      ),
    };
    // Resolution fails for every record of such a writer, webhooks included, not only archives.
    expect(() =>
      released.type.createResolver(avro.Type.forSchema(withSymbol as unknown as Schema)),
    ).toThrow();
    // The separate field resolves.
    expect(() => released.type.createResolver(rawWebhookSchema().type)).not.toThrow();
  });

  it('names the missing file in a typed error', () => {
    expect(() => loadAvroSchema('nope/missing.avsc')).toThrowError(EventsError);
  });

  it('topic names and subjects', () => {
    expect(TOPICS.rawWebhook).toBe('livechat.webhooks.raw');
    expect(valueSubject('t')).toBe('t-value');
  });

  it('the schema file is valid JSON with docs for every field', () => {
    const file = fileURLToPath(new URL('../../../schemas/raw-webhook/raw-webhook.avsc', import.meta.url));
    const json = JSON.parse(readFileSync(file, 'utf8')) as { fields: { doc?: string }[] };
    for (const f of json.fields) expect(f.doc).toBeTruthy();
  });
});

describe('Confluent wire format', () => {
  it('frames with magic byte 0 and a 4-byte big-endian id', () => {
    const bytes = frame(258, Buffer.from([9, 9]));
    expect([...bytes]).toEqual([0, 0, 0, 1, 2, 9, 9]);
    const { schemaId, body } = unframe(bytes);
    expect(schemaId).toBe(258);
    expect([...body]).toEqual([9, 9]);
  });

  it('refuses short messages and unknown magic bytes', () => {
    expect(() => unframe(Buffer.from([0, 1]))).toThrowError(
      expect.objectContaining({ code: 'EVENTS_WIRE_FORMAT_INVALID' }) as Error,
    );
    expect(() => unframe(Buffer.from([1, 0, 0, 0, 1, 5]))).toThrowError(/magic byte 1/);
  });
});
