import { describe, expect, it } from 'vitest';
import { DEFAULT_PARSE_LIMITS, LiveChatParseError, parseWebhook } from '../src/index.js';
import type { ChatDomainEvent, LiveChatParseErrorCode, ParseContext } from '../src/index.js';
import { deterministicEventId } from '../src/ids.js';
import { canonicalJson } from '../src/json.js';

const ORG = 'f9c7cc55-b35a-4e76-b0d5-ae9fce362314';
const CONTEXT: ParseContext = { rawEventId: 'raw-limits', receivedAtMicros: 1_800_000_000_000_000 };
/** Generous for a loaded 2-core machine; the quadratic parser took 30 s and more on these bodies. */
const TIME_BOUND_MS = 3_000;

/** Parses the JSON text as the normalizer does, timing the parse; returns the events or the typed error. */
function timedParse(
  text: string,
  context: ParseContext = CONTEXT,
): { ms: number; events?: ChatDomainEvent[]; error?: LiveChatParseError } {
  const started = performance.now();
  try {
    const events = parseWebhook(JSON.parse(text), context);
    return { ms: performance.now() - started, events };
  } catch (error) {
    if (!(error instanceof LiveChatParseError)) throw error;
    return { ms: performance.now() - started, error };
  }
}

function refusal(body: unknown, context: ParseContext = CONTEXT): LiveChatParseErrorCode {
  const { error } = timedParse(typeof body === 'string' ? body : JSON.stringify(body), context);
  if (error === undefined) throw new Error('expected the parser to refuse the body');
  expect(error.retryable).toBe(false);
  return error.code;
}

/** An incoming_chat whose thread carries `count` events without LiveChat ids (each id is derived from content). */
function incomingChatWithoutIds(count: number) {
  return {
    action: 'incoming_chat',
    organization_id: ORG,
    payload: {
      chat: {
        id: 'BIGCHAT',
        users: [{ id: 'agent@example.com', type: 'agent' }],
        thread: {
          id: 'BIGTHREAD',
          events: Array.from({ length: count }, (_, n) => ({ type: 'message', text: `m${n}` })),
        },
      },
    },
  };
}

describe('parser cost is linear in the body', () => {
  it('maps an 8k-event incoming_chat of events without ids within seconds, with the ids of the per-event rule', () => {
    const body = incomingChatWithoutIds(8_000);
    const text = JSON.stringify(body);
    expect(text.length).toBeGreaterThan(200_000);
    const { ms, events, error } = timedParse(text);
    expect(error).toBeUndefined();
    expect(events).toHaveLength(8_001);
    expect(ms).toBeLessThan(TIME_BOUND_MS);
    // Ids of events without an id keep their definition: the action, the canonical payload and the event.
    const payload = canonicalJson(body.payload);
    for (const n of [0, 1, 4_000, 7_999]) {
      const event = events![n + 1]!;
      expect(event.event_id).toBe(
        deterministicEventId([
          'v3-action',
          ORG,
          'incoming_chat',
          payload,
          canonicalJson(body.payload.chat.thread.events[n]),
        ]),
      );
    }
    expect(new Set(events!.map((event) => event.event_id)).size).toBe(8_001);
  });

  it('refuses an incoming_chat with 1,000,000 empty threads within seconds (LIVECHAT_TOO_MANY_THREADS)', () => {
    const text = `{"action":"incoming_chat","organization_id":"${ORG}","payload":{"chat":{"id":"C","threads":[${Array(1_000_000).fill('{}').join(',')}]}}}`;
    expect(text.length).toBeGreaterThan(2_900_000);
    const { ms, error } = timedParse(text);
    expect(error?.code).toBe('LIVECHAT_TOO_MANY_THREADS');
    expect(error?.details).toEqual({
      limit: 'maxThreads',
      max: DEFAULT_PARSE_LIMITS.maxThreads,
      count: 1_000_000,
    });
    expect(ms).toBeLessThan(TIME_BOUND_MS);
  });

  it('does not copy the chat users and properties into every thread: the output stays linear in the body', () => {
    const users = Array.from({ length: 1_000 }, (_, n) => ({
      id: `c${n}`,
      type: 'customer',
      name: `Customer ${n}`,
    }));
    const threads = Array.from({ length: 1_000 }, (_, n) => ({ id: `T${n}` }));
    const body = {
      action: 'incoming_chat',
      organization_id: ORG,
      payload: {
        chat: {
          id: 'C',
          users,
          properties: { routing: { x: 'y'.repeat(10_000) } },
          access: { group_ids: [1, 2] },
          threads,
        },
      },
    };
    const text = JSON.stringify(body);
    const { ms, events, error } = timedParse(text);
    expect(error).toBeUndefined();
    expect(ms).toBeLessThan(TIME_BOUND_MS);
    // 1,000 thread starts + 1,000 customers, each customer once (not once per thread).
    expect(events).toHaveLength(2_000);
    // Copied into every thread, the users alone were 1,000 × ~60 KB = ~60 MB of events.
    expect(JSON.stringify(events).length).toBeLessThan(2_000_000);
    const starts = events!.filter((event) => event.type === 'thread_started');
    expect(starts[0]).toMatchObject({ thread_id: 'T0' });
    const first = starts[0]!.type === 'thread_started' ? starts[0]!.body.thread_started : undefined;
    expect(first?.users).toHaveLength(1_000);
    expect(first?.group_ids).toEqual([1, 2]);
    expect(first?.chat_properties_json).toContain('routing');
    for (const later of starts.slice(1)) {
      expect(later.type === 'thread_started' && later.body.thread_started).toMatchObject({
        users: [],
        chat_properties_json: null,
      });
    }
    expect(
      events!
        .filter((event) => event.type === 'customer_identified')
        .every((event) => event.thread_id === 'T0'),
    ).toBe(true);
  });

  it('maps a v2 ticket with 200,000 ticket events (no argument-spread of a huge list)', () => {
    const ticket = {
      id: 'T',
      events: Array.from({ length: 200_000 }, (_, n) => ({
        date: `2026-11-25T10:00:${String(n % 60).padStart(2, '0')}Z`,
      })),
    };
    const { ms, events, error } = timedParse(
      JSON.stringify({ event_type: 'ticket_created', license_id: '1', ticket }),
    );
    expect(error).toBeUndefined();
    expect(events?.[0]?.occurred_at).toBe(Date.parse('2026-11-25T10:00:00Z') * 1000);
    expect(ms).toBeLessThan(TIME_BOUND_MS);
  });
});

