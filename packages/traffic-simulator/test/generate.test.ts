import { describe, expect, it } from 'vitest';
import { TrafficSimulatorError, finalTags, generateChats, simulatedTenant } from '../src/index.js';

describe('generateChats', () => {
  const chats = generateChats({ seed: 11, chats: 200 });

  it('is deterministic from the seed', () => {
    expect(generateChats({ seed: 11, chats: 200 })).toEqual(chats);
    expect(generateChats({ seed: 12, chats: 200 })).not.toEqual(chats);
  });

  it('does not depend on how many chats follow', () => {
    expect(generateChats({ seed: 11, chats: 5 })).toEqual(chats.slice(0, 5));
  });

  it('gives LiveChat-shaped, unique ids', () => {
    const ids = chats.flatMap((chat) => [chat.chatId, chat.threadId]);
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) expect(id).toMatch(/^[A-Z0-9]{10}$/);
    expect(new Set(chats.map((chat) => chat.customer.email)).size).toBe(chats.length);
  });

  it('numbers events <thread>_<n> in writing order, times strictly increasing', () => {
    for (const chat of chats) {
      const eventIds = [
        ...(chat.prechatSurvey ? [chat.prechatSurvey.eventId] : []),
        ...chat.messages.map((m) => m.eventId),
      ];
      expect(eventIds).toEqual(eventIds.map((_, i) => `${chat.threadId}_${i + 1}`));
      const times = chat.messages.map((m) => m.createdAt);
      for (let i = 1; i < times.length; i++) expect(times[i]).toBeGreaterThan(times[i - 1] as number);
      expect(chat.messages[0]?.createdAt).toBeGreaterThan(chat.startedAt);
      expect(chat.closedAt).toBeGreaterThan(times.at(-1) as number);
    }
  });

  it('covers the variations a consumer must handle', () => {
    const whispers = chats.flatMap((chat) => chat.messages.filter((m) => m.author.kind === 'supervisor'));
    expect(whispers.length).toBeGreaterThan(20);
    expect(whispers.every((m) => m.visibility === 'agents')).toBe(true);
    expect(chats.some((chat) => chat.messages[0]?.author.kind === 'customer')).toBe(true);
    expect(chats.some((chat) => chat.prechatSurvey === null)).toBe(true);
    expect(chats.some((chat) => chat.initialTags.length > 0)).toBe(true);
    expect(chats.some((chat) => chat.tagChanges.some((change) => change.kind === 'untagged'))).toBe(true);
    expect(chats.some((chat) => chat.tagChanges.some((change) => change.at > chat.closedAt))).toBe(true);
    expect(new Set(chats.map((chat) => chat.closedBy.by))).toEqual(new Set(['agent', 'customer', 'system']));
    const texts = chats.flatMap((chat) => chat.messages.map((m) => m.text));
    expect(texts.some((text) => text.includes('\n'))).toBe(true);
    expect(texts.some((text) => /\p{Extended_Pictographic}/u.test(text))).toBe(true);
    expect(texts.some((text) => text.includes('"'))).toBe(true);
    expect(texts.some((text) => text.length > 2000)).toBe(true);
    // Two messages in one second: v2 (second precision) can only order them by transcript position.
    expect(
      chats.some((chat) =>
        chat.messages.some(
          (m, i) =>
            i > 0 &&
            Math.floor(m.createdAt / 1e6) === Math.floor((chat.messages[i - 1]?.createdAt ?? 0) / 1e6),
        ),
      ),
    ).toBe(true);
  });

  it('spreads chats over the given tenants', () => {
    const tenants = [simulatedTenant(1, 'a'), simulatedTenant(1, 'b')];
    const spread = generateChats({ seed: 3, chats: 40, tenants });
    expect(new Set(spread.map((chat) => chat.tenant))).toEqual(new Set(tenants));
    expect(tenants[0]?.organizationId).toMatch(/^[0-9a-f-]{36}$/);
    expect(tenants[0]?.licenseId).toMatch(/^\d+$/);
  });

  it('derives a final tag set from the changes', () => {
    for (const chat of chats) {
      const tags = new Set(chat.initialTags);
      for (const change of chat.tagChanges) {
        if (change.kind === 'tagged') tags.add(change.tag);
        else tags.delete(change.tag);
      }
      expect(finalTags(chat)).toEqual([...tags].sort());
    }
  });

  it('rejects impossible options with a coded error', () => {
    expect(() => generateChats({ seed: 1, chats: -1 })).toThrow(TrafficSimulatorError);
    let thrown: unknown;
    try {
      generateChats({ seed: 1, chats: 1, tenants: [] });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toMatchObject({ code: 'SIM_INVALID_OPTION', option: 'tenants', retryable: false });
  });
});
