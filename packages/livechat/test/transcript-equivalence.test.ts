import { describe, expect, it } from 'vitest';
import { parseWebhook } from '../src/index.js';
import type { ChatDomainEvent, ChatEventOf } from '../src/index.js';
import { CONTEXT, expectedChats, ofType, trafficBodies } from './load-fixtures.js';

/**
 * Two chats of the synthetic traffic, each delivered in both formats with LiveChat's duplicates and reordering.
 * A consumer that dedups by event_id and orders by occurred_at must see the same transcript from either format.
 */
function parseAll(bodies: readonly unknown[]): ChatDomainEvent[] {
  return bodies.flatMap((body, index) => parseWebhook(body, { ...CONTEXT, rawEventId: `raw-${index}` }));
}

function dedup(events: readonly ChatDomainEvent[]): ChatDomainEvent[] {
  const seen = new Map<string, ChatDomainEvent>();
  for (const event of events) if (!seen.has(event.event_id)) seen.set(event.event_id, event);
  return [...seen.values()];
}

/** The transcript: chat messages (not forms or system messages), deduped, in LiveChat's time order. */
function transcript(events: readonly ChatDomainEvent[]): ChatEventOf<'message_posted'>[] {
  return ofType(dedup(events), 'message_posted')
    .filter((event) => event.body.message_posted.message.kind === 'message')
    .sort((a, b) => (a.occurred_at ?? 0) - (b.occurred_at ?? 0));
}

function facts(events: readonly ChatEventOf<'message_posted'>[]) {
  return events.map((event) => {
    const message = event.body.message_posted.message;
    return { text: message.text, author_kind: message.author_kind, visibility: message.visibility };
  });
}

describe.each(expectedChats())('chat $chat_id in v2 and v3', (expected) => {
  const v3 = parseAll(trafficBodies(expected.chat_id, 'v3'));
  const v2 = parseAll(trafficBodies(expected.chat_id, 'v2'));

  it('v3 yields the expected transcript', () => {
    expect(facts(transcript(v3))).toEqual(
      expected.messages.map((message) => ({
        text: message.text,
        author_kind: message.author_type,
        visibility: 'all',
      })),
    );
  });

  it('v2 yields the same transcript facts as v3 (texts, order, author kinds, visibility)', () => {
    expect(facts(transcript(v2))).toEqual(facts(transcript(v3)));
  });

  it('v2 times are v3 times at second precision', () => {
    const v3Seconds = transcript(v3).map(
      (event) => Math.floor((event.occurred_at ?? 0) / 1_000_000) * 1_000_000,
    );
    expect(transcript(v2).map((event) => event.occurred_at)).toEqual(v3Seconds);
  });

  it('v2 chat_started and chat_ended repeat messages under the same ids (dedup leaves one per message)', () => {
    const allMessages = ofType(v2, 'message_posted').filter(
      (event) => event.body.message_posted.message.kind === 'message',
    );
    expect(allMessages.length).toBeGreaterThan(expected.messages.length);
    expect(new Set(allMessages.map((event) => event.event_id)).size).toBe(expected.messages.length);
  });

  it('v3 incoming_chat and incoming_event duplicates collapse to one event per LiveChat event', () => {
    const posted = ofType(dedup(v3), 'message_posted');
    const livechatIds = posted.map((event) => event.body.message_posted.message.livechat_event_id);
    expect(new Set(livechatIds).size).toBe(posted.length);
  });

  it('both formats start the thread once, with the same customer', () => {
    for (const events of [v2, v3]) {
      expect(ofType(dedup(events), 'thread_started')).toHaveLength(1);
      const customers = ofType(dedup(events), 'customer_identified').map(
        (event) => event.body.customer_identified,
      );
      expect(customers.map((customer) => [customer.name, customer.email])).toContainEqual([
        expected.customer_name,
        expected.customer_email,
      ]);
    }
    expect(ofType(v3, 'thread_started')[0]?.occurred_at).toBeLessThanOrEqual(
      Date.parse(expected.started_at) * 1000,
    );
  });

  it('both formats close the thread once; v2 at ended_timestamp', () => {
    expect(ofType(dedup(v3), 'thread_closed')).toHaveLength(1);
    const closedV2 = ofType(dedup(v2), 'thread_closed');
    expect(closedV2.map((event) => event.occurred_at)).toEqual([expected.ended_at_v2 * 1_000_000]);
  });

  it('both formats end with the expected tags (v3 tag events, v2 last snapshot)', () => {
    const v3Tags = new Set(ofType(dedup(v3), 'thread_tagged').map((event) => event.body.thread_tagged.tag));
    expect([...v3Tags].sort()).toEqual([...expected.tags].sort());
    const snapshots = ofType(dedup(v2), 'tags_snapshot');
    const last = snapshots.find((event) => event.occurred_at !== null) ?? snapshots.at(-1);
    expect([...(last?.body.tags_snapshot.tags ?? [])].sort()).toEqual([...expected.tags].sort());
  });
});
