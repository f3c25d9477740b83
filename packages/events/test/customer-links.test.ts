import { describe, expect, it } from 'vitest';
import { customerLinksOf, type LinkableChatEvent } from '../src/customer-links.js';

// Issue 19: the customer index from one chat event (the normalizer's rules), for the re-encryption job.

function event(type: string, chatId: string | null, branch: object, tenant = 't1'): LinkableChatEvent {
  return {
    event_id: 'e1',
    raw_event_id: 'r1',
    tenant,
    chat_id: chatId,
    type,
    body: { [type]: branch } as unknown as LinkableChatEvent['body'],
  };
}

describe('customerLinksOf', () => {
  it('customer_identified: the customer id and e-mail under the chat', () => {
    expect(
      customerLinksOf(event('customer_identified', 'C1', { customer_id: 'cu1', email: 'A@x.io', name: 'A' })),
    ).toEqual([{ chatId: 'C1', customerId: 'cu1', email: 'A@x.io' }]);
  });

  it('customer_identified without a chat: under customer:<id>', () => {
    expect(customerLinksOf(event('customer_identified', null, { customer_id: 'cu1', email: null }))).toEqual([
      { chatId: 'customer:cu1', customerId: 'cu1' },
    ]);
  });

  it('thread_started: only users of kind customer', () => {
    const users = [
      { id: 'ag1', kind: 'agent', name: 'Agent', email: 'agent@x.io', present: true },
      { id: 'cu2', kind: 'customer', name: 'C', email: 'c@x.io', present: true },
    ];
    expect(customerLinksOf(event('thread_started', 'C2', { users }))).toEqual([
      { chatId: 'C2', customerId: 'cu2', email: 'c@x.io' },
    ]);
  });

  it('visitor_queued: the visitor id under visitor:<id>', () => {
    expect(customerLinksOf(event('visitor_queued', null, { visitor_id: 'v1', email: 'v@x.io' }))).toEqual([
      { chatId: 'visitor:v1', customerId: 'v1', email: 'v@x.io' },
    ]);
  });

  it('ticket_created: the requester e-mail under the ticket and under its source chat', () => {
    expect(
      customerLinksOf(
        event('ticket_created', null, { ticket_id: 'k1', requester_email: 'r@x.io', source_chat_id: 'C3' }),
      ),
    ).toEqual([
      { chatId: 'ticket:k1', email: 'r@x.io' },
      { chatId: 'C3', email: 'r@x.io' },
    ]);
  });

  it('leaves out what the key store refuses and links with nothing to find', () => {
    expect(
      customerLinksOf(
        event('customer_identified', 'C1', { customer_id: 'x'.repeat(257), email: 'a\u0000@x' }),
      ),
    ).toEqual([]);
    expect(customerLinksOf(event('customer_identified', 'C1', { customer_id: 'cu1', email: ' ' }))).toEqual([
      { chatId: 'C1', customerId: 'cu1' },
    ]);
    expect(
      customerLinksOf(event('customer_identified', 'C1', { customer_id: 'cu1' }, 'x'.repeat(300))),
    ).toEqual([]);
    expect(customerLinksOf(event('message_posted', 'C1', { message: { text: 'a@x.io' } }))).toEqual([]);
  });
});
