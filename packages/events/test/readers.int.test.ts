import { stackEndpoints, uniqueName } from '@livechat-pipeline/testkit';
import { describe, expect, it } from 'vitest';
import { chatEventSchema } from '../src/chat-event.js';
import { rawWebhookSchema } from '../src/raw-webhook.js';
import { readChatEvent, readRawWebhook } from '../src/readers.js';
import { SchemaRegistryClient } from '../src/registry-client.js';
import { loadAvroSchema } from '../src/schemas.js';
import { ConfluentAvroSerde } from '../src/serde.js';

const registry = () => new SchemaRegistryClient({ baseUrl: stackEndpoints().schemaRegistryUrl });

/** A message_posted event as the released v1 chat-event schema writes it: its message has no transcript_position. */
const v1MessagePosted = {
  event_id: 'ev-1',
  raw_event_id: 'raw-1',
  tenant: 'org-1',
  chat_id: 'C1',
  thread_id: 'T1',
  occurred_at: 1_700_000_000_000_000,
  received_at: 1_700_000_000_100_000,
  source_format: 'v2',
  api_version: '2',
  type: 'message_posted',
  body: {
    message_posted: {
      message: {
        livechat_event_id: null,
        custom_id: null,
        kind: 'message',
        author_id: 'a@example.com',
        author_kind: 'agent',
        author_name: 'Agent',
        visibility: 'all',
        created_at: 1_700_000_000_000_000,
        text: 'hello',
        file: null,
        form: null,
        system_message_type: null,
        text_vars_json: null,
        template_id: null,
        content_json: null,
        properties_json: null,
      },
    },
  },
};

describe('typed readers on the real registry', () => {
  it('read a chat event written with the released v1 schema with the fields added since at their defaults', async () => {
    const subject = `${uniqueName('reader-chat-v1')}-value`;
    const writer = new ConfluentAvroSerde(registry());
    const v1 = await writer.register(subject, loadAvroSchema('chat-events/released/chat-event.v1.avsc'));
    const bytes = writer.encode(v1, v1MessagePosted);

    // A fresh serde knows no schema: the writer schema comes from the registry by the id in the bytes.
    const serde = new ConfluentAvroSerde(registry());
    const event = await readChatEvent(serde, bytes);
    expect(event.type).toBe('message_posted');
    if (!('message_posted' in event.body)) throw new Error(`unexpected body ${JSON.stringify(event.body)}`);
    const message = event.body.message_posted.message;
    expect(message.text).toBe('hello');
    // The field added after v1 is there, at its default (without resolution it would be missing).
    expect(message).toHaveProperty('transcript_position', null);
    expect(event.sealed).toBeNull();
    expect(chatEventSchema().type.isValid(event)).toBe(true);

    const decoded = await serde.reader(chatEventSchema()).readDecoded(bytes);
    expect(decoded.schemaId).toBe(v1.id);
    expect(decoded.value).toEqual(event);
  });

  it('read a raw webhook written with the released v1 schema into the current shape', async () => {
    const subject = `${uniqueName('reader-raw-v1')}-value`;
    const writer = new ConfluentAvroSerde(registry());
    const v1 = await writer.register(subject, loadAvroSchema('raw-webhook/released/raw-webhook.v1.avsc'));
    const value = {
      event_id: 'e'.repeat(64),
      received_at: 1_700_000_000_000_000,
      format: 'v3',
      api_version: null,
      action: 'incoming_event',
      tenant: 'org-1',
      tenant_source: 'body',
      chat_id: 'C1',
      thread_id: 'T1',
      webhook_id: null,
      body: '{}',
      content_length: 2,
      user_agent: null,
      remote_address: null,
    };
    const raw = await readRawWebhook(new ConfluentAvroSerde(registry()), writer.encode(v1, value));
    // v1 has no spooled_at: the current shape reads it as its default, null (written to Kafka directly).
    expect({ ...raw }).toEqual({ ...value, spooled_at: null, archive: null, sealed: null });
    expect(rawWebhookSchema().type.isValid(raw)).toBe(true);
  });

  it('refuse bytes whose writer schema does not resolve to the reader schema', async () => {
    const subject = `${uniqueName('reader-foreign')}-value`;
    const writer = new ConfluentAvroSerde(registry());
    const raw = await writer.register(subject, rawWebhookSchema());
    const bytes = writer.encode(raw, {
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
    await expect(readChatEvent(new ConfluentAvroSerde(registry()), bytes)).rejects.toMatchObject({
      code: 'EVENTS_DECODE_FAILED',
    });
  });
});
