import { describe, expect, it } from 'vitest';
import {
  agentStatuses,
  expectedThreadFacts,
  generateChats,
  simulateTraffic,
  wilsonScore,
} from '../src/index.js';

describe('report facts (generateChats({ reportFacts: true }))', () => {
  const plain = generateChats({ seed: 9, chats: 80 });
  const report = generateChats({ seed: 9, chats: 80, reportFacts: true });

  it('are off by default: chats carry no report facts and render as before', () => {
    expect(plain.every((chat) => chat.report === undefined)).toBe(true);
  });

  it('cover ratings (good, bad, comments, cancelled), queues (some left), transfers, greetings, resumed chats', () => {
    const facts = report.map((chat) => chat.report!);
    expect(facts.filter((f) => f.rating?.score === 'good').length).toBeGreaterThan(5);
    expect(facts.filter((f) => f.rating?.score === 'bad').length).toBeGreaterThan(2);
    expect(facts.some((f) => f.rating?.comment != null)).toBe(true);
    expect(facts.some((f) => f.rating?.canceledAt != null)).toBe(true);
    expect(facts.some((f) => f.queue?.left === true)).toBe(true);
    expect(facts.some((f) => f.queue?.left === false)).toBe(true);
    expect(facts.some((f) => f.transfer !== null)).toBe(true);
    expect(report.some((chat) => chat.messages.some((m) => m.isGreeting === true))).toBe(true);
    const resumed = report.filter((chat) => chat.report?.previousThreadId != null);
    expect(resumed.length).toBeGreaterThan(2);
    for (const thread of resumed) {
      const first = report.find((c) => c.threadId === thread.report!.previousThreadId)!;
      expect(thread.chatId).toBe(first.chatId);
      expect(thread.startedAt).toBeGreaterThan(first.closedAt);
    }
  });

  it('keep every other chat fact of the same seed: the same chats, ids, starts and customers', () => {
    const firstThreads = report.filter((chat) => chat.report?.previousThreadId === null);
    expect(firstThreads.map((c) => [c.chatId, c.threadId, c.startedAt, c.customer.id])).toEqual(
      plain.map((c) => [c.chatId, c.threadId, c.startedAt, c.customer.id]),
    );
  });

  it('a customer who left the queue got no agent message; after a transfer the new agent writes', () => {
    for (const chat of report) {
      if (chat.report?.queue?.left)
        expect(chat.messages.every((m) => m.author.kind === 'customer')).toBe(true);
      const transfer = chat.report?.transfer;
      if (transfer)
        for (const m of chat.messages)
          if (m.author.kind === 'agent' && m.createdAt > transfer.at)
            expect(m.author.agentId).toBe(transfer.to.id);
    }
  });

  it('expected facts: v2 sees no transfers, comments or queue times; a resumed v2 thread is a chat of its own', () => {
    for (const chat of report) {
      const v2 = expectedThreadFacts(chat, 'v2');
      expect(v2.transfers).toBe(0);
      expect(v2.ratingComment).toBeNull();
      expect(v2.queuedSeconds).toBeNull();
      expect(v2.threadId).toBe(v2.chatId);
      if (chat.report?.previousThreadId) expect(v2.chatId).toBe(chat.threadId);
      const v3 = expectedThreadFacts(chat, 'v3');
      expect(v3.durationSeconds).toBe((chat.closedAt - chat.startedAt) / 1e6);
      if (chat.report?.rating?.canceledAt != null) expect(v3.rating).toBeNull();
    }
  });

  it('agents go accepting → not accepting → accepting again → offline around their chats', () => {
    const statuses = agentStatuses(report);
    const agents = new Set(statuses.map((s) => s.agentId));
    for (const agent of agents) {
      expect(statuses.filter((s) => s.agentId === agent).map((s) => s.status)).toEqual([
        'accepting_chats',
        'not_accepting_chats',
        'accepting_chats',
        'offline',
      ]);
    }
    const traffic = simulateTraffic({ seed: 9, chats: 20, format: 'v3', reportFacts: true });
    const kinds = new Set(traffic.deliveries.map((d) => d.kind));
    for (const kind of ['routing_status_set', 'chat_transferred', 'thread_properties_updated'])
      expect(kinds, kind).toContain(kind);
    expect(traffic.expectedThreads).toHaveLength(traffic.chats.length);
    expect(simulateTraffic({ seed: 9, chats: 20, format: 'v3', reportFacts: true })).toEqual(traffic);
  });
});

describe('wilsonScore', () => {
  it('reproduces LiveChat’s samples (13 good / 6 bad → 0.423267, 36 / 174 → 0.114734)', () => {
    expect(wilsonScore(13, 6)).toBeCloseTo(0.423267, 6);
    expect(wilsonScore(36, 174)).toBeCloseTo(0.114734, 6);
    expect(wilsonScore(0, 0)).toBeNull();
  });
});
