import { describe, expect, it } from 'vitest';
import {
  ARCHIVE_ACTION,
  archiveContent,
  buildArchiveRawWebhooks,
  kafkaKeyOfArchive,
} from '../src/archive.js';
import type { ArchiveReadSource } from '../src/archive.js';
import { EventsError } from '../src/errors.js';
import { rawRecordKind, rawWebhookSchema } from '../src/raw-webhook.js';

const readAt = 1_794_937_653_123_456;
const source: ArchiveReadSource = {
  method: 'list_archives',
  pageId: 'MTUxNzM5ODEzMTQ5Ng==',
  pageNumber: 2,
  readAtMicros: readAt,
};

function chatRow(events = 3, text = 'hello') {
  return {
    id: 'C1',
    users: [
      {
        id: 'cust-1',
        type: 'customer',
        name: 'Ann',
        present: false,
        events_seen_up_to: '2026-11-25T10:00:00.000000Z',
      },
      { id: 'agent@example.com', type: 'agent', name: 'Bo', present: true },
    ],
    thread: {
      id: 'T1',
      active: false,
      user_ids: ['cust-1', 'agent@example.com'],
      created_at: '2026-11-25T10:00:00.000000Z',
      events: Array.from({ length: events }, (_, i) => ({
        id: `T1_${i + 1}`,
        type: 'message',
        text: `${text} ${i}`,
        author_id: 'cust-1',
        created_at: '2026-11-25T10:00:01.000000Z',
        visibility: 'all',
      })),
      previous_accessible_thread_id: 'T0',
    },
    access: { group_ids: [0] },
    is_followed: false,
  };
}

