import { describe, expect, it } from 'vitest';
import {
  DEFAULT_V2_TOKEN,
  expectedChats,
  generateChats,
  renderV2,
  tagsAt,
  type V2ChatChangedBody,
  type V2ChatEndedBody,
  type V2WebhookBody,
} from '../src/index.js';

describe('renderV2', () => {
  const chats = generateChats({ seed: 8, chats: 60 });
  const webhooks = renderV2(chats);
  const bodies = webhooks.flatMap((webhook): V2WebhookBody[] =>
    webhook.format === 'v2' ? [webhook.body] : [],
  );
  const ended = (chatId: string): V2ChatEndedBody | undefined =>
    bodies.find((b): b is V2ChatEndedBody => b.event_type === 'chat_ended' && b.chat.id === chatId);

  it('puts event_type, token and license_id on every body', () => {
    expect(bodies).toHaveLength(webhooks.length);
    for (const webhook of webhooks) {
      if (webhook.format !== 'v2') continue;
      expect(['chat_started', 'chat_changed', 'chat_ended']).toContain(webhook.body.event_type);
      expect(webhook.body.token).toBe(DEFAULT_V2_TOKEN);
      expect(webhook.body.license_id).toBe(webhook.tenant.licenseId);
      expect(typeof webhook.body.license_id).toBe('string');
      if ('event_unique_id' in webhook.body) expect(webhook.body.event_unique_id).toMatch(/^[0-9a-f]{32}$/);
    }
    expect(bodies.some((b) => b.event_unique_id !== undefined)).toBe(true);
    expect(bodies.some((b) => b.event_unique_id === undefined)).toBe(true);
  });

  it('takes the token it is given', () => {
    const custom = renderV2(chats.slice(0, 2), { token: 'tok-1' });
    expect(custom.every((w) => w.format === 'v2' && w.body.token === 'tok-1')).toBe(true);
  });

  it('renders the same chat to the same bytes whatever it is rendered with', () => {
    const alone = renderV2(chats.slice(3, 4)).map((w) => JSON.stringify(w.body));
    const together = webhooks.filter((w) => w.chatId === chats[3]?.chatId).map((w) => JSON.stringify(w.body));
    expect(together).toEqual(alone);
  });

  it('ends each chat with the full transcript, equal to the expected messages at second precision', () => {
    for (const expected of expectedChats(chats)) {
      const body = ended(expected.chatId);
      expect(body?.chat.messages.map((m) => m.text)).toEqual(expected.messages.map((m) => m.text));
      expect(body?.chat.messages.map((m) => m.timestamp)).toEqual(
        expected.messages.map((m) => m.createdAtEpochSeconds),
      );
      expect(body?.chat.messages.map((m) => (m.user_type === 'visitor' ? 'customer' : 'agent'))).toEqual(
        expected.messages.map((m) => m.authorKind),
      );
      expect(body?.chat.messages.map((m) => (m.user_type === 'supervisor' ? 'agents' : 'all'))).toEqual(
        expected.messages.map((m) => m.visibility),
      );
      expect(body?.chat.messages.map((m) => m.agent_id ?? null)).toEqual(
        expected.messages.map((m) => m.agentId),
      );
      expect(body?.chat.started_timestamp).toBe(expected.startedAtEpochSeconds);
      expect(body?.chat.ended_timestamp).toBe(expected.endedAtEpochSeconds);
      expect(body?.visitor.email).toBe(expected.customerEmail);
      expect(body?.chat.groups).toEqual([expected.groupId]);
      expect(body?.chat.agents).toEqual([expect.objectContaining({ login: expected.agentId })]);
    }
  });

  it('marks whispers with user_type supervisor', () => {
    const whispers = bodies
      .flatMap((b) => (b.event_type === 'chat_ended' ? b.chat.messages : []))
      .filter((m) => m.user_type === 'supervisor');
    expect(whispers.length).toBeGreaterThan(0);
    for (const whisper of whispers) expect(whisper.agent_id).toMatch(/@/);
  });

  it('starts with the first message and the survey, or an empty survey when it was skipped', () => {
    for (const chat of chats) {
      const started = bodies.filter((b) => b.event_type === 'chat_started' && b.chat.id === chat.chatId);
      expect(started).toHaveLength(1);
      const body = started[0];
      if (body?.event_type !== 'chat_started') throw new Error('no chat_started');
      expect(body.chat.messages.map((m) => m.text)).toEqual([chat.messages[0]?.text]);
      expect(body.chat.tags).toEqual([...chat.initialTags].sort());
      if (chat.prechatSurvey) {
        expect(body.pre_chat_survey.map((field) => [field.type, field.answer])).toEqual([
          ['name', chat.customer.name],
          ['email', chat.customer.email],
        ]);
      } else {
        expect(body.pre_chat_survey).toEqual([]);
      }
    }
  });

  it('sends chat_changed with the whole tag list on every tag change, and closes with a closed event for people', () => {
    for (const chat of chats) {
      const changed = bodies.filter(
        (b): b is V2ChatChangedBody => b.event_type === 'chat_changed' && b.chat.id === chat.chatId,
      );
      expect(changed.map((b) => b.chat.tags)).toEqual(
        chat.tagChanges.map((change) => tagsAt(chat, change.at)),
      );
      const events = ended(chat.chatId)?.chat.events ?? [];
      if (chat.closedBy.by === 'system') expect(events).toEqual([]);
      else
        expect(events).toEqual([
          expect.objectContaining({
            type: 'closed',
            user_type: chat.closedBy.by === 'agent' ? 'agent' : 'visitor',
          }),
        ]);
    }
  });
});
