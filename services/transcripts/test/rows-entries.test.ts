import { describe, expect, it } from 'vitest';
import { transcriptRowChanges } from '../src/projection/rows.js';
import { AT, RECEIVED, TENANT, event, message } from './support/events.js';

// Pure: given events, then the rows of the entries family (entries, survey answers, agent authors).
const key = { tenant: TENANT, chat_id: 'CHAT1', thread_id: 'TH1' };

describe('transcript rows: entries', () => {
  it('a posted message is an entry under its LiveChat id, with its thread and chat', () => {
    const rows = transcriptRowChanges([event('message_posted', { message: message() })]);
    expect(rows.entries).toEqual([
      {
        ...key,
        entry_id: 'LC-EV-1',
        event_id: 'ev-message_posted',
        change: 'posted',
        kind: 'message',
        author_kind: 'customer',
        author_id: 'cust-1',
        author_name: 'Ada',
        visibility: 'all',
        text: 'hello',
        system_message_type: null,
        content: null,
        created_us: AT - 1_000_000,
        transcript_position: null,
        edited_us: null,
        deleted_us: null,
      },
    ]);
    expect(rows.threads).toHaveLength(1);
    expect(rows.threads[0]).toMatchObject({ ...key, started_us: null, closed_us: null });
    expect(rows.chats).toEqual([
      {
        tenant: TENANT,
        chat_id: 'CHAT1',
        thread_id: null,
        thread_started_us: null,
        customer_id: null,
        group_ids: [],
      },
    ]);
    expect(rows.participants).toEqual([]); // a customer author is listed by the thread start, not by the message
  });

  it('a v2 message without a LiveChat id is keyed by its event id, created at the fact time when it has none', () => {
    const rows = transcriptRowChanges([
      event(
        'message_posted',
        { message: message({ livechat_event_id: null, created_at: null, transcript_position: 3 }) },
        { source_format: 'v2' },
      ),
    ]);
    expect(rows.entries[0]).toMatchObject({
      entry_id: 'ev-message_posted',
      created_us: AT,
      transcript_position: 3,
    });
  });

  it('an agent author takes part in the chat', () => {
    const rows = transcriptRowChanges([
      event('message_posted', {
        message: message({ author_id: 'agent@x', author_kind: 'agent', author_name: 'Bob' }),
      }),
    ]);
    expect(rows.participants).toEqual([
      { tenant: TENANT, chat_id: 'CHAT1', user_id: 'agent@x', kind: 'agent', name: 'Bob', email: null },
    ]);
  });

  it('a file shows its name (or url) as text, and its content keeps file, template and parsed JSON', () => {
    const file = {
      name: null,
      url: 'https://cdn/x.png',
      content_type: 'image/png',
      size: 1,
      width: null,
      height: null,
      thumbnail_url: null,
    };
    const rows = transcriptRowChanges([
      event('message_posted', {
        message: message({
          text: null,
          kind: 'file',
          file,
          template_id: 'cards',
          content_json: '{"a":1}',
          text_vars_json: 'not json',
          properties_json: '[1]',
        }),
      }),
    ]);
    expect(rows.entries[0]?.text).toBe('https://cdn/x.png');
    expect(rows.entries[0]?.content).toEqual({
      file,
      template_id: 'cards',
      content: { a: 1 },
      text_vars: 'not json',
      properties: [1],
    });
  });

  it('a posted form gives one survey answer per field, in order; an edited one gives none', () => {
    const form = {
      form_id: 'f1',
      form_type: 'prechat',
      fields: [
        { id: 'name', type: 'name', label: 'Name', answer: 'Ada', answers: [] },
        { id: 'topics', type: 'checkbox', label: 'Topics', answer: null, answers: ['billing', 'api'] },
      ],
    };
    const posted = transcriptRowChanges([
      event('message_posted', { message: message({ kind: 'filled_form', text: null, form }) }),
    ]);
    expect(posted.surveyAnswers).toEqual([
      {
        ...key,
        entry_id: 'LC-EV-1',
        position: 0,
        form_type: 'prechat',
        field_id: 'name',
        label: 'Name',
        answer: 'Ada',
        answers: [],
      },
      {
        ...key,
        entry_id: 'LC-EV-1',
        position: 1,
        form_type: 'prechat',
        field_id: 'topics',
        label: 'Topics',
        answer: null,
        answers: ['billing', 'api'],
      },
    ]);
    expect(posted.entries[0]?.text).toBeNull();
    expect(
      transcriptRowChanges([event('event_edited', { message: message({ form }) })]).surveyAnswers,
    ).toEqual([]);
  });

  it('an edit is an entry change at the fact time, with no event id and no creation time of its own', () => {
    const rows = transcriptRowChanges([
      event(
        'event_edited',
        { message: message({ text: 'hello!', created_at: null }) },
        { occurred_at: null },
      ),
    ]);
    expect(rows.entries).toHaveLength(1);
    expect(rows.entries[0]).toMatchObject({
      entry_id: 'LC-EV-1',
      event_id: null,
      change: 'edited',
      text: 'hello!',
      created_us: null,
      edited_us: RECEIVED,
      deleted_us: null,
    });
  });

  it('a deletion is only its time; without an id, chat or thread it is nothing', () => {
    const rows = transcriptRowChanges([event('event_deleted', { livechat_event_id: 'LC-EV-1' })]);
    expect(rows.entries).toEqual([
      {
        ...key,
        entry_id: 'LC-EV-1',
        event_id: null,
        change: 'deleted',
        kind: null,
        author_kind: null,
        author_id: null,
        author_name: null,
        visibility: null,
        text: null,
        system_message_type: null,
        content: null,
        created_us: null,
        transcript_position: null,
        edited_us: null,
        deleted_us: AT,
      },
    ]);
    expect(rows.threads).toEqual([]);
    expect(transcriptRowChanges([event('event_deleted', { livechat_event_id: null })]).entries).toEqual([]);
    expect(
      transcriptRowChanges([event('event_deleted', { livechat_event_id: 'x' }, { thread_id: null })]).entries,
    ).toEqual([]);
  });

  it('a message without a thread writes only its chat', () => {
    const rows = transcriptRowChanges([event('message_posted', { message: message() }, { thread_id: null })]);
    expect(rows.entries).toEqual([]);
    expect(rows.threads).toEqual([]);
    expect(rows.chats).toHaveLength(1);
  });
});
