import type { CustomerLink } from '@livechat-pipeline/privacy';
import type { ChatEvent } from './generated/chat-event.js';
import { chatEventKeyScope } from './sealed-chat-event.js';

// Issue 19: the customer index (vault.recordCustomers) lets an erasure by customer id or e-mail find the chats.
// The same rules as the normalizer's `customerLinks` (services/normalizer/src/privacy.ts), as a pure function of
// one event, for the re-encryption job that indexes the chat events written before privacy was on.

/** The key store's bounds on ids and e-mails (packages/privacy refuses a whole call otherwise). */
const ID_MAX = 256;
const EMAIL_MAX = 320;

/** 1–256 characters and no NUL (Postgres text cannot hold one). */
function isKeyStoreId(value: string | null | undefined): value is string {
  return typeof value === 'string' && value !== '' && value.length <= ID_MAX && !value.includes('\u0000');
}

/** 1–320 characters once trimmed and lower-cased (as the key store normalises it), no NUL. */
function isIndexableEmail(value: string | null | undefined): value is string {
  if (typeof value !== 'string') return false;
  const normalised = value.trim().toLowerCase();
  return normalised !== '' && normalised.length <= EMAIL_MAX && !normalised.includes('\u0000');
}

/** What the links need of a chat event: its tenant and the fields `chatEventKeyScope` reads. */
export type LinkableChatEvent = Pick<
  ChatEvent,
  'event_id' | 'raw_event_id' | 'tenant' | 'chat_id' | 'type' | 'body'
>;

/**
 * Who the customer of the event's chat (key scope) is, as far as this one event tells: `customer_identified`
 * (customer id, e-mail), `thread_started` users of kind customer (id, e-mail), `visitor_queued` (visitor id,
 * e-mail), `ticket_created` (the requester's e-mail, under the ticket's scope and under the chat it came from).
 * Each link is under `chatEventKeyScope(event)`, the scope the event is sealed with, which is what an erasure
 * erases. Values the key store would refuse (too long, a NUL) are left out, and so is a link with neither a
 * customer id nor an e-mail. Read the personal values of a plain (or opened) event: a sealed one holds null
 * stand-ins. The links are for `vault.recordCustomers(event.tenant, links)`; an empty list when the tenant
 * itself is not an id the store takes.
 */
export function customerLinksOf(event: LinkableChatEvent): CustomerLink[] {
  if (!isKeyStoreId(event.tenant)) return [];
  const links: CustomerLink[] = [];
  const add = (chatId: string | null, customerId: string | null, email: string | null): void => {
    if (!isKeyStoreId(chatId)) return;
    const link: CustomerLink = {
      chatId,
      ...(isKeyStoreId(customerId) ? { customerId } : {}),
      ...(isIndexableEmail(email) ? { email } : {}),
    };
    if (link.customerId !== undefined || link.email !== undefined) links.push(link);
  };
  const body = event.body as Partial<Record<string, unknown>>;
  const scope = (): string | null => chatEventKeyScope({ ...event, sealed: null });
  switch (event.type) {
    case 'customer_identified': {
      const branch = body['customer_identified'] as ChatEventBranch<'customer_identified'> | undefined;
      if (branch !== undefined) add(scope(), branch.customer_id, branch.email);
      break;
    }
    case 'thread_started': {
      const branch = body['thread_started'] as ChatEventBranch<'thread_started'> | undefined;
      for (const user of branch?.users ?? []) if (user.kind === 'customer') add(scope(), user.id, user.email);
      break;
    }
    case 'visitor_queued': {
      const branch = body['visitor_queued'] as ChatEventBranch<'visitor_queued'> | undefined;
      if (branch !== undefined) add(scope(), branch.visitor_id, branch.email);
      break;
    }
    case 'ticket_created': {
      const branch = body['ticket_created'] as ChatEventBranch<'ticket_created'> | undefined;
      if (branch !== undefined) {
        add(scope(), null, branch.requester_email);
        add(branch.source_chat_id, null, branch.requester_email);
      }
      break;
    }
    default:
      break;
  }
  return links;
}

type Bodies = ChatEvent['body'];
/** The body branch record of one event type (e.g. `CustomerIdentified` for 'customer_identified'). */
type ChatEventBranch<K extends string> = Bodies extends infer B
  ? B extends { readonly [P in K]: infer R }
    ? R
    : never
  : never;
