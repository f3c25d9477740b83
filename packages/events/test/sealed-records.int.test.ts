import { randomBytes } from 'node:crypto';
import { ChatKey } from '@livechat-pipeline/privacy';
import { stackEndpoints, uniqueName } from '@livechat-pipeline/testkit';
import { describe, expect, it } from 'vitest';
import { chatEventSchema } from '../src/chat-event.js';
import { rawWebhookSchema } from '../src/raw-webhook.js';
import type { RawWebhook } from '../src/raw-webhook.js';
import { readChatEvent, readRawWebhook } from '../src/readers.js';
import { SchemaRegistryClient } from '../src/registry-client.js';
import { loadAvroSchema } from '../src/schemas.js';
import { chatEventKeyScope, openChatEvent, sealChatEvent } from '../src/sealed-chat-event.js';
import { openRawBody, sealRawBody } from '../src/sealed-raw-webhook.js';
import { ConfluentAvroSerde } from '../src/serde.js';

// Sealed records (issue 19) through the Confluent wire format and the real registry: what the ingest and the
// normalizer write is what the consumers read and open; a reader on the released schema before `sealed` skips it.

const registry = () => new SchemaRegistryClient({ baseUrl: stackEndpoints().schemaRegistryUrl });

const body = JSON.stringify({
  action: 'incoming_event',
  payload: { chat_id: 'C1', event: { text: 'Canary' } },
});
const raw: RawWebhook = {
  event_id: 'f'.repeat(64),
  received_at: 1_794_937_653_123_456,
  format: 'v3',
  api_version: '3.6+',
  action: 'incoming_event',
  tenant: 'org-1',
  tenant_source: 'body',
  chat_id: 'C1',
  thread_id: 'T1',
  webhook_id: null,
  body,
  content_length: body.length,
  user_agent: null,
  remote_address: null,
};

const message = {
  event_id: '0b1a6f5e-8d4c-8a2b-9c3d-4e5f6a7b8c9d',
  raw_event_id: raw.event_id,
  tenant: 'org-1',
  chat_id: 'C1',
  thread_id: 'T1',
  occurred_at: 1_794_937_653_000_000,
  received_at: 1_794_937_653_123_456,
  source_format: 'v3',
  api_version: '3.6+',
  type: 'message_posted',
  body: {
    message_posted: {
      message: {
        livechat_event_id: 'T1_1',
        custom_id: null,
        kind: 'message',
        author_id: 'customer-1',
        author_kind: 'customer',
        author_name: 'Canary Name',
        visibility: 'all',
        created_at: 1_794_937_653_000_000,
        text: 'Canary text',
        file: null,
        form: null,
        system_message_type: null,
        text_vars_json: null,
        template_id: null,
        content_json: null,
        properties_json: null,
        transcript_position: null,
      },
    },
  },
};

describe('sealed records on the real registry', () => {
  it('a sealed raw webhook and a sealed chat event encode, decode and open; erased ones stay erased', async () => {
    const key = new ChatKey('org-1', 'C1', 1, randomBytes(32));
    const writer = new ConfluentAvroSerde(registry());
    const rawSchema = await writer.register(`${uniqueName('sealed-raw')}-value`, rawWebhookSchema());
    const eventSchema = await writer.register(`${uniqueName('sealed-chat')}-value`, chatEventSchema());
    const reader = new ConfluentAvroSerde(registry());

    const rawBytes = writer.encode(rawSchema, sealRawBody(raw, 'C1', key));
    expect(rawBytes.toString('latin1')).not.toContain('Canary');
    const rawRead = await readRawWebhook(reader, rawBytes);
    expect(rawRead.body).toBe('');
    expect(openRawBody(rawRead, { state: 'active', key })).toEqual({ body });

    const scope = chatEventKeyScope(message)!;
    const eventBytes = writer.encode(eventSchema, sealChatEvent(message, scope, key));
    expect(eventBytes.toString('latin1')).not.toContain('Canary');
    const eventRead = await readChatEvent(reader, eventBytes);
    expect(openChatEvent(eventRead, { state: 'active', key })).toEqual({
      event: { ...message, sealed: null },
      outcome: 'opened',
    });

    const erasedRaw = await readRawWebhook(
      reader,
      writer.encode(rawSchema, sealRawBody(raw, 'C1', 'erased')),
    );
    expect(openRawBody(erasedRaw, undefined)).toEqual({ erased: true });
    const erasedEvent = await readChatEvent(
      reader,
      writer.encode(eventSchema, sealChatEvent(message, scope, 'erased')),
    );
    expect(openChatEvent(erasedEvent, undefined).outcome).toBe('erased');
  });

  it('a reader on the schemas released before `sealed` reads sealed records without it (forward compatible)', async () => {
    const key = new ChatKey('org-1', 'C1', 1, randomBytes(32));
    const writer = new ConfluentAvroSerde(registry());
    const subject = `${uniqueName('sealed-old-reader')}-value`;
    await writer.register(subject, loadAvroSchema('chat-events/released/chat-event.v1.avsc'));
    const current = await writer.register(subject, chatEventSchema());
    const bytes = writer.encode(current, sealChatEvent(message, 'C1', key));
    const oldReader = new ConfluentAvroSerde(registry()).reader(
      loadAvroSchema('chat-events/released/chat-event.v1.avsc'),
    );
    const old = (await oldReader.read(bytes)) as { type: string; sealed?: unknown };
    expect(old.type).toBe('message_posted');
    expect(old).not.toHaveProperty('sealed');
  });
});
