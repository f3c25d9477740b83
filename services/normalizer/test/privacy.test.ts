import { describe, expect, it } from 'vitest';
import { chatEventKeyScope } from '@livechat-pipeline/events';
import type { ChatDomainEvent } from '@livechat-pipeline/livechat';
import type { CustomerLink } from '@livechat-pipeline/privacy';
import { customerLinks, isIndexableEmail, isKeyStoreId } from '../src/privacy.js';

const base = {
  raw_event_id: 'raw-1',
  tenant: 't1',
  thread_id: null,
  occurred_at: null,
  received_at: 1,
};
const event = (type: string, chatId: string | null, body: object): ChatDomainEvent =>
  ({ ...base, event_id: `${type}-1`, chat_id: chatId, type, body: { [type]: body } }) as ChatDomainEvent;

describe('the chat→customer links the normalizer records', () => {
  it('takes customers from customer_identified, thread_started, visitor_queued and ticket_created, each under its scope', () => {
    const links = new Map<string, CustomerLink[]>();
    customerLinks(
      [
        event('customer_identified', 'C1', {
          customer_id: 'cust-1',
          name: 'N',
          email: 'a@example.com',
          session_fields_json: null,
          visit_json: null,
        }),
        event('thread_started', 'C2', {
          users: [
            { id: 'cust-2', kind: 'customer', name: 'M', email: 'b@example.com', present: true },
            { id: 'agent-1', kind: 'agent', name: 'A', email: 'agent@example.com', present: true },
          ],
        }),
        event('visitor_queued', null, { visitor_id: 'v-1', name: null, email: 'c@example.com' }),
        event('ticket_created', null, {
          ticket_id: 'tk-1',
          requester_email: 'd@example.com',
          source_chat_id: 'C3',
        }),
        event('message_posted', 'C1', { message: {} }),
      ],
      chatEventKeyScope,
      links,
    );
    expect(links.get('t1')).toEqual([
      { chatId: 'C1', customerId: 'cust-1', email: 'a@example.com' },
      { chatId: 'C2', customerId: 'cust-2', email: 'b@example.com' },
      { chatId: 'visitor:v-1', customerId: 'v-1', email: 'c@example.com' },
      { chatId: 'ticket:tk-1', email: 'd@example.com' },
      { chatId: 'C3', email: 'd@example.com' },
    ]);
  });

  it('indexes every user the seal treats as personal: participant_added and any kind but agent, bot, system', () => {
    const links = new Map<string, CustomerLink[]>();
    customerLinks(
      [
        event('thread_started', 'C1', {
          users: [
            { id: 'u-1', kind: 'unknown', name: 'U', email: 'u@example.com', present: true },
            { id: 'b-1', kind: 'bot', name: 'B', email: 'bot@example.com', present: true },
            { id: 's-1', kind: 'system', name: null, email: 'sys@example.com', present: true },
          ],
        }),
        event('participant_added', 'C2', {
          user_id: 'cust-late',
          user_kind: 'customer',
          user: { id: 'cust-late', kind: 'customer', name: 'L', email: 'late@example.com', present: true },
          reason: null,
          requester_id: null,
        }),
        event('participant_added', 'C3', {
          user_id: 'agent-2',
          user_kind: 'agent',
          user: { id: 'agent-2', kind: 'agent', name: 'A', email: 'a2@example.com', present: true },
          reason: null,
          requester_id: null,
        }),
        event('participant_added', 'C4', {
          user_id: 'x',
          user_kind: 'customer',
          user: null,
          reason: null,
          requester_id: null,
        }),
      ],
      chatEventKeyScope,
      links,
    );
    expect(links.get('t1')).toEqual([
      { chatId: 'C1', customerId: 'u-1', email: 'u@example.com' },
      { chatId: 'C2', customerId: 'cust-late', email: 'late@example.com' },
    ]);
  });

  it('leaves out what the key store would refuse, and links with nothing to link', () => {
    const links = new Map<string, CustomerLink[]>();
    customerLinks(
      [
        event('customer_identified', 'C1', { customer_id: 'x'.repeat(257), email: '  ' }),
        event('customer_identified', 'C\u0000', { customer_id: 'ok', email: null }),
        event('ticket_created', null, {
          ticket_id: 'tk',
          requester_email: 'İ'.repeat(300),
          source_chat_id: null,
        }),
      ],
      chatEventKeyScope,
      links,
    );
    expect(links.size).toBe(0);
    expect(isKeyStoreId('x'.repeat(256))).toBe(true);
    expect(isKeyStoreId('x'.repeat(257))).toBe(false);
    expect(isKeyStoreId('')).toBe(false);
    expect(isKeyStoreId(null)).toBe(false);
    // A lone surrogate (valid JSON text "\ud800") is stored as U+FFFD: refused; a pair is fine.
    expect(isKeyStoreId('X\ud800')).toBe(false);
    expect(isKeyStoreId('X\udc00Y')).toBe(false);
    expect(isKeyStoreId('X\ud83d\ude00')).toBe(true);
    expect(isIndexableEmail('a\ud800@example.com')).toBe(false);
    // Lower-casing lengthens it past 320: the store would refuse the whole call.
    expect(isIndexableEmail('İ'.repeat(300))).toBe(false);
    expect(isIndexableEmail(' A@Example.com ')).toBe(true);
  });
});
