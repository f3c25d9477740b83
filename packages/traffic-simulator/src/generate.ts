import {
  AGENT_GREETINGS,
  AGENT_LINES,
  AGENTS,
  CUSTOMER_LINES,
  CUSTOMER_OPENERS,
  FIRST_NAMES,
  GROUP_IDS,
  LAST_NAMES,
  LONG_CUSTOMER_MESSAGE,
  PLACES,
  SUPERVISOR_WHISPERS,
  SUPERVISORS,
  TAGS,
} from './corpus.js';
import type {
  SimulatedAgent,
  SimulatedAuthor,
  SimulatedChat,
  SimulatedCloser,
  SimulatedCustomer,
  SimulatedMessage,
  SimulatedTagChange,
  SimulatedTenant,
} from './model.js';
import { invalidOption } from './errors.js';
import { withReportFacts } from './report-facts.js';
import { Random } from './prng.js';
import { microsFromDate, type EpochMicros } from './time.js';

export interface GenerateChatsOptions {
  readonly seed: number;
  /** How many chats to generate. */
  readonly chats: number;
  /** When the first chat starts. A fixed default keeps output independent of the wall clock. */
  readonly startAt?: Date;
  /** Chats are spread over these tenants; default: one tenant derived from the seed. */
  readonly tenants?: readonly SimulatedTenant[];
  /**
   * Adds what the reports need (`withReportFacts`): ratings, queues, transfers, greetings, resumed chats.
   * Off by default: the transcript facts of the chats stay exactly those of earlier releases.
   */
  readonly reportFacts?: boolean;
}

export const DEFAULT_START_AT = new Date('2026-11-25T10:00:00.000Z');

const SECOND: EpochMicros = 1_000_000;
const MINUTE: EpochMicros = 60 * SECOND;

/** A tenant derived from the seed alone, so every run with the same seed talks about the same organisation. */
export function simulatedTenant(seed: number, label = 'tenant'): SimulatedTenant {
  const random = Random.derive(seed, label);
  return { organizationId: random.uuid(), licenseId: random.digits(8) };
}

/**
 * Generates `chats` complete chats (start to close, plus late tagging). Pure: the result depends on the
 * options only. Chats start a minute or two apart and last several minutes, so they overlap in time.
 */
export function generateChats(options: GenerateChatsOptions): SimulatedChat[] {
  if (!Number.isInteger(options.chats) || options.chats < 0) {
    throw invalidOption('chats', `must be a non-negative integer, got ${options.chats}`);
  }
  const random = Random.derive(options.seed, 'chats');
  const tenants = options.tenants ?? [simulatedTenant(options.seed)];
  if (tenants.length === 0) throw invalidOption('tenants', 'must not be empty');
  const usedIds = new Set<string>();
  const uniqueId = (): string => {
    for (;;) {
      const id = random.upperAlnum(10);
      if (!usedIds.has(id)) {
        usedIds.add(id);
        return id;
      }
    }
  };

  const chats: SimulatedChat[] = [];
  let startedAt = microsFromDate(options.startAt ?? DEFAULT_START_AT) + random.int(0, SECOND - 1);
  for (let index = 0; index < options.chats; index++) {
    chats.push(generateChat(random, index, random.pick(tenants), uniqueId(), uniqueId(), startedAt));
    startedAt += random.int(20 * SECOND, 150 * SECOND);
  }
  return options.reportFacts === true ? withReportFacts(chats, options.seed) : chats;
}

