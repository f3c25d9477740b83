import type { ChatUser } from '@livechat-pipeline/livechat';
import { chat, parseJson, type RowBuilders, type TranscriptRowChanges } from './types.js';

/**
 * People: the participants of a chat, and the customers and agents of a tenant. Thread starts list their users
 * through `userRows` too (threads.ts).
 */
export function userRows(
  tenant: string,
  chatId: string,
  users: readonly ChatUser[],
  into: TranscriptRowChanges,
  at: number,
): void {
  for (const user of users) {
    if (user.id === null) continue;
    into.participants.push({
      tenant,
      chat_id: chatId,
      user_id: user.id,
      kind: user.kind,
      name: user.name,
      email: user.email,
    });
    if (user.kind === 'customer') {
      into.customers.push({
        tenant,
        customer_id: user.id,
        name: user.name,
        email: user.email,
        session_fields: null,
        visit: null,
        updated_us: at,
      });
    } else if (user.kind === 'agent') {
      into.agents.push({ tenant, agent_id: user.id, name: user.name, email: user.email });
    }
  }
}

export const peopleRows: RowBuilders<'participant_added' | 'customer_identified' | 'visitor_queued'> = {
  participant_added: (event, into, at) => {
    const { tenant, chat_id: chatId } = event;
    if (chatId === null) return;
    const body = event.body.participant_added;
    const userId = body.user_id ?? body.user?.id ?? null;
    if (userId === null) return;
    const user: ChatUser = body.user ?? {
      id: userId,
      kind: body.user_kind,
      name: null,
      email: null,
      present: null,
    };
    userRows(
      tenant,
      chatId,
      [{ ...user, id: userId, kind: user.kind === 'unknown' ? body.user_kind : user.kind }],
      into,
      at,
    );
  },
  customer_identified: (event, into, at) => {
    const { tenant, chat_id: chatId } = event;
    const body = event.body.customer_identified;
    if (body.customer_id === null) return;
    into.customers.push({
      tenant,
      customer_id: body.customer_id,
      name: body.name,
      email: body.email,
      session_fields: parseJson(body.session_fields_json),
      visit: parseJson(body.visit_json),
      updated_us: at,
    });
    if (chatId !== null) {
      into.chats.push({ ...chat(tenant, chatId), customer_id: body.customer_id });
      into.participants.push({
        tenant,
        chat_id: chatId,
        user_id: body.customer_id,
        kind: 'customer',
        name: body.name,
        email: body.email,
      });
    }
  },
  visitor_queued: (event, into, at) => {
    const body = event.body.visitor_queued;
    if (body.visitor_id === null) return;
    into.customers.push({
      tenant: event.tenant,
      customer_id: body.visitor_id,
      name: body.name,
      email: body.email,
      session_fields: null,
      visit: null,
      updated_us: at,
    });
  },
};
