import { describe, expect, it } from 'vitest';
import {
  NOTE_BODY_LIMIT,
  escapeHtml,
  renderNote,
  splitName,
  syncKey,
  type NoteEntry,
  type ThreadSnapshot,
} from '../src/sync/note.js';

const AT = Date.parse('2026-11-25T10:00:00Z') * 1000;
const entry = (text: string, i = 0, fields: Partial<NoteEntry> = {}): NoteEntry => ({
  authorKind: i % 2 === 0 ? 'customer' : 'agent',
  authorName: i % 2 === 0 ? 'Ada <Lovelace>' : 'Bob',
  authorId: null,
  kind: 'message',
  text,
  fileName: null,
  fileUrl: null,
  createdUs: AT + i * 1_000_000,
  ...fields,
});
const thread = (entries: NoteEntry[], fields: Partial<ThreadSnapshot> = {}): ThreadSnapshot => ({
  tenant: 'org-1',
  chatId: 'CHAT1',
  threadId: 'TH1',
  closedUs: AT + 60_000_000,
  customerName: 'Ada <Lovelace>',
  customerEmail: 'ada@example.com',
  tags: ['vip', 'a&b'],
  ratingScore: 1,
  ratingComment: 'great "help"',
  entries,
  ...fields,
});

describe('note body', () => {
  it('escapes every dynamic text, keeps line breaks, links files, and carries the header with the sync key', () => {
    const note = renderNote(
      thread([
        entry('<script>alert("x")</script>\nsecond line'),
        entry('', 1, {
          kind: 'file',
          text: null,
          fileName: 'inv<1>.pdf',
          fileUrl: 'https://cdn.example/inv.pdf?a=1&b=2',
        }),
        entry('', 2, { kind: 'file', text: null, fileName: 'x', fileUrl: 'javascript:alert(1)' }),
      ]),
    );
    expect(note.body).not.toContain('<script>');
    expect(note.body).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;<br>second line');
    expect(note.body).toContain('<a href="https://cdn.example/inv.pdf?a=1&amp;b=2">inv&lt;1&gt;.pdf</a>');
    expect(note.body).not.toContain('javascript:');
    expect(note.body).toContain('<strong>Ada &lt;Lovelace&gt; (customer)</strong> · 2026-11-25 10:00:00 UTC');
    expect(note.body).toContain('Chat ID: CHAT1<br>Thread ID: TH1<br>Closed: 2026-11-25 10:01:00 UTC');
    expect(note.body).toContain('Tags: vip, a&amp;b<br>Rating: good (“great &quot;help&quot;”)');
    expect(note.body).toContain(`Sync key: ${syncKey('org-1', 'CHAT1', 'TH1')}`);
    expect(note.timestamp).toBe('2026-11-25T10:01:00.000Z');
    expect(note.entriesCut).toBe(0);
  });

  it('cuts whole entries from the end with a marker, never past 65,536 characters, the sync key kept', () => {
    const entries = Array.from({ length: 400 }, (_, i) => entry(`${'<&>'.repeat(100)} message ${i}`, i));
    const note = renderNote(thread(entries));
    expect(note.body.length).toBeLessThanOrEqual(NOTE_BODY_LIMIT);
    expect(note.entriesCut).toBeGreaterThan(0);
    expect(note.body).toContain(
      `[transcript cut: ${note.entriesCut} more entries not shown; the full transcript is in LiveChat]`,
    );
    expect(note.body).toContain(syncKey('org-1', 'CHAT1', 'TH1'));
    expect(note.body).toContain('message 0');
  });

  it('counts entries that were not even loaded in the cut marker', () => {
    const note = renderNote({ ...thread([entry('first')]), entriesNotLoaded: 5 });
    expect(note.body).toContain('[transcript cut: 5 more entries not shown');
  });

  it('cuts one over-long first message inside, so the start of the conversation is there', () => {
    const note = renderNote(thread([entry('"'.repeat(200_000)), entry('after', 1)]));
    expect(note.body.length).toBeLessThanOrEqual(NOTE_BODY_LIMIT);
    expect(note.body).toContain('… [message cut]');
  });

  it('a header a sender blows up (name, tags, rating comment) is clipped and still leaves the transcript room', () => {
    const huge = '<'.repeat(100_000);
    const note = renderNote(
      thread([entry('still here')], { customerName: huge, tags: [huge, huge], ratingComment: huge }),
    );
    expect(note.body.length).toBeLessThan(10_000);
    expect(note.body).toContain('still here');
  });

  it('the same snapshot renders the same bytes (the hash decides whether the note needs an update)', () => {
    expect(renderNote(thread([entry('x')])).bodySha256).toBe(renderNote(thread([entry('x')])).bodySha256);
    expect(renderNote(thread([entry('x')])).bodySha256).not.toBe(
      renderNote(thread([entry('x')], { tags: [] })).bodySha256,
    );
  });

  it('splits a name into HubSpot first and last name', () => {
    expect(splitName('Ada King Lovelace')).toEqual({ firstname: 'Ada', lastname: 'King Lovelace' });
    expect(splitName(' Ada ')).toEqual({ firstname: 'Ada' });
    expect(splitName(null)).toEqual({});
    expect(escapeHtml(`'`)).toBe('&#39;');
  });
});
