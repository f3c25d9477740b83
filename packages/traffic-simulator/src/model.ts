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
  /** A targeted greeting shown before the customer spoke (v3 carries `properties.lc2.greeting_id`). */
  readonly isGreeting?: boolean;
}

/** The customer's rating: given after the close, sometimes with a comment, sometimes cancelled later. */
export interface SimulatedRating {
  readonly score: 'good' | 'bad';
  readonly ratedAt: EpochMicros;
  readonly comment: string | null;
  readonly commentedAt: EpochMicros;
  /** When the customer took the rating back; null when it stands. */
  readonly canceledAt: EpochMicros | null;
}

/** The thread waited in its group's queue from `queuedAt`; `left`: the customer gave up before an agent came. */
export interface SimulatedQueue {
  readonly queuedAt: EpochMicros;
  readonly position: number;
  readonly left: boolean;
}

/** A manual transfer to another agent: the agent's later messages are the new agent's. */
export interface SimulatedTransfer {
  readonly at: EpochMicros;
  readonly from: SimulatedAgent;
  readonly to: SimulatedAgent;
}

/** What the analytics need beyond a transcript (`generateChats({ reportFacts: true })`). */
export interface SimulatedReportFacts {
  readonly rating: SimulatedRating | null;
  readonly queue: SimulatedQueue | null;
  readonly transfer: SimulatedTransfer | null;
  /** The thread this one resumes (same chat id, a new thread); null for a chat's first thread. */
  readonly previousThreadId: string | null;
  /** LiveChat's archiving system message at the close (v3), which dates the close. */
  readonly archivedEventId: string;
}

/** An agent's routing status change (v3 `routing_status_set`; v2 has no such webhook). */
export interface SimulatedAgentStatus {
  readonly tenant: SimulatedTenant;
  readonly agentId: string;
  readonly status: 'accepting_chats' | 'not_accepting_chats' | 'offline';
  readonly at: EpochMicros;
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
  /** Present with `reportFacts`: ratings, queue, transfer, resumed thread. */
  readonly report?: SimulatedReportFacts;
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
  if (chat.report?.transfer?.to.id === agentId) return chat.report.transfer.to;
  throw new RangeError(`agent ${agentId} is not part of chat ${chat.chatId}`);
}
