import { describe, expect, it } from 'vitest';
import { generateChats } from '../src/generate.js';
import { archiveGetChat, renderArchive } from '../src/render-archive.js';
import { renderV3 } from '../src/render-v3.js';
import { finalTags } from '../src/model.js';
import type { V3Event } from '../src/v3-body.js';

const chats = generateChats({ seed: 11, chats: 40, reportFacts: true });

/** Every thread event the v3 webhooks carry, per thread (incoming_chat's thread.events and incoming_event). */
function webhookEvents(): Map<string, V3Event[]> {
  const byThread = new Map<string, V3Event[]>();
  const add = (thread: string, event: V3Event) =>
    byThread.set(thread, [...(byThread.get(thread) ?? []), event]);
  for (const w of renderV3(chats)) {
    if (w.format !== 'v3') continue;
    const body = w.body;
    if (body.action === 'incoming_chat')
      for (const e of body.payload.chat.thread.events) add(body.payload.chat.thread.id, e);
    if (body.action === 'incoming_event') add(body.payload.thread_id, body.payload.event);
  }
  return byThread;
}

describe('renderArchive', () => {
  it('one list_archives row per thread, oldest first, each a chat with a single thread', () => {
    const rows = renderArchive(chats);
    expect(rows).toHaveLength(chats.length);
    expect(rows.map((r) => r.createdAt)).toEqual([...rows.map((r) => r.createdAt)].sort((a, b) => a - b));
    for (const r of rows) {
      expect(r.row.id).toBe(r.chatId);
      expect(r.row.thread.id).toBe(r.threadId);
      expect(r.row).not.toHaveProperty('threads');
      expect(r.row.thread.active).toBe(false);
      expect(r.row.thread.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    }
  });

  it('carries exactly the events the v3 webhooks of the thread carry, sorted by created_at', () => {
    const expected = webhookEvents();
    for (const r of renderArchive(chats)) {
      const byId = (a: V3Event, b: V3Event) => a.id.localeCompare(b.id);
      expect([...r.row.thread.events].sort(byId)).toEqual([...(expected.get(r.threadId) ?? [])].sort(byId));
      const times = r.row.thread.events.map((e) => e.created_at);
      expect(times).toEqual([...times].sort());
    }
  });

  it('state as of the end: final tags, rating properties, queue duration, who closed, resumed threads', () => {
    const rows = new Map(renderArchive(chats).map((r) => [r.threadId, r.row]));
    for (const chat of chats) {
      const row = rows.get(chat.threadId)!;
      const tags = finalTags(chat);
      expect(row.thread.tags ?? []).toEqual(tags);
      const rating = chat.report?.rating;
      if (rating && rating.canceledAt === null)
        expect(row.thread.properties['rating']?.['score']).toBe(rating.score === 'good' ? 1 : 0);
      else expect(row.thread.properties['rating']).toBeUndefined();
      expect(row.thread.queue).toBeUndefined();
      expect(row.thread.queues_duration !== undefined).toBe(chat.report?.queue != null);
      if (chat.closedBy.by === 'agent') {
        const archived = row.thread.events.find((e) => e.id === chat.report!.archivedEventId);
        expect(archived).toMatchObject({ system_message_type: 'manual_archived_agent' });
        const name = (archived as { text_vars?: Record<string, string> }).text_vars?.['agent'];
        expect(row.users.find((u) => u.type === 'agent' && u.name === name)?.id).toBe(chat.closedBy.agentId);
      }
      if (chat.report?.previousThreadId) {
        expect(row.thread.previous_thread_id).toBe(chat.report.previousThreadId);
        expect(rows.get(chat.report.previousThreadId)?.thread.next_thread_id).toBe(chat.threadId);
      }
    }
    expect(chats.some((c) => c.report?.previousThreadId)).toBe(true);
  });

  it('read mid-way: later threads left out, open threads active with the events so far', () => {
    const chat = chats[5]!;
    const at = chat.messages[1]!.createdAt;
    const rows = renderArchive(chats, { at });
    expect(rows.every((r) => r.createdAt <= at)).toBe(true);
    const row = rows.find((r) => r.threadId === chat.threadId)!;
    expect(row.active).toBe(true);
    expect(row.row.thread.active).toBe(true);
    expect(row.row.thread.events.map((e) => e.id)).toContain(chat.messages[1]!.eventId);
    expect(row.row.thread.events.map((e) => e.id)).not.toContain(chat.messages[2]?.eventId);
  });

  it('get_chat: the same chat without the list_archives-only accessible thread ids', () => {
    const resumed = renderArchive(chats).find((r) => r.row.thread.previous_thread_id !== undefined)!;
    expect(resumed.row.thread.previous_accessible_thread_id).toBe(resumed.row.thread.previous_thread_id);
    const got = archiveGetChat(resumed);
    expect(got.thread).not.toHaveProperty('previous_accessible_thread_id');
    expect(got.thread.previous_thread_id).toBe(resumed.row.thread.previous_thread_id);
    expect(got.thread.events).toEqual(resumed.row.thread.events);
  });
});
