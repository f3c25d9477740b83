import { describe, expect, it } from 'vitest';
import { transcriptRowChanges } from '../src/projection/rows.js';
import { AT, RECEIVED, TENANT, event } from './support/events.js';

// Pure: given events, then the rows of the threads family (chats, threads, thread tags).
const key = { tenant: TENANT, chat_id: 'CHAT1', thread_id: 'TH1' };
const emptyThread = {
  ...key,
  started_us: null,
  closed_us: null,
  closed_by_user_id: null,
  closed_by_kind: null,
  queue_wait_seconds: null,
  queued_at_us: null,
  summary_status: null,
  summary_text: null,
  summary_updated_us: null,
  tags_snapshot: null,
  tags_snapshot_us: null,
  archive_tags: null,
  archive_tags_us: null,
};
const emptyChat = {
  tenant: TENANT,
  chat_id: 'CHAT1',
  thread_id: null,
  thread_started_us: null,
  customer_id: null,
  group_ids: [],
};
const started = {
  users: [
    { id: null, kind: 'customer' as const, name: 'nobody', email: null, present: null },
    { id: 'cust-1', kind: 'customer' as const, name: 'Ada', email: 'ada@x', present: true },
    { id: 'agent@x', kind: 'agent' as const, name: 'Bob', email: 'agent@x', present: true },
  ],
  group_ids: [0, 2],
  tags: ['vip', 'sales'],
  previous_thread_id: null,
  active: true,
  chat_properties_json: null,
  thread_properties_json: null,
  queue: null,
};

