import { AGENT_GREETINGS, AGENT_LINES, AGENTS, CUSTOMER_LINES } from './corpus.js';
import type {
  SimulatedAgent,
  SimulatedAgentStatus,
  SimulatedChat,
  SimulatedMessage,
  SimulatedQueue,
  SimulatedRating,
  SimulatedTransfer,
} from './model.js';
import { Random } from './prng.js';
import type { EpochMicros } from './time.js';

const SECOND: EpochMicros = 1_000_000;
const MINUTE: EpochMicros = 60 * SECOND;

const RATING_COMMENTS: readonly string[] = [
  'Quick and friendly, thanks!',
  'Took ages to get an answer.',
  'Problem solved 👍',
  'Não resolveu o meu problema',
];

/**
 * Adds what the reports need to generated chats: ratings (good, bad, with comments, some cancelled), queued
 * threads (some customers leave the queue), manual transfers, greetings shown before the customer speaks, and
 * resumed chats (a second thread in the same chat). Each chat draws from its own stream (derived from the seed
 * and its chat id), so the transcript facts of the chats are those `generateChats` gives without them, apart
 * from what these facts change by nature (a customer who left the queue got no agent messages; after a
 * transfer the other agent writes).
 */
export function withReportFacts(chats: readonly SimulatedChat[], seed: number): SimulatedChat[] {
  const out: SimulatedChat[] = [];
  for (const chat of chats) {
    const random = Random.derive(seed, `report:${chat.chatId}`);
    const first = addFacts(chat, random, null);
    out.push(first);
    if (random.chance(0.12)) out.push(resumedThread(first, random));
  }
  return out.sort((a, b) => a.startedAt - b.startedAt);
}

function addFacts(chat: SimulatedChat, random: Random, previousThreadId: string | null): SimulatedChat {
  let messages = [...chat.messages];
  let closedBy = chat.closedBy;
  let queue: SimulatedQueue | null = null;
  let transfer: SimulatedTransfer | null = null;

  // A returning customer (a resumed thread; in v2 a chat of its own) may be queued too.
  if (random.chance(previousThreadId === null ? 0.18 : 0.4)) {
    queue = { queuedAt: chat.startedAt, position: random.int(1, 6), left: random.chance(0.35) };
    if (queue.left) {
      // Nobody came: only the customer wrote, and the customer (or the router) ended it.
      messages = messages.filter((m) => m.author.kind === 'customer');
      if (closedBy.by === 'agent') closedBy = { by: 'customer' };
    }
  }
  if (queue === null && previousThreadId === null && random.chance(0.15)) {
    messages = [
      {
        eventId: `${chat.threadId}_0`,
        author: { kind: 'agent', agentId: chat.agent.id },
        text: random.pick(AGENT_GREETINGS),
        visibility: 'all',
        createdAt: chat.startedAt + SECOND / 2,
        isWelcome: false,
        isGreeting: true,
      },
      ...messages,
    ];
  }
  if (queue?.left !== true && random.chance(0.2)) {
    // Hand over before a later agent message: from then on the other agent writes.
    const candidates = messages
      .map((m, index) => ({ m, index }))
      .filter(({ m, index }) => index > 0 && m.author.kind === 'agent' && m.visibility === 'all');
    if (candidates.length > 0) {
      const { index } = random.pick(candidates);
      const to: SimulatedAgent = random.pick(AGENTS.filter((a) => a.id !== chat.agent.id));
      const before = messages[index - 1]!.createdAt;
      transfer = { at: before + Math.floor((messages[index]!.createdAt - before) / 2), from: chat.agent, to };
      messages = messages.map((m, i) =>
        i >= index && m.author.kind === 'agent' ? { ...m, author: { kind: 'agent', agentId: to.id } } : m,
      );
      if (closedBy.by === 'agent') closedBy = { by: 'agent', agentId: to.id };
    }
  }
  let rating: SimulatedRating | null = null;
  if (random.chance(0.55)) {
    const ratedAt = chat.closedAt + random.int(5 * SECOND, 60 * SECOND);
    const comment = random.chance(0.4) ? random.pick(RATING_COMMENTS) : null;
    const commentedAt = ratedAt + random.int(2 * SECOND, 20 * SECOND);
    rating = {
      score: random.chance(0.7) ? 'good' : 'bad',
      ratedAt,
      comment,
      commentedAt,
      canceledAt: random.chance(0.15) ? commentedAt + random.int(10 * SECOND, 60 * SECOND) : null,
    };
  }
  const firstCustomer = messages.findIndex((m) => m.author.kind === 'customer');
  if (
    firstCustomer === 0 &&
    queue?.left !== true &&
    !messages.some((m) => m.isWelcome) &&
    random.chance(0.2)
  ) {
    // A welcome message shown just after the customer's first message (automatic: not a response).
    const welcome: SimulatedMessage = {
      eventId: `${chat.threadId}_w`,
      author: { kind: 'agent', agentId: chat.agent.id },
      text: random.pick(AGENT_GREETINGS),
      visibility: 'all',
      createdAt: messages[0]!.createdAt + 30_000,
      isWelcome: true,
    };
    messages = [messages[0]!, welcome, ...messages.slice(1)];
  }
  return {
    ...chat,
    messages,
    closedBy,
    report: { rating, queue, transfer, previousThreadId, archivedEventId: `${chat.threadId}_a` },
  };
}

