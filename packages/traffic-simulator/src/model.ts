import type { EpochMicros } from './time.js';

/**
 * One LiveChat customer organisation. v3 (3.4+) names it by `organization_id` (a UUID-like string), v2 by
 * `license_id` (a numeric string). The simulator keeps both so a v2 rendering and a v3 rendering of the same
 * chat belong to the same tenant.
 */
export interface SimulatedTenant {
  readonly organizationId: string;
  readonly licenseId: string;
}

export interface SimulatedAgent {
  /** Agents are identified by their e-mail address in both formats. */
  readonly id: string;
  readonly name: string;
}

export interface SimulatedCustomer {
  /** v3 customer id (UUID-like). */
  readonly id: string;
  /** v2 visitor id (`S<digits>.<hex>`); v2 never exposes the v3 id. */
  readonly visitorId: string;
  readonly name: string;
  readonly email: string;
  /** Value of the v2 `Customer ID` custom variable. */
  readonly externalCustomerId: string;
  readonly country: string;
  readonly countryCode: string;
  readonly city: string;
  readonly ip: string;
}

export type SimulatedAuthor =
  | { readonly kind: 'customer' }
  | { readonly kind: 'agent'; readonly agentId: string }
  /** A supervisor whispering to the agent: v2 `user_type: "supervisor"`, v3 `visibility: "agents"`. */
  | { readonly kind: 'supervisor'; readonly agentId: string };

export type MessageVisibility = 'all' | 'agents';

export interface SimulatedMessage {
  /** v3 event id, `<thread_id>_<n>`, numbered with the pre-chat form in the same thread. */
  readonly eventId: string;
  readonly author: SimulatedAuthor;
  readonly text: string;
  readonly visibility: MessageVisibility;
  readonly createdAt: EpochMicros;
  /** The agent's automatic greeting (v3 carries `properties.lc2.welcome_message`). */
  readonly isWelcome: boolean;
}

export interface SimulatedPrechatSurvey {
  readonly eventId: string;
  readonly filledAt: EpochMicros;
}

export interface SimulatedTagChange {
  readonly kind: 'tagged' | 'untagged';
  readonly tag: string;
  readonly at: EpochMicros;
}

/** Who closed the thread. `system` is the router (inactivity): v3 then sends no `user_id`. */
export type SimulatedCloser =
  | { readonly by: 'agent'; readonly agentId: string }
  | { readonly by: 'customer' }
  | { readonly by: 'system' };

export interface SimulatedChat {
  readonly tenant: SimulatedTenant;
  readonly chatId: string;
  readonly threadId: string;
  readonly groupId: number;
  readonly customer: SimulatedCustomer;
  /** The agent the chat was routed to. */
  readonly agent: SimulatedAgent;
  /** Present when a supervisor whispered in the chat. */
  readonly supervisor: SimulatedAgent | null;
  /** The thread's creation (v3 `thread.created_at`, v2 `started_timestamp`). */
  readonly startedAt: EpochMicros;
  /** `null` when the customer skipped the survey (v2 then sends `pre_chat_survey: []`). */
  readonly prechatSurvey: SimulatedPrechatSurvey | null;
  /** Tags the thread carries from the start (e.g. set by a routing rule). */
  readonly initialTags: readonly string[];
  /** In `createdAt` order, strictly increasing. */
  readonly messages: readonly SimulatedMessage[];
  /** In `at` order; may continue after the close (agents often tag a chat once it is over). */
  readonly tagChanges: readonly SimulatedTagChange[];
  readonly closedBy: SimulatedCloser;
  readonly closedAt: EpochMicros;
}

/** The tag set after every change, sorted: the order tags were added in carries no meaning. */
export function finalTags(chat: SimulatedChat): string[] {
  return tagsAt(chat, Number.POSITIVE_INFINITY);
}

/** The tag set as of `at` (inclusive), sorted. */
export function tagsAt(chat: SimulatedChat, at: EpochMicros): string[] {
  const tags = new Set(chat.initialTags);
  for (const change of chat.tagChanges) {
    if (change.at > at) break;
    if (change.kind === 'tagged') tags.add(change.tag);
    else tags.delete(change.tag);
  }
  return [...tags].sort();
}

export function agentOf(chat: SimulatedChat, agentId: string): SimulatedAgent {
  if (chat.agent.id === agentId) return chat.agent;
  if (chat.supervisor?.id === agentId) return chat.supervisor;
  throw new RangeError(`agent ${agentId} is not part of chat ${chat.chatId}`);
}
