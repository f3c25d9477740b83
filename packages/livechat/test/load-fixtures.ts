import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseWebhook } from '../src/index.js';
import type { ChatDomainEvent, ChatEventType, ParseContext } from '../src/index.js';

const fixturesDir = fileURLToPath(new URL('./fixtures/', import.meta.url));

export const RECEIVED_AT = 1_800_000_000_123_456;
export const CONTEXT: ParseContext = { rawEventId: 'raw-fixture-1', receivedAtMicros: RECEIVED_AT };

export function singleFixtureNames(): string[] {
  return readdirSync(`${fixturesDir}single`)
    .filter((name) => name.endsWith('.json'))
    .sort();
}

export function singleFixture(name: string): unknown {
  return JSON.parse(readFileSync(`${fixturesDir}single/${name}`, 'utf8')) as unknown;
}

export function parseFixture(name: string, context: Partial<ParseContext> = {}): ChatDomainEvent[] {
  return parseWebhook(singleFixture(name), { ...CONTEXT, ...context });
}

/** One request body per line, in delivery order (with LiveChat's duplicates and reordering). */
export function trafficBodies(chatId: string, format: 'v2' | 'v3'): unknown[] {
  return readFileSync(`${fixturesDir}traffic/${chatId}.${format}.jsonl`, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as unknown);
}

export interface ExpectedChat {
  chat_id: string;
  thread_id: string;
  customer_email: string;
  customer_name: string;
  started_at: string;
  ended_at_v2: number;
  tags: string[];
  messages: { author_type: string; text: string; created_at: string }[];
}

export function expectedChats(): ExpectedChat[] {
  const expected = JSON.parse(readFileSync(`${fixturesDir}traffic/expected.json`, 'utf8')) as {
    chats: ExpectedChat[];
  };
  return expected.chats;
}

/** All events of one type, narrowed. */
export function ofType<T extends ChatEventType>(
  events: readonly ChatDomainEvent[],
  type: T,
): EventOfType<T>[] {
  return events.filter((event): event is EventOfType<T> => event.type === type);
}

type EventOfType<T extends ChatEventType> = Extract<ChatDomainEvent, { type: T }>;

/** Exactly one event of a type; fails the test otherwise. */
export function only<T extends ChatEventType>(events: readonly ChatDomainEvent[], type: T): EventOfType<T> {
  const [first, ...rest] = ofType(events, type);
  if (first === undefined || rest.length > 0)
    throw new Error(`expected one ${type}, got ${rest.length + (first ? 1 : 0)}`);
  return first;
}
