import type { ChatDomainEvent } from '@livechat-pipeline/livechat';
import {
  MAX_CHATS_PER_CALL,
  isPrivacyError,
  type ChatKeyState,
  type CustomerLink,
  type PrivacyVault,
} from '@livechat-pipeline/privacy';

/** The key store's bounds on ids (packages/privacy checks them and refuses the whole call otherwise). */
const ID_MAX = 256;
const EMAIL_MAX = 320;

/** A lone UTF-16 surrogate (valid in JSON text as `"\ud800"`): in unicode mode a pair is one code point, not matched. */
const LONE_SURROGATE = /\p{Cs}/u;

/**
 * Whether the key store takes this as a tenant id, key scope or customer id: 1–256 characters (packages/privacy
 * refuses the whole call otherwise), no NUL, which Postgres text cannot hold (its refusal would read as the
 * key store being unavailable, and a sender's id would stall the partition), and well-formed UTF-16: a lone
 * surrogate is stored as U+FFFD, so the key wrapped for the id would never unwrap again (and two ids would collide).
 */
export function isKeyStoreId(value: string | null | undefined): value is string {
  return (
    typeof value === 'string' &&
    value !== '' &&
    value.length <= ID_MAX &&
    !value.includes('\u0000') &&
    !LONE_SURROGATE.test(value)
  );
}

/** An e-mail the index takes: 1–320 characters once trimmed and lower-cased (as the key store normalises it). */
export function isIndexableEmail(value: string | null | undefined): value is string {
  if (typeof value !== 'string') return false;
  const normalised = value.trim().toLowerCase();
  return (
    normalised !== '' &&
    normalised.length <= EMAIL_MAX &&
    !normalised.includes('\u0000') &&
    !LONE_SURROGATE.test(normalised)
  );
}

/**
 * The kinds whose names and e-mails stay in clear: the same rule as packages/events' sealing (every other kind,
 * `unknown` or one LiveChat adds later, is sealed as personal), so every user the seal treats as a customer is
 * indexed and an erasure by customer finds their chats.
 */
const EMPLOYEE_KINDS: ReadonlySet<string> = new Set(['agent', 'bot', 'system']);

function isEmployee(kind: string): boolean {
  return EMPLOYEE_KINDS.has(kind);
}

/**
 * Customer links this process has recorded (bounded, least recently recorded dropped first): a window sends only
 * links new to it, so a warm normalizer does not write the key store on every batch for the same chats.
 */
export class RecordedLinks {
  private readonly seen = new Map<string, true>();

  constructor(private readonly capacity = 100_000) {}

  private static keyOf(tenant: string, link: CustomerLink): string {
    return JSON.stringify([
      tenant,
      link.chatId,
      link.customerId ?? null,
      link.email?.trim().toLowerCase() ?? null,
    ]);
  }

  /** The links not recorded yet (each once). */
  newOnes(tenant: string, links: readonly CustomerLink[]): CustomerLink[] {
    const fresh = new Map<string, CustomerLink>();
    for (const link of links) {
      const key = RecordedLinks.keyOf(tenant, link);
      if (!this.seen.has(key)) fresh.set(key, link);
    }
    return [...fresh.values()];
  }

  remember(tenant: string, links: readonly CustomerLink[]): void {
    for (const link of links) {
      const key = RecordedLinks.keyOf(tenant, link);
      this.seen.delete(key);
      this.seen.set(key, true);
      if (this.seen.size > this.capacity) this.seen.delete(this.seen.keys().next().value!);
    }
  }
}

/** Key states by tenant, then by key scope. */
export class KeyStates {
  private readonly byTenant = new Map<string, Map<string, ChatKeyState>>();

  get(tenant: string, scope: string): ChatKeyState | undefined {
    return this.byTenant.get(tenant)?.get(scope);
  }

  set(tenant: string, scope: string, state: ChatKeyState): void {
    let scopes = this.byTenant.get(tenant);
    if (scopes === undefined) this.byTenant.set(tenant, (scopes = new Map()));
    scopes.set(scope, state);
  }
}

/** Scopes wanted, grouped by tenant (each tenant's once). */
export class ScopesByTenant {
  readonly byTenant = new Map<string, Set<string>>();

  add(tenant: string, scope: string): void {
    let scopes = this.byTenant.get(tenant);
    if (scopes === undefined) this.byTenant.set(tenant, (scopes = new Set()));
    scopes.add(scope);
  }

  get size(): number {
    return this.byTenant.size;
  }
}

/** Key scopes the key store refused with a non-retryable error (a data fault of the records that need them). */
export class RefusedScopes {
  private readonly byTenant = new Map<string, Map<string, string>>();

