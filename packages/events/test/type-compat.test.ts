import { parseWebhook } from '@livechat-pipeline/livechat';
import type {
  ChatDomainEvent,
  ChatEventBodies,
  ChatEventEnvelope,
  ChatEventType,
} from '@livechat-pipeline/livechat';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { chatEventSchema } from '../src/chat-event.js';
import type { ChatEventAvro, RawWebhookAvro } from '../src/index.js';
import { rawWebhookSchema } from '../src/raw-webhook.js';
import type {
  ArchiveSource,
  RawWebhook,
  SealedBody,
  TenantSource,
  WebhookFormat,
} from '../src/raw-webhook.js';
import type { WithSealed } from '../src/sealed-chat-event.js';

// The hand-written types (packages/livechat's ChatDomainEvent, raw-webhook.ts's RawWebhook) against the types
// generated from the .avsc files. The expectTypeOf checks are compile-time: `pnpm typecheck` (tsc) fails on them.

/** String literal unions widened to `string`, recursively: what the hand-written types say beyond the schema. */
type Loosen<T> = T extends string
  ? string
  : T extends readonly (infer U)[]
    ? readonly Loosen<U>[]
    : T extends object
      ? { readonly [K in keyof T]: Loosen<T[K]> }
      : T;

type Body = ChatEventAvro.ChatEvent['body'];
/** The branch names of the generated body union (avsc's wrapped-union keys). */
type BranchName = Body extends infer B ? (B extends unknown ? keyof B : never) : never;
type BranchRecord<K extends BranchName> = Extract<Body, { readonly [P in K]: unknown }>[K];

describe('generated ChatEvent vs @livechat-pipeline/livechat ChatDomainEvent', () => {
  it('every ChatDomainEvent is a generated ChatEvent (what the parser emits, the schema can carry)', () => {
    // `sealed` (issue 19) is not the parser's: sealChatEvent sets it, and writing without it writes its default.
    expectTypeOf<ChatDomainEvent>().toExtend<Omit<ChatEventAvro.ChatEvent, 'sealed'>>();
    expectTypeOf<WithSealed<ChatDomainEvent>>().toExtend<ChatEventAvro.ChatEvent>();
  });

  it('both sides are the same shape once the hand-written string literals are widened to string', () => {
    expectTypeOf<BranchName>().toEqualTypeOf<ChatEventType>();
    expectTypeOf<{ [K in ChatEventType]: Loosen<ChatEventBodies[K]> }>().toEqualTypeOf<{
      [K in BranchName]: BranchRecord<K>;
    }>();
    expectTypeOf<Loosen<ChatEventEnvelope>>().toEqualTypeOf<
      Omit<ChatEventAvro.ChatEvent, 'type' | 'body' | 'sealed'>
    >();
    expectTypeOf<ChatEventAvro.ChatEvent['type']>().toEqualTypeOf<string>();
  });

  it('the gap: the generated type is wider (type not tied to body, kinds are plain strings)', () => {
    // Avro cannot say "type equals the body's branch name", nor that a `string` field holds only some values
    // (kind/author_kind/visibility/… are strings on purpose so new values stay readable).
    expectTypeOf<ChatEventAvro.ChatEvent>().not.toExtend<ChatDomainEvent>();
    expectTypeOf<ChatEventAvro.ChatUser>().not.toExtend<ChatEventBodies['thread_started']['users'][number]>();
    expectTypeOf<ChatEventAvro.ChatUser>().toExtend<
      Loosen<ChatEventBodies['thread_started']['users'][number]>
    >();
  });

  it('parsed events are values of the generated type and of the schema', () => {
    const events: readonly Omit<ChatEventAvro.ChatEvent, 'sealed'>[] = parseWebhook(
      {
        event_type: 'chat_started',
        license_id: 123,
        token: 'x',
        chat: {
          id: 'C2',
          started_timestamp: 1_700_000_000,
          messages: [{ user_type: 'visitor', author_name: 'V', text: 'hello', timestamp: 1_700_000_001 }],
          tags: ['a'],
        },
        visitor: { id: 'v1', name: 'V' },
      },
      { rawEventId: 'r2', receivedAtMicros: 1_700_000_000_000_000 },
    );
    expect(events.map((e) => e.type)).toEqual(['thread_started', 'customer_identified', 'message_posted']);
    const type = chatEventSchema().type;
    for (const e of events) {
      expect(Object.keys(e.body)).toEqual([e.type]);
      expect(type.fromBuffer(type.toBuffer(e))).toEqual({ ...e, sealed: null });
    }
  });
});

describe('generated RawWebhook vs the hand-written one in raw-webhook.ts', () => {
  it('equal up to readonly, except that spooled_at, archive and sealed (fields with a default) may be left out when writing', () => {
    expectTypeOf<RawWebhookAvro.RawWebhook>().toExtend<RawWebhook>();
    expectTypeOf<Required<RawWebhook>>().toExtend<RawWebhookAvro.RawWebhook>();
    expectTypeOf<Readonly<Required<RawWebhook>>>().toEqualTypeOf<RawWebhookAvro.RawWebhook>();
    expectTypeOf<WebhookFormat>().toEqualTypeOf<RawWebhookAvro.WebhookFormat>();
    expectTypeOf<TenantSource>().toEqualTypeOf<RawWebhookAvro.TenantSource>();
    expectTypeOf<ArchiveSource>().toEqualTypeOf<RawWebhookAvro.ArchiveSource>();
    expectTypeOf<SealedBody>().toEqualTypeOf<RawWebhookAvro.SealedBody>();
  });

  it('a value of the generated type round-trips through the schema', () => {
    const value: RawWebhookAvro.RawWebhook = {
      event_id: 'b'.repeat(64),
      received_at: 1_794_937_653_123_456,
      format: 'v2',
      api_version: '2',
      action: 'chat_started',
      tenant: '123',
      tenant_source: 'body',
      chat_id: 'C2',
      thread_id: 'C2',
      webhook_id: null,
      body: '{}',
      content_length: 2,
      user_agent: null,
      remote_address: null,
      spooled_at: 1_794_937_660_000_000,
      archive: null,
      sealed: null,
    };
    const handWritten: RawWebhook = value;
    const type = rawWebhookSchema().type;
    expect(type.fromBuffer(type.toBuffer(handWritten))).toEqual(value);
  });

  it('a hand-written value without spooled_at, archive and sealed is written with their default, null', () => {
    const {
      spooled_at: _omitted,
      archive: _omittedArchive,
      sealed: _omittedSealed,
      ...direct
    } = {
      event_id: 'c'.repeat(64),
      received_at: 1_794_937_653_123_456,
      format: 'v3',
      api_version: '3.6+',
      action: 'incoming_event',
      tenant: 'org-1',
      tenant_source: 'body',
      chat_id: 'C3',
      thread_id: 'T3',
      webhook_id: null,
      body: '{}',
      content_length: 2,
      user_agent: null,
      remote_address: null,
      spooled_at: null,
      archive: null,
      sealed: null,
    } satisfies RawWebhookAvro.RawWebhook;
    const handWritten: RawWebhook = direct;
    const type = rawWebhookSchema().type;
    expect(type.fromBuffer(type.toBuffer(handWritten))).toEqual({
      ...direct,
      spooled_at: null,
      archive: null,
      sealed: null,
    });
  });
});
