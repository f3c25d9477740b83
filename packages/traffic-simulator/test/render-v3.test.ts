import { describe, expect, it } from 'vitest';
import {
  DEFAULT_V3_SECRET_KEY,
  expectedChats,
  generateChats,
  renderV3,
  type V3IncomingChatBody,
  type V3WebhookBody,
} from '../src/index.js';

const RFC3339_MICROS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

describe('renderV3', () => {
  const chats = generateChats({ seed: 5, chats: 60 });
  const webhooks = renderV3(chats);
  const bodies = webhooks.flatMap((webhook) => (webhook.format === 'v3' ? [webhook.body] : []));

  it('puts the v3.6 envelope on every body', () => {
    expect(bodies).toHaveLength(webhooks.length);
    for (const webhook of webhooks) {
      if (webhook.format !== 'v3') continue;
      const { body } = webhook;
      expect(Object.keys(body).sort()).toEqual(
        ['action', 'additional_data', 'organization_id', 'payload', 'secret_key', 'webhook_id'].sort(),
      );
      expect(body.secret_key).toBe(DEFAULT_V3_SECRET_KEY);
      expect(body.organization_id).toBe(webhook.tenant.organizationId);
      expect(body.webhook_id).toMatch(/^[0-9a-f]{32}$/);
      const chat = chats.find((c) => c.chatId === webhook.chatId);
      expect(body.additional_data.chat_presence_user_ids).toEqual(
        expect.arrayContaining([chat?.customer.id, chat?.agent.id]),
      );
      expect(body.additional_data.chat_properties).toHaveProperty('source.client_id');
    }
  });

  it('uses one webhook_id per action, the same on every body', () => {
    const idsByAction = new Map<string, Set<string>>();
    for (const body of bodies)
      idsByAction.set(body.action, (idsByAction.get(body.action) ?? new Set()).add(body.webhook_id));
    expect([...idsByAction.keys()].sort()).toEqual(
      [
        'chat_deactivated',
        'incoming_chat',
        'incoming_event',
        'thread_tagged',
        'thread_untagged',
        'user_added_to_chat',
      ].sort(),
    );
    for (const ids of idsByAction.values()) expect(ids.size).toBe(1);
    expect(new Set([...idsByAction.values()].flatMap((ids) => [...ids])).size).toBe(idsByAction.size);
  });

  it('takes the secret key and webhook ids it is given', () => {
    const custom = renderV3(chats.slice(0, 1), { secretKey: 'k-123', webhookIds: { incoming_chat: 'wh-1' } });
    const customBodies = custom.flatMap((w): V3WebhookBody[] => (w.format === 'v3' ? [w.body] : []));
    expect(customBodies.every((body) => body.secret_key === 'k-123')).toBe(true);
    expect(customBodies.find((body) => body.action === 'incoming_chat')?.webhook_id).toBe('wh-1');
  });

  it('sends one incoming_chat per chat, with the form and the first message in the thread', () => {
    const incoming = bodies.filter((b): b is V3IncomingChatBody => b.action === 'incoming_chat');
    expect(incoming.map((b) => b.payload.chat.id)).toEqual(
      expect.arrayContaining(chats.map((c) => c.chatId)),
    );
    expect(incoming).toHaveLength(chats.length);
    for (const chat of chats) {
      const body = incoming.find((b) => b.payload.chat.id === chat.chatId);
      const thread = body?.payload.chat.thread;
      expect(thread?.id).toBe(chat.threadId);
      expect(thread?.created_at).toMatch(RFC3339_MICROS);
      const types = thread?.events.map((event) => event.type);
      expect(types).toEqual(chat.prechatSurvey ? ['filled_form', 'message'] : ['message']);
      expect(body?.payload.chat.users.map((user) => user.type)).toEqual(['customer', 'agent']);
      expect(body?.payload.chat.access.group_ids).toEqual([chat.groupId]);
      if (chat.initialTags.length > 0) expect(thread?.tags).toEqual(chat.initialTags);
      else expect(thread).not.toHaveProperty('tags');
    }
  });

  it('carries every expected message, in order, with its author, visibility and time', () => {
    for (const expected of expectedChats(chats)) {
      const chat = chats.find((c) => c.chatId === expected.chatId);
      const events = bodies.flatMap((body) => {
        if (body.action === 'incoming_chat' && body.payload.chat.id === expected.chatId)
          return body.payload.chat.thread.events;
        if (body.action === 'incoming_event' && body.payload.chat_id === expected.chatId)
          return [body.payload.event];
        return [];
      });
      const messages = events.flatMap((event) => (event.type === 'message' ? [event] : []));
      expect(messages.map((m) => m.text)).toEqual(expected.messages.map((m) => m.text));
      expect(messages.map((m) => m.created_at)).toEqual(expected.messages.map((m) => m.createdAt));
      expect(messages.map((m) => m.visibility)).toEqual(expected.messages.map((m) => m.visibility));
      expect(messages.map((m) => (m.author_id === chat?.customer.id ? 'customer' : 'agent'))).toEqual(
        expected.messages.map((m) => m.authorKind),
      );
      for (const message of messages) {
        expect(message.id).toMatch(new RegExp(`^${expected.threadId}_\\d+$`));
        expect(message.created_at).toMatch(RFC3339_MICROS);
      }
    }
  });

  it('sends a whisper as a message visible to agents only, authored by the supervisor', () => {
    const whispers = bodies.flatMap((body) =>
      body.action === 'incoming_event' &&
      body.payload.event.type === 'message' &&
      body.payload.event.visibility === 'agents'
        ? [{ ...body, payload: { ...body.payload, event: body.payload.event } }]
        : [],
    );
    expect(whispers.length).toBeGreaterThan(0);
    for (const whisper of whispers) {
      const chat = chats.find((c) => c.chatId === whisper.payload.chat_id);
      expect(whisper.payload.event.author_id).toBe(chat?.supervisor?.id);
      expect(whisper.additional_data.chat_presence_user_ids).toContain(chat?.supervisor?.id);
    }
  });

  it('tags and untags by name and closes with user_id only when a person closed the thread', () => {
    for (const chat of chats) {
      const tagBodies = bodies.flatMap((body) =>
        (body.action === 'thread_tagged' || body.action === 'thread_untagged') &&
        body.payload.chat_id === chat.chatId
          ? [body]
          : [],
      );
      expect(
        tagBodies.map((b) => [b.action === 'thread_tagged' ? 'tagged' : 'untagged', b.payload.tag]),
      ).toEqual(chat.tagChanges.map((change) => [change.kind, change.tag]));
      const deactivated = bodies.filter(
        (b) => b.action === 'chat_deactivated' && b.payload.chat_id === chat.chatId,
      );
      expect(deactivated).toHaveLength(1);
      const payload = deactivated[0]?.payload;
      if (chat.closedBy.by === 'system') expect(payload).not.toHaveProperty('user_id');
      else
        expect(payload).toHaveProperty(
          'user_id',
          chat.closedBy.by === 'agent' ? chat.closedBy.agentId : chat.customer.id,
        );
      expect(payload).toMatchObject({ chat_id: chat.chatId, thread_id: chat.threadId });
    }
  });

  it('returns webhooks in emission order, chats interleaved', () => {
    const times = webhooks.map((w) => w.emittedAt);
    expect(times).toEqual([...times].sort((a, b) => a - b));
    const firstTen = webhooks.slice(0, 30).map((w) => w.chatId);
    expect(new Set(firstTen).size).toBeGreaterThan(1);
  });
});