  add(tenant: string, scope: string, code: string): void {
    let scopes = this.byTenant.get(tenant);
    if (scopes === undefined) this.byTenant.set(tenant, (scopes = new Map()));
    scopes.set(scope, code);
  }

  /** The store's error code for this scope, or undefined when it was not refused. */
  codeOf(tenant: string, scope: string): string | undefined {
    return this.byTenant.get(tenant)?.get(scope);
  }
}

/**
 * One `keysFor` per tenant (split only past the store's 10,000 chats per call) into `into`. Throws the store's
 * retryable PrivacyError (PRIVACY_KEY_UNAVAILABLE, PRIVACY_KEK_UNKNOWN) for the caller to fail the batch with. A
 * non-retryable one is about the ids the records carry (it would fail again on every retry, stalling the partition
 * for good): that call is retried scope by scope, and each scope still refused goes into `refused`, so only the
 * records that need it are dead-lettered. `beforeCall` runs before each call to the store (the consumer's heartbeat).
 */
export async function fetchKeys(
  vault: PrivacyVault,
  wanted: ScopesByTenant,
  options: { create: boolean; seenAtByTenant?: ReadonlyMap<string, Date> },
  into: KeyStates,
  refused: RefusedScopes,
  beforeCall: () => Promise<void> = async () => undefined,
): Promise<void> {
  const put = (tenant: string, states: ReadonlyMap<string, ChatKeyState>) => {
    for (const [scope, state] of states) into.set(tenant, scope, state);
  };
  for (const [tenant, scopes] of wanted.byTenant) {
    const seenAt = options.seenAtByTenant?.get(tenant);
    const callOptions = { create: options.create, ...(seenAt === undefined ? {} : { seenAt }) };
    const all = [...scopes];
    for (let i = 0; i < all.length; i += MAX_CHATS_PER_CALL) {
      const chunk = all.slice(i, i + MAX_CHATS_PER_CALL);
      await beforeCall();
      try {
        put(tenant, await vault.keysFor(tenant, chunk, callOptions));
      } catch (error) {
        if (!isPrivacyError(error) || error.retryable) throw error;
        for (const scope of chunk) {
          await beforeCall();
          try {
            put(tenant, await vault.keysFor(tenant, [scope], callOptions));
          } catch (single) {
            if (!isPrivacyError(single) || single.retryable) throw single;
            refused.add(tenant, scope, single.code);
          }
        }
      }
    }
  }
}

/**
 * Who the customer of each chat (key scope) is, as far as these events tell: `customer_identified` (customer id,
 * e-mail), `thread_started` users and the `participant_added` user of any kind but agent, bot and system (id, e-mail), `visitor_queued` (visitor id, e-mail),
 * `ticket_created` (the requester's e-mail, under the ticket's scope and under the chat it came from). An erasure
 * by customer id or e-mail then finds the chats. Each link is under the key scope the event is sealed with (its
 * chat id, else or when over-long the scope `chatEventKeyScope` gives), which is what an erasure erases. Values the
 * key store would refuse (too long, a NUL) are left out.
 */
export function customerLinks(
  events: readonly ChatDomainEvent[],
  scopeOf: (event: ChatDomainEvent) => string | null,
  into: Map<string, CustomerLink[]>,
): void {
  const add = (tenant: string, chatId: string | null, customerId: string | null, email: string | null) => {
    if (!isKeyStoreId(tenant) || !isKeyStoreId(chatId)) return;
    const link: CustomerLink = {
      chatId,
      ...(isKeyStoreId(customerId) ? { customerId } : {}),
      ...(isIndexableEmail(email) ? { email } : {}),
    };
    if (link.customerId === undefined && link.email === undefined) return;
    let links = into.get(tenant);
    if (links === undefined) into.set(tenant, (links = []));
    links.push(link);
  };
  for (const event of events) {
    switch (event.type) {
      case 'customer_identified': {
        const body = event.body.customer_identified;
        add(event.tenant, scopeOf(event), body.customer_id, body.email);
        break;
      }
      case 'thread_started':
        for (const user of event.body.thread_started.users)
          if (!isEmployee(user.kind)) add(event.tenant, scopeOf(event), user.id, user.email);
        break;
      case 'participant_added': {
        const user = event.body.participant_added.user;
        if (user !== null && !isEmployee(user.kind)) add(event.tenant, scopeOf(event), user.id, user.email);
        break;
      }
      case 'visitor_queued': {
        const body = event.body.visitor_queued;
        add(event.tenant, scopeOf(event), body.visitor_id, body.email);
        break;
      }
      case 'ticket_created': {
        const body = event.body.ticket_created;
        add(event.tenant, scopeOf(event), null, body.requester_email);
        add(event.tenant, body.source_chat_id, null, body.requester_email);
        break;
      }
      default:
        break;
    }
  }
}