describe('buildArchiveRawWebhooks', () => {
  it('one record per thread: v3 structures, archive_thread, the source, a schema-valid value', () => {
    const [raw, ...rest] = buildArchiveRawWebhooks({ tenant: 'org-1', chat: chatRow(), source });
    expect(rest).toEqual([]);
    expect(raw).toMatchObject({
      format: 'v3',
      action: ARCHIVE_ACTION,
      api_version: '3.6',
      tenant: 'org-1',
      chat_id: 'C1',
      thread_id: 'T1',
      received_at: readAt,
      archive: {
        method: 'list_archives',
        page_id: source.pageId,
        page_number: 2,
        read_at: readAt,
        part: 1,
        parts: 1,
      },
    });
    expect(raw!.event_id).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.parse(raw!.body)).toEqual(chatRow());
    expect(rawRecordKind(raw!)).toBe('archive');
    expect(rawRecordKind({ format: 'v3', archive: null })).toBe('v3');
    expect(kafkaKeyOfArchive(raw!)).toBe('org-1|C1');
    expect(rawWebhookSchema().type.isValid(raw)).toBe(true);
  });

  it('the same thread gives the same id whoever reads it when; a changed thread another', () => {
    const id = (chat: unknown, s: ArchiveReadSource = source) =>
      buildArchiveRawWebhooks({ tenant: 'org-1', chat, source: s })[0]!.event_id;
    const base = id(chatRow());
    // Read again later, by another agent, from get_chat: same content, same id.
    const reread = {
      ...chatRow(),
      is_followed: true,
      thread: { ...chatRow().thread, next_accessible_thread_id: 'T2' },
    };
    reread.users[0] = {
      ...reread.users[0]!,
      present: true,
      events_seen_up_to: '2026-11-26T00:00:00.000000Z',
    };
    expect(id(reread, { method: 'get_chat', readAtMicros: readAt + 1, pageId: null, pageNumber: null })).toBe(
      base,
    );
    // A changed thread (an event more, an edited text, another tenant) gets another id.
    expect(id(chatRow(4))).not.toBe(base);
    expect(id(chatRow(3, 'edited'))).not.toBe(base);
    expect(buildArchiveRawWebhooks({ tenant: 'org-2', chat: chatRow(), source })[0]!.event_id).not.toBe(base);
    expect(archiveContent(reread)).toEqual(archiveContent(chatRow()));
  });

  it('splits a thread over the body limit into parts of consecutive events, each within the limit', () => {
    const chat = chatRow(50, 'x'.repeat(200));
    const maxBodyBytes = 4000;
    const parts = buildArchiveRawWebhooks({ tenant: 'org-1', chat, source }, { maxBodyBytes });
    expect(parts.length).toBeGreaterThan(3);
    const events = parts.flatMap((p) => (JSON.parse(p.body) as ReturnType<typeof chatRow>).thread.events);
    expect(events).toEqual(chat.thread.events);
    for (const [i, p] of parts.entries()) {
      expect(Buffer.byteLength(p.body)).toBeLessThanOrEqual(maxBodyBytes);
      expect(p.archive).toMatchObject({ part: i + 1, parts: parts.length });
      expect(JSON.parse(p.body)).toMatchObject({
        id: 'C1',
        users: chat.users,
        thread: { id: 'T1', active: false },
      });
    }
    expect(new Set(parts.map((p) => p.event_id)).size).toBe(parts.length);
    // By event count too.
    expect(
      buildArchiveRawWebhooks({ tenant: 'org-1', chat: chatRow(25), source }, { maxEventsPerPart: 10 }),
    ).toHaveLength(3);
  });

  it('cuts parts from the end and keeps the archiving message with what follows it in the last part', () => {
    const chat = chatRow(9);
    const archiving = {
      id: 'A',
      type: 'system_message',
      system_message_type: 'manual_archived_agent',
      text: 'x',
    };
    const rating = { id: 'R', type: 'system_message', system_message_type: 'rating.chat_rated', text: 'y' };
    const events = [...chat.thread.events, archiving, rating, { ...rating, id: 'R2' }];
    const parts = buildArchiveRawWebhooks(
      { tenant: 'org-1', chat: { ...chat, thread: { ...chat.thread, events } }, source },
      { maxEventsPerPart: 2 },
    );
    const slices = parts.map(
      (p) => (JSON.parse(p.body) as { thread: { events: { id: string }[] } }).thread.events,
    );
    expect(slices.flat()).toEqual(events);
    expect(slices.at(-1)!.map((e) => e.id)).toEqual(['A', 'R', 'R2']);
    expect(slices.slice(0, -1).every((s) => s.length === 2 || s.length === 1)).toBe(true);
  });

  it('refuses what cannot be written, with typed errors', () => {
    const code = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return e instanceof EventsError ? e.code : 'other';
      }
      return 'none';
    };
    const build = (chat: unknown, maxBodyBytes?: number) => () =>
      buildArchiveRawWebhooks(
        { tenant: 'org-1', chat, source },
        maxBodyBytes === undefined ? {} : { maxBodyBytes },
      );
    expect(code(build(null))).toBe('EVENTS_ARCHIVE_INVALID');
    expect(code(build({ id: 'C1' }))).toBe('EVENTS_ARCHIVE_INVALID');
    expect(code(build({ id: 'C1', thread: { active: true } }))).toBe('EVENTS_ARCHIVE_INVALID');
    let deep: unknown = {};
    for (let i = 0; i < 100; i++) deep = { d: deep };
    expect(code(build({ ...chatRow(), properties: deep }))).toBe('EVENTS_ARCHIVE_INVALID');
    expect(code(build(chatRow(1, 'y'.repeat(5000)), 4000))).toBe('EVENTS_ARCHIVE_TOO_LARGE');
    expect(code(build({ ...chatRow(), properties: { big: { v: 'z'.repeat(5000) } } }, 4000))).toBe(
      'EVENTS_ARCHIVE_TOO_LARGE',
    );
  });

  it('a restricted_access thread (beyond the plan history, no events) is one record as it is', () => {
    const chat = {
      id: 'C9',
      users: [],
      thread: {
        id: 'T9',
        active: false,
        restricted_access: 'Starter plan: 60 days',
        created_at: '2025-01-01T00:00:00.000000Z',
      },
    };
    const raws = buildArchiveRawWebhooks({ tenant: 'org-1', chat, source });
    expect(raws).toHaveLength(1);
    expect(JSON.parse(raws[0]!.body)).toEqual(chat);
  });
});