describe('parse limits', () => {
  const event = (n: number) => ({ id: `E${n}`, type: 'message', text: 'x' });

  it('refuses more events than maxEvents, whichever part of the body they come from', () => {
    const over = DEFAULT_PARSE_LIMITS.maxEvents + 1;
    expect(refusal(incomingChatWithoutIds(over))).toBe('LIVECHAT_TOO_MANY_EVENTS');
    expect(
      refusal({
        action: 'auto_accesses_updated',
        organization_id: ORG,
        payload: Array.from({ length: over }, (_, n) => ({ id: `a${n}` })),
      }),
    ).toBe('LIVECHAT_TOO_MANY_EVENTS');
    expect(
      refusal({
        event_type: 'chat_started',
        license_id: '1',
        chat: { id: 'C', messages: Array.from({ length: over }, (_, n) => ({ text: `${n}` })) },
      }),
    ).toBe('LIVECHAT_TOO_MANY_EVENTS');
    // Events of all threads together count.
    const threads = Array.from({ length: 3 }, (_, t) => ({
      id: `T${t}`,
      events: Array.from({ length: 4_000 }, (_, n) => event(t * 10_000 + n)),
    }));
    expect(
      refusal({ action: 'incoming_chat', organization_id: ORG, payload: { chat: { id: 'C', threads } } }),
    ).toBe('LIVECHAT_TOO_MANY_EVENTS');
  });

  it('accepts exactly maxEvents events', () => {
    // thread_started + maxEvents - 1 messages
    const { events, error } = timedParse(
      JSON.stringify(incomingChatWithoutIds(DEFAULT_PARSE_LIMITS.maxEvents - 1)),
    );
    expect(error).toBeUndefined();
    expect(events).toHaveLength(DEFAULT_PARSE_LIMITS.maxEvents);
  });

  it('refuses more users than maxUsers (v3 chat.users, v2 chat.agents)', () => {
    const over = DEFAULT_PARSE_LIMITS.maxUsers + 1;
    expect(
      refusal({
        action: 'incoming_chat',
        organization_id: ORG,
        payload: {
          chat: {
            id: 'C',
            users: Array.from({ length: over }, (_, n) => ({ id: `u${n}` })),
            thread: { id: 'T' },
          },
        },
      }),
    ).toBe('LIVECHAT_TOO_MANY_USERS');
    expect(
      refusal({
        event_type: 'chat_started',
        license_id: '1',
        chat: { id: 'C', agents: Array.from({ length: over }, (_, n) => ({ login: `a${n}@x` })) },
      }),
    ).toBe('LIVECHAT_TOO_MANY_USERS');
  });

  it('refuses a body nested deeper than maxDepth (instead of overflowing the stack)', () => {
    const deep = `${'['.repeat(50_000)}${']'.repeat(50_000)}`;
    expect(
      refusal(
        `{"action":"thread_tagged","organization_id":"${ORG}","payload":{"chat_id":"C","deep":${deep}}}`,
      ),
    ).toBe('LIVECHAT_TOO_DEEP');
    expect(refusal(`{"event_type":"chat_changed","license_id":"1","chat":{"id":"C","x":${deep}}}`)).toBe(
      'LIVECHAT_TOO_DEEP',
    );
    let nested: unknown = {};
    for (let d = 0; d < DEFAULT_PARSE_LIMITS.maxDepth - 3; d++) nested = { d: nested };
    // body → payload → nested…: exactly at the limit.
    expect(
      timedParse(JSON.stringify({ action: 'tag_created', organization_id: ORG, payload: { n: nested } }))
        .error,
    ).toBeUndefined();
    expect(refusal({ action: 'tag_created', organization_id: ORG, payload: { n: { n: nested } } })).toBe(
      'LIVECHAT_TOO_DEEP',
    );
  });

  it('takes its limits from the context', () => {
    const limits = { maxEvents: 3, maxThreads: 2, maxUsers: 1, maxDepth: 6 };
    const context = { ...CONTEXT, limits };
    expect(refusal(incomingChatWithoutIds(3), context)).toBe('LIVECHAT_TOO_MANY_EVENTS');
    expect(timedParse(JSON.stringify(incomingChatWithoutIds(2)), context).events).toHaveLength(3);
    expect(
      refusal(
        {
          action: 'incoming_chat',
          organization_id: ORG,
          payload: { chat: { id: 'C', threads: [{}, {}, {}] } },
        },
        context,
      ),
    ).toBe('LIVECHAT_TOO_MANY_THREADS');
    expect(
      refusal(
        { action: 'incoming_chat', organization_id: ORG, payload: { chat: { id: 'C', users: [{}, {}] } } },
        context,
      ),
    ).toBe('LIVECHAT_TOO_MANY_USERS');
    expect(
      refusal(
        { action: 'tag_created', organization_id: ORG, payload: { a: { b: { c: { d: { e: {} } } } } } },
        context,
      ),
    ).toBe('LIVECHAT_TOO_DEEP');
  });
});