/** The customer comes back later: a new thread of the same chat, a short exchange, closed by the customer. */
function resumedThread(previous: SimulatedChat, random: Random): SimulatedChat {
  const threadId = random.upperAlnum(10);
  const startedAt = previous.closedAt + random.int(5 * MINUTE, 20 * MINUTE);
  const messages: SimulatedMessage[] = [];
  let at = startedAt + random.int(SECOND, 3 * SECOND);
  const count = random.int(2, 4);
  for (let i = 0; i < count; i++) {
    const customer = i % 2 === 0;
    messages.push({
      eventId: `${threadId}_${i + 1}`,
      author: customer ? { kind: 'customer' } : { kind: 'agent', agentId: previous.agent.id },
      text: customer ? random.pick(CUSTOMER_LINES) : random.pick(AGENT_LINES),
      visibility: 'all',
      createdAt: at,
      isWelcome: false,
    });
    at += random.int(5 * SECOND, 90 * SECOND);
  }
  const resumed: SimulatedChat = {
    ...previous,
    threadId,
    supervisor: null,
    startedAt,
    prechatSurvey: null,
    initialTags: [],
    messages,
    tagChanges: [],
    closedBy: { by: 'customer' },
    closedAt: at + random.int(10 * SECOND, 40 * SECOND),
  };
  return addFacts(resumed, random, previous.threadId);
}

/**
 * Each agent's routing status over the run (v3 `routing_status_set`): accepting chats from 5 minutes before
 * their first chat, not accepting a minute after their last chat closed, accepting again 2 minutes later (a
 * status repeated: the webhook carries neither an id nor a time, so only its receipt tells the repeat from the
 * first), offline 10 minutes after the last chat.
 */
export function agentStatuses(chats: readonly SimulatedChat[]): SimulatedAgentStatus[] {
  const spans = new Map<
    string,
    { chat: SimulatedChat; agentId: string; from: EpochMicros; to: EpochMicros }
  >();
  for (const chat of chats) {
    const agents = [chat.agent.id, ...(chat.report?.transfer ? [chat.report.transfer.to.id] : [])];
    for (const agentId of agents) {
      const key = `${chat.tenant.organizationId}/${agentId}`;
      const span = spans.get(key);
      if (span === undefined) spans.set(key, { chat, agentId, from: chat.startedAt, to: chat.closedAt });
      else {
        span.from = Math.min(span.from, chat.startedAt);
        span.to = Math.max(span.to, chat.closedAt);
      }
    }
  }
  const statuses: SimulatedAgentStatus[] = [];
  for (const { chat, agentId, from, to } of spans.values()) {
    statuses.push(
      { tenant: chat.tenant, agentId, status: 'accepting_chats', at: from - 5 * MINUTE },
      { tenant: chat.tenant, agentId, status: 'not_accepting_chats', at: to + MINUTE },
      { tenant: chat.tenant, agentId, status: 'accepting_chats', at: to + 3 * MINUTE },
      { tenant: chat.tenant, agentId, status: 'offline', at: to + 11 * MINUTE },
    );
  }
  return statuses.sort((a, b) => a.at - b.at || a.agentId.localeCompare(b.agentId));
}
