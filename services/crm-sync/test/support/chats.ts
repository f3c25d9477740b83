/** v3.6 webhooks of one small chat: incoming_chat, messages, chat_deactivated (as LiveChat sends them). */
export const ORG = 'f9c7cc55-b35a-4e76-b0d5-ae9fce362314';
const T0 = Date.parse('2026-11-25T10:00:00Z');

const v3 = (action: string, payload: unknown, emittedAtMs: number, org = ORG) => ({
  emittedAt: emittedAtMs * 1000,
  body: {
    webhook_id: 'wh',
    secret_key: 'fixture-secret',
    action,
    organization_id: org,
    payload,
    additional_data: {},
  },
});

export function smallChat(
  n: number,
  options: { email?: string; name?: string; texts?: string[]; org?: string; thread?: number } = {},
): { chatId: string; threadId: string; email: string; deliveries: { body: unknown; emittedAt: number }[] } {
  // thread > 1: a later thread of the same chat and customer (a returning customer), 40 s after the previous.
  const thread = options.thread ?? 1;
  const chatId = `CHAT${String(n).padStart(4, '0')}`;
  const threadId = `TH${String(n).padStart(4, '0')}${thread > 1 ? `-${thread}` : ''}`;
  const email = options.email ?? `customer${n}@mail.example`;
  const start = T0 + n * 60_000 + (thread - 1) * 40_000;
  const iso = (ms: number) => new Date(ms).toISOString().replace('Z', '000Z');
  const customer = { id: `cust-${n}`, type: 'customer', name: options.name ?? `Ada Lovelace${n}`, email };
  const agent = { id: 'agent@example.com', type: 'agent', name: 'Bob Agent' };
  const texts = options.texts ?? [`hello from ${n}`, `answer to ${n}`];
  return {
    chatId,
    threadId,
    email,
    deliveries: [
      v3(
        'incoming_chat',
        {
          chat: {
            id: chatId,
            users: [customer, agent],
            thread: { id: threadId, created_at: iso(start), events: [], tags: [] },
          },
        },
        start,
        options.org,
      ),
      ...texts.map((text, i) =>
        v3(
          'incoming_event',
          {
            chat_id: chatId,
            thread_id: threadId,
            event: {
              id: `${threadId}_${i}`,
              type: 'message',
              text,
              author_id: i % 2 === 0 ? customer.id : agent.id,
              created_at: iso(start + (i + 1) * 1000),
              visibility: 'all',
            },
          },
          start + (i + 1) * 1000,
          options.org,
        ),
      ),
      v3(
        'chat_deactivated',
        { chat_id: chatId, thread_id: threadId, user_id: agent.id },
        start + 30_000,
        options.org,
      ),
    ],
  };
}

/** A v3.5 `incoming_customer` with a corrected e-mail (no chat id: every chat of the customer is touched). */
export function customerUpdate(n: number, email: string, atMs: number) {
  const iso = new Date(atMs).toISOString().replace('Z', '000Z');
  return v3(
    'incoming_customer',
    { customer: { id: `cust-${n}`, name: `Ada Lovelace${n}`, email, created_at: iso } },
    atMs,
  );
}
