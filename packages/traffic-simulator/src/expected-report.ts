import { finalTags, type SimulatedChat, type SimulatedMessage } from './model.js';
import type { WebhookFormat } from './rendered.js';
import { epochSeconds, type EpochMicros } from './time.js';

/**
 * The per-thread facts the analytics must show for one simulated thread (services/analytics, view
 * `thread_facts`), as the given format can tell them: v3 times have microseconds, v2 times whole seconds; v2
 * has no threads (a resumed chat's second thread is a chat of its own), no transfer or rating webhooks (only
 * the rating a chat ends with), no queue times and no marks on automatic messages.
 */
export interface ExpectedThreadFacts {
  /** v3 `organization_id`, v2 `license_id`. */
  readonly tenant: string;
  readonly chatId: string;
  readonly threadId: string;
  readonly startedAtMicros: EpochMicros;
  readonly endedAtMicros: EpochMicros;
  readonly durationSeconds: number;
  readonly firstResponseSeconds: number | null;
  readonly customerMessages: number;
  readonly agentMessages: number;
  /** Sorted. */
  readonly agentIds: readonly string[];
  readonly firstResponderId: string | null;
  readonly groupIds: readonly number[];
  readonly tags: readonly string[];
  readonly rating: 'good' | 'bad' | null;
  readonly ratingComment: string | null;
  readonly queued: boolean;
  readonly queuedSeconds: number | null;
  readonly leftQueue: boolean;
  readonly startedBy: 'customer' | 'agent' | null;
  readonly startedFromGreeting: boolean;
  readonly transfers: number;
}

export function expectedThreadFacts(chat: SimulatedChat, format: WebhookFormat): ExpectedThreadFacts {
  const v2 = format === 'v2';
  const time = (at: EpochMicros) => (v2 ? epochSeconds(at) * 1_000_000 : at);
  const seconds = (from: EpochMicros, to: EpochMicros) => (time(to) - time(from)) / 1_000_000;
  const report = chat.report;
  const visible = chat.messages.filter((m) => m.visibility === 'all');
  const isAgent = (m: SimulatedMessage) => m.author.kind !== 'customer';
  const automatic = (m: SimulatedMessage) => !v2 && (m.isWelcome || m.isGreeting === true);
  const firstCustomerIndex = visible.findIndex((m) => !isAgent(m));
  const firstCustomer = visible[firstCustomerIndex];
  // services/analytics/README.md: bots are agents; an automatic message (greeting, welcome) is never a response
  // (v2 marks none, so there it is one).
  const firstReply =
    firstCustomerIndex < 0
      ? undefined
      : visible.slice(firstCustomerIndex + 1).find((m) => isAgent(m) && !automatic(m));
  const opener = visible.find((m) => !(automatic(m) && isAgent(m))) ?? visible[0];
  const agentIdOf = (m: SimulatedMessage) => (m.author.kind === 'customer' ? null : m.author.agentId);
  const rating = report?.rating ?? null;
  const rated = rating !== null && rating.canceledAt === null;
  const queue = report?.queue ?? null;
  const assigned =
    queue === null
      ? undefined
      : visible.find((m) => isAgent(m) && !automatic(m) && m.createdAt >= queue.queuedAt);
  const resumed = (report?.previousThreadId ?? null) !== null;
  const chatId = v2 && resumed ? chat.threadId : chat.chatId;
  return {
    tenant: v2 ? chat.tenant.licenseId : chat.tenant.organizationId,
    chatId,
    threadId: v2 ? chatId : chat.threadId,
    startedAtMicros: time(chat.startedAt),
    endedAtMicros: time(chat.closedAt),
    durationSeconds: seconds(chat.startedAt, chat.closedAt),
    firstResponseSeconds:
      firstCustomer && firstReply ? seconds(firstCustomer.createdAt, firstReply.createdAt) : null,
    customerMessages: visible.filter((m) => !isAgent(m)).length,
    agentMessages: visible.filter(isAgent).length,
    agentIds: [...new Set(visible.flatMap((m) => agentIdOf(m) ?? []))].sort(),
    firstResponderId: firstReply ? agentIdOf(firstReply) : null,
    groupIds: [chat.groupId],
    tags: finalTags(chat),
    rating: rated ? rating.score : null,
    ratingComment: rated && !v2 ? rating.comment : null,
    queued: queue !== null,
    queuedSeconds:
      queue === null || v2 ? null : seconds(queue.queuedAt, assigned ? assigned.createdAt : chat.closedAt),
    leftQueue: queue !== null && !v2 && assigned === undefined,
    startedBy: opener === undefined ? null : isAgent(opener) ? 'agent' : 'customer',
    startedFromGreeting: !v2 && visible.some((m) => m.isGreeting === true),
    transfers: !v2 && report?.transfer ? 1 : 0,
  };
}
