import { describe, expect, it } from 'vitest';
import {
  ConfluentAvroSerde,
  SchemaRegistryClient,
  frame,
  isEventsError,
  rawWebhookSchema,
} from '../src/index.js';
import type { RawWebhook, RegisteredSchema } from '../src/index.js';

// No registry is contacted: encoding with a registered schema is local.
const serde = new ConfluentAvroSerde(new SchemaRegistryClient({ baseUrl: 'http://127.0.0.1:9' }));
const schema: RegisteredSchema = { subject: 'raw-value', id: 0x01020304, type: rawWebhookSchema().type };
const record = (body: string): RawWebhook => ({
  event_id: 'e1',
  received_at: 1_700_000_000_000_000,
  format: 'v3',
  api_version: null,
  action: 'incoming_event',
  tenant: 'org',
  tenant_source: 'body',
  chat_id: 'C1',
  thread_id: 'T1',
  webhook_id: null,
  body,
  content_length: null,
  user_agent: null,
  remote_address: null,
});
const reference = (value: RawWebhook) => frame(schema.id, schema.type.toBuffer(value));

describe('ConfluentAvroSerde.encode', () => {
  it('writes the Confluent wire format: magic byte, schema id, the Avro body', () => {
    for (const size of [0, 10, 900, 5_000, 300_000]) {
      const value = record('x'.repeat(size));
      expect(serde.encode(schema, value).equals(reference(value)), `body of ${size}`).toBe(true);
    }
  });

  it('returns independent buffers (the scratch buffer is reused)', () => {
    const big = record('a'.repeat(100_000));
    const small = record('b');
    const a = serde.encode(schema, big);
    serde.encode(schema, small);
    expect(a.equals(reference(big))).toBe(true);
  });

  it('refuses a value that does not fit the schema with EVENTS_ENCODE_FAILED', () => {
    let caught: unknown;
    try {
      serde.encode(schema, { ...record('x'), format: 'v9' });
    } catch (error) {
      caught = error;
    }
    expect(isEventsError(caught) && caught.code).toBe('EVENTS_ENCODE_FAILED');
  });
});
