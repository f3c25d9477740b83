import { describe, expect, it } from 'vitest';
import { parseWebhook, type ChatDomainEvent } from '@livechat-pipeline/livechat';
import { generateChats, renderV2, renderV3, scheduleDeliveries } from '@livechat-pipeline/traffic-simulator';

// The same chats delivered as v2 and as v3.6 (with duplicates and reordering) yield the same
// transcript facts: texts, order, author kinds, visibility, times at v2's second precision.
interface Fact {
  text: string | null;
  author: string;
  visibility: string;
  second: number;
}

function transcriptFacts(bodies: readonly unknown[]): Map<string, Fact[]> {
  const seen = new Set<string>();
  const byChat = new Map<string, { fact: Fact; order: [number, number] }[]>();
  bodies.forEach((body, index) => {
    for (const event of parseWebhook(body, {
      rawEventId: `raw-${index}`,
      receivedAtMicros: 1,
    }) as ChatDomainEvent[]) {
      if (seen.has(event.event_id) || event.type !== 'message_posted' || event.chat_id === null) continue;
      seen.add(event.event_id);
      const message = event.body.message_posted.message;
      if (message.kind !== 'message') continue;
      const list = byChat.get(event.chat_id) ?? [];
      list.push({
        fact: {
          text: message.text,
          author: message.author_kind,
          visibility: message.visibility,
          second: Math.floor((message.created_at ?? 0) / 1e6),
        },
        order: [message.created_at ?? 0, message.transcript_position ?? 0],
      });
      byChat.set(event.chat_id, list);
    }
  });
  return new Map(
    [...byChat].map(([chat, list]) => [
      chat,
      list.sort((a, b) => a.order[0] - b.order[0] || a.order[1] - b.order[1]).map((x) => x.fact),
    ]),
  );
}

describe('parser: v2 and v3.6 renderings of the same simulated chats', () => {
  it('give the same transcript facts for every chat', () => {
    const chats = generateChats({ seed: 77, chats: 40 });
    const v3 = scheduleDeliveries(renderV3(chats), { seed: 1, duplicateRate: 0.2, reorderRate: 0.2 }).map(
      (d) => d.body,
    );
    const v2 = scheduleDeliveries(renderV2(chats), { seed: 2, duplicateRate: 0.2, reorderRate: 0.2 }).map(
      (d) => d.body,
    );
    const fromV3 = transcriptFacts(v3);
    const fromV2 = transcriptFacts(v2);
    expect(fromV3.size).toBe(40);
    for (const chat of chats) {
      const a = fromV3.get(chat.chatId);
      expect(a?.length, chat.chatId).toBeGreaterThan(0);
      expect(fromV2.get(chat.chatId), chat.chatId).toEqual(a);
    }
  });
});
