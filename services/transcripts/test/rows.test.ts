import { describe, expect, it } from 'vitest';
import { emptyRowChanges, transcriptRowChanges } from '../src/projection/rows.js';
import { tableOrder } from '../src/projection/statements.js';
import { TENANT, event } from './support/events.js';

// Pure: what every event does whatever its family, and what makes every row pass through nul.ts.
describe('transcript rows: every event', () => {
  it('every table of the row changes is written, in tableOrder, so the U+0000 replacement (apply.ts) reaches every row', () => {
    expect([...tableOrder].sort()).toEqual(Object.keys(emptyRowChanges()).sort());
  });

  it('an event about a chat touches the chat; facts the projection does not keep touch nothing else', () => {
    const rows = transcriptRowChanges([
      event('participant_removed', { user_id: 'a', user_kind: 'agent', reason: null, requester_id: null }),
      event('properties_changed', {
        scope: 'chat',
        change: 'updated',
        livechat_event_id: null,
        properties_json: '{}',
      }),
      event('rich_message_postback', { user_id: 'a', livechat_event_id: 'e', postback_json: null }),
      event('routing_status_set', { agent_id: 'a', status: 'accepting_chats' }, { chat_id: null }),
      event('events_marked_as_seen', { user_id: 'a', seen_up_to: 1 }),
    ]);
    const { chats, ...rest } = rows;
    expect(chats).toEqual(
      Array(4).fill({
        tenant: TENANT,
        chat_id: 'CHAT1',
        thread_id: null,
        thread_started_us: null,
        customer_id: null,
        group_ids: [],
      }),
    );
    expect(Object.values(rest).every((table) => table.length === 0)).toBe(true);
  });

  it('events keep their order within each table', () => {
    const rows = transcriptRowChanges([
      event('thread_tagged', { tag: 'a' }),
      event('thread_tagged', { tag: 'b' }, { chat_id: 'CHAT2' }),
      event('thread_untagged', { tag: 'a' }),
    ]);
    expect(rows.threadTags.map((t) => `${t.chat_id}:${t.tag}:${t.tagged}`)).toEqual([
      'CHAT1:a:true',
      'CHAT2:b:true',
      'CHAT1:a:false',
    ]);
    expect(rows.chats.map((c) => c.chat_id)).toEqual(['CHAT1', 'CHAT2', 'CHAT1']);
  });
});
