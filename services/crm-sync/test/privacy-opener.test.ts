import { randomBytes } from 'node:crypto';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { chatEventKeyScope, sealChatEvent } from '@livechat-pipeline/events';
import type { ChatDomainEvent } from '@livechat-pipeline/livechat';
import { ChatKey, PrivacyError } from '@livechat-pipeline/privacy';
import { ChatEventOpener } from '../src/privacy.js';
import { crmRowChanges } from '../src/projection/rows.js';
import { ORG, smallChat } from './support/chats.js';
import { eventsOf } from './support/harness.js';

// Privacy off (no vault): what a crm-sync without PRIVACY_KEYS does with what it reads.
const chat = smallChat(950, { email: 'opener.canary@mail.example', texts: ['opener canary text'] });
const events = eventsOf(chat.deliveries);
const key = new ChatKey(ORG, chat.chatId, 1, randomBytes(32));
const seal = (k: ChatKey | 'erased') =>
  events.map((e) => {
    const scope = chatEventKeyScope(e);
    return scope === null ? e : (sealChatEvent(e, scope, k) as ChatDomainEvent);
  });

async function undecryptable(registry: Registry): Promise<string> {
  return registry.getSingleMetricAsString('crm_sync_privacy_fields_undecryptable_total');
}

describe('ChatEventOpener without PRIVACY_KEYS', () => {
  it('passes plain events as they are', async () => {
    const opener = new ChatEventOpener(null);
    expect(await opener.open(events)).toBe(events);
  });

  it('a sealed event waits (retryable PRIVACY_KEY_UNAVAILABLE naming PRIVACY_KEYS), never projected with nulls', async () => {
    const opener = new ChatEventOpener(null);
    const error = await opener.open(seal(key)).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(PrivacyError);
    expect(error).toMatchObject({ code: 'PRIVACY_KEY_UNAVAILABLE', retryable: true });
    expect((error as Error).message).toContain('PRIVACY_KEYS is not set');
    expect((error as Error).message).not.toContain('canary');
  });

  it('an event erased on arrival (no envelope) is projected without personal values and counted, no key needed', async () => {
    const registry = new Registry();
    const opener = new ChatEventOpener(null, registry);
    const opened = await opener.open(seal('erased'));
    const rows = crmRowChanges(opened);
    expect(rows.customers.every((c) => c.email === null && c.name === null)).toBe(true);
    expect(rows.entries.every((e) => e.text === null)).toBe(true);
    expect(JSON.stringify(rows)).not.toContain('canary');
    expect(await undecryptable(registry)).toMatch(/reason="erased"} [1-9]/);
  });
});