function generateChat(
  random: Random,
  index: number,
  tenant: SimulatedTenant,
  chatId: string,
  threadId: string,
  startedAt: EpochMicros,
): SimulatedChat {
  const customer = generateCustomer(random, index);
  const agent: SimulatedAgent = random.pick(AGENTS);
  const supervisor: SimulatedAgent | null = random.chance(0.3) ? random.pick(SUPERVISORS) : null;
  let nextEventNumber = 1;
  const nextEventId = (): string => `${threadId}_${nextEventNumber++}`;

  const prechatSurvey = random.chance(0.8) ? { eventId: nextEventId(), filledAt: startedAt } : null;

  const messageCount = random.int(3, 14);
  // The whisper is never the first message: a supervisor joins a chat that is already going on.
  const whisperStep = supervisor ? random.int(1, messageCount - 1) : -1;
  const longMessageStep = random.chance(0.15) ? random.int(1, messageCount - 1) : -1;
  const messages: SimulatedMessage[] = [];
  let at = startedAt + random.int(1 * SECOND, 3 * SECOND);
  let previousSpeaker: 'customer' | 'agent' = random.chance(0.7) ? 'customer' : 'agent';
  for (let step = 0; step < messageCount; step++) {
    if (step > 0) {
      // Now and then two messages land within the same second: v2 (second precision) can then only
      // order them by their place in the transcript.
      at += random.chance(0.1)
        ? random.int(SECOND / 5, (3 * SECOND) / 2)
        : random.int(3 * SECOND, 3 * MINUTE);
    }
    if (step === whisperStep && supervisor) {
      messages.push(
        message(
          nextEventId(),
          { kind: 'supervisor', agentId: supervisor.id },
          random.pick(SUPERVISOR_WHISPERS),
          'agents',
          at,
        ),
      );
      continue;
    }
    // Mostly turn-taking; sometimes the same person writes twice in a row.
    const speaker =
      random.chance(0.2) && step > 0 ? previousSpeaker : previousSpeaker === 'agent' ? 'customer' : 'agent';
    previousSpeaker = speaker;
    if (speaker === 'agent') {
      const isWelcome = step === 0;
      const text = isWelcome ? random.pick(AGENT_GREETINGS) : random.pick(AGENT_LINES);
      messages.push({
        ...message(nextEventId(), { kind: 'agent', agentId: agent.id }, text, 'all', at),
        isWelcome,
      });
    } else {
      const customerHasSpoken = messages.some((m) => m.author.kind === 'customer');
      const text =
        step === longMessageStep
          ? LONG_CUSTOMER_MESSAGE
          : customerHasSpoken
            ? random.pick(CUSTOMER_LINES)
            : random.pick(CUSTOMER_OPENERS);
      messages.push(message(nextEventId(), { kind: 'customer' }, text, 'all', at));
    }
  }

  const lastMessageAt = at;
  const closerKind = random.float();
  const closedBy: SimulatedCloser =
    closerKind < 0.6
      ? { by: 'agent', agentId: agent.id }
      : closerKind < 0.8
        ? { by: 'customer' }
        : { by: 'system' };
  // The router closes a chat after a long silence; people close it soon after the last word.
  const closedAt =
    lastMessageAt +
    (closedBy.by === 'system' ? random.int(10 * MINUTE, 15 * MINUTE) : random.int(5 * SECOND, MINUTE));

  const initialTags = random.chance(0.25) ? [random.pick(TAGS)] : [];
  const tagChanges = generateTagChanges(random, initialTags, messages[0]?.createdAt ?? startedAt, closedAt);

  return {
    tenant,
    chatId,
    threadId,
    groupId: random.pick(GROUP_IDS),
    customer,
    agent,
    supervisor,
    startedAt,
    prechatSurvey,
    initialTags,
    messages,
    tagChanges,
    closedBy,
    closedAt,
  };
}

function message(
  eventId: string,
  author: SimulatedAuthor,
  text: string,
  visibility: 'all' | 'agents',
  createdAt: EpochMicros,
): SimulatedMessage {
  return { eventId, author, text, visibility, createdAt, isWelcome: false };
}

function generateCustomer(random: Random, index: number): SimulatedCustomer {
  const firstName = random.pick(FIRST_NAMES);
  const lastName = random.pick(LAST_NAMES);
  const place = random.pick(PLACES);
  return {
    id: random.uuid(),
    visitorId: `S${random.digits(10)}.${random.hex(10)}`,
    name: `${firstName} ${lastName}`,
    // The index keeps e-mails unique within a run, so a test can find a chat by its customer.
    email: `${asciiLocalPart(firstName)}.${asciiLocalPart(lastName)}${index}@mail.example`,
    externalCustomerId: `C${random.upperAlnum(6)}`,
    country: place.country,
    countryCode: place.countryCode,
    city: place.city,
    ip: `203.0.113.${random.int(1, 254)}`,
  };
}

function asciiLocalPart(name: string): string {
  return name
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/ł/gi, 'l')
    .replace(/ø/gi, 'o')
    .toLowerCase()
    .replace(/[^a-z]/g, '');
}

function generateTagChanges(
  random: Random,
  initialTags: readonly string[],
  firstMessageAt: EpochMicros,
  closedAt: EpochMicros,
): SimulatedTagChange[] {
  // Agents tag during the chat or up to ~90 s after it closed.
  const earliest = firstMessageAt + SECOND;
  const latest = closedAt + 90 * SECOND;
  const added = random.sample(
    TAGS.filter((tag) => !initialTags.includes(tag)),
    random.int(0, 3),
  );
  const changes: SimulatedTagChange[] = added.map((tag) => ({
    kind: 'tagged',
    tag,
    at: random.int(earliest, latest),
  }));
  const removable = [...initialTags, ...added];
  if (removable.length > 0 && random.chance(0.2)) {
    const tag = random.pick(removable);
    const taggedAt = changes.find((change) => change.tag === tag)?.at ?? earliest;
    changes.push({ kind: 'untagged', tag, at: taggedAt + random.int(SECOND, 2 * MINUTE) });
  }
  return changes.sort((a, b) => a.at - b.at);
}