describe('transcript rows: threads', () => {
  it('a thread start names the thread, its customer, groups, tags and people', () => {
    const rows = transcriptRowChanges([event('thread_started', started)]);
    expect(rows.chats).toEqual([
      emptyChat,
      { ...emptyChat, thread_id: 'TH1', thread_started_us: AT, customer_id: 'cust-1', group_ids: [0, 2] },
    ]);
    expect(rows.threads).toEqual([{ ...emptyThread, started_us: AT }]);
    expect(rows.threadTags).toEqual([
      { ...key, tag: 'vip', tagged: true, untagged: false, tagged_us: RECEIVED, untagged_us: null },
      { ...key, tag: 'sales', tagged: true, untagged: false, tagged_us: RECEIVED, untagged_us: null },
    ]);
    expect(rows.participants.map((p) => p.user_id)).toEqual(['cust-1', 'agent@x']);
    expect(rows.customers).toEqual([
      {
        tenant: TENANT,
        customer_id: 'cust-1',
        name: 'Ada',
        email: 'ada@x',
        session_fields: null,
        visit: null,
        updated_us: AT,
      },
    ]);
    expect(rows.agents).toEqual([{ tenant: TENANT, agent_id: 'agent@x', name: 'Bob', email: 'agent@x' }]);
  });

  it('a thread start without a LiveChat time starts at no time, its people updated at the receipt time', () => {
    const rows = transcriptRowChanges([event('thread_started', started, { occurred_at: null })]);
    expect(rows.threads[0]?.started_us).toBeNull();
    expect(rows.chats[1]?.thread_started_us).toBeNull();
    expect(rows.customers[0]?.updated_us).toBe(RECEIVED);
  });

  it('a close keeps who closed it, at the fact time (the receipt time when LiveChat gives none)', () => {
    const body = { closed_by_user_id: 'agent@x', closed_by_kind: 'agent' as const };
    expect(transcriptRowChanges([event('thread_closed', body)]).threads).toEqual([
      { ...emptyThread, closed_us: AT, closed_by_user_id: 'agent@x', closed_by_kind: 'agent' },
    ]);
    expect(
      transcriptRowChanges([event('thread_closed', body, { occurred_at: null })]).threads[0]?.closed_us,
    ).toBe(RECEIVED);
  });

  it('tagging and untagging are tag changes of the thread', () => {
    const rows = transcriptRowChanges([
      event('thread_tagged', { tag: 'vip' }),
      event('thread_untagged', { tag: 'vip' }),
    ]);
    expect(rows.threadTags).toEqual([
      { ...key, tag: 'vip', tagged: true, untagged: false, tagged_us: RECEIVED, untagged_us: null },
      { ...key, tag: 'vip', tagged: false, untagged: true, tagged_us: null, untagged_us: RECEIVED },
    ]);
    expect(rows.threads).toEqual([emptyThread, emptyThread]);
  });

  it('a v2 tag list is a snapshot at the receipt time, not the LiveChat time', () => {
    const rows = transcriptRowChanges([
      event('tags_snapshot', { tags: ['a', 'b'] }, { source_format: 'v2', api_version: '2' }),
    ]);
    expect(rows.threads).toEqual([{ ...emptyThread, tags_snapshot: ['a', 'b'], tags_snapshot_us: RECEIVED }]);
    expect(rows.threadTags).toEqual([]);
  });

  it("a v3 tag list is an archive's, the tags as of its read (its receipt)", () => {
    const rows = transcriptRowChanges([event('tags_snapshot', { tags: ['a'] }, { occurred_at: null })]);
    expect(rows.threads).toEqual([{ ...emptyThread, archive_tags: ['a'], archive_tags_us: RECEIVED }]);
    expect(rows.threadTags).toEqual([]);
  });

  it('a transfer moves the chat to its groups and keeps the queue facts of the thread', () => {
    const body = {
      requester_id: null,
      reason: null,
      transferred_to_group_ids: [3],
      transferred_to_agent_ids: [],
      queue: { position: 1, wait_time: 42, queued_at: AT - 42_000_000 },
    };
    const rows = transcriptRowChanges([event('chat_transferred', body)]);
    expect(rows.chats).toEqual([emptyChat, { ...emptyChat, group_ids: [3] }]);
    expect(rows.threads).toEqual([{ ...emptyThread, queue_wait_seconds: 42, queued_at_us: AT - 42_000_000 }]);
    const withoutThread = transcriptRowChanges([
      event('chat_transferred', { ...body, queue: null }, { thread_id: null }),
    ]);
    expect(withoutThread.threads).toEqual([]);
    expect(withoutThread.chats[1]?.group_ids).toEqual([3]);
  });

  it('an access change sets the groups of the chat', () => {
    expect(
      transcriptRowChanges([event('chat_access_changed', { change: 'granted', group_ids: [1, 4] })]).chats,
    ).toEqual([emptyChat, { ...emptyChat, group_ids: [1, 4] }]);
  });

  it('a summary is kept at its own update time, or the fact time', () => {
    const rows = transcriptRowChanges([
      event('thread_summary_set', { status: 'ready', text: 'Asked about billing.', updated_at: AT + 5 }),
    ]);
    expect(rows.threads).toEqual([
      {
        ...emptyThread,
        summary_status: 'ready',
        summary_text: 'Asked about billing.',
        summary_updated_us: AT + 5,
      },
    ]);
    expect(
      transcriptRowChanges([event('thread_summary_set', { status: 'ready', text: 't', updated_at: null })])
        .threads[0]?.summary_updated_us,
    ).toBe(AT);
  });

  it('thread facts without a chat or thread write no thread', () => {
    for (const envelope of [{ chat_id: null }, { thread_id: null }]) {
      const rows = transcriptRowChanges([
        event('thread_started', started, envelope),
        event('thread_closed', { closed_by_user_id: null, closed_by_kind: 'router' }, envelope),
        event('thread_tagged', { tag: 'x' }, envelope),
        event('thread_untagged', { tag: 'x' }, envelope),
        event('tags_snapshot', { tags: [] }, envelope),
        event('thread_summary_set', { status: null, text: null, updated_at: null }, envelope),
      ]);
      expect(rows.threads).toEqual([]);
      expect(rows.threadTags).toEqual([]);
      expect(rows.participants).toEqual([]);
    }
  });
});
