import { describe, expect, it } from 'vitest';
import { analyticsRowChanges } from '../src/facts/rows.js';
import { AT, RECEIVED, event, message } from './support/events.js';

const properties = (properties_json: string, change: 'updated' | 'deleted' = 'updated') =>
  event('properties_changed', { scope: 'thread', change, livechat_event_id: null, properties_json });

describe('analytics rows: what a sender controls cannot break them', () => {
  it('a rating property: score 1/0 (plain or {value}), comment; anything else is no rating', () => {
    expect(analyticsRowChanges([properties('{"rating":{"score":1,"comment":"ok"}}')]).ratings).toEqual([
      expect.objectContaining({ kind: 'score', score: 1, dated: true, at_us: AT }),
      expect.objectContaining({ kind: 'comment', comment: 'ok' }),
    ]);
    expect(analyticsRowChanges([properties('{"rating":{"score":{"value":0}}}')]).ratings).toEqual([
      expect.objectContaining({ kind: 'score', score: 0 }),
    ]);
    for (const hostile of [
      'not json',
      '[]',
      '{"rating":[1,2]}',
      '{"rating":{"score":"maybe"}}',
      '{"rating":null}',
    ])
      expect(analyticsRowChanges([properties(hostile)]).ratings, hostile).toEqual([]);
  });

  it('a deleted score is a cancel; undated properties are dated by their receipt', () => {
    const rows = analyticsRowChanges([
      { ...properties('{"rating":["score"]}', 'deleted'), occurred_at: null },
    ]).ratings;
    expect(rows).toEqual([expect.objectContaining({ kind: 'cancel', dated: false, at_us: RECEIVED })]);
  });

  it('rating system messages: the score from text_vars or the text, the comment; dated by created_at', () => {
    const system = (type: string, fields: Partial<Parameters<typeof message>[0]> = {}) =>
      event('message_posted', {
        message: message({
          kind: 'system_message',
          author_id: null,
          author_kind: 'system',
          system_message_type: type,
          ...fields,
        }),
      });
    const rows = analyticsRowChanges([
      system('rating.chat_rated', { text_vars_json: '{"score":"bad"}', text: 'rated' }),
      system('rating.chat_rated', { livechat_event_id: 'E2', text: 'Customer rated the chat as good' }),
      system('rating.chat_rated', { livechat_event_id: 'E3', text: '???', text_vars_json: '{{' }),
      system('rating.chat_commented', { livechat_event_id: 'E4', text_vars_json: '{"comment":"thanks"}' }),
      system('rating.chat_rating_canceled', { livechat_event_id: 'E5' }),
    ]).ratings;
    expect(rows.map((r) => [r.kind, r.score, r.comment, r.dated])).toEqual([
      ['score', 0, null, true],
      ['score', 1, null, true],
      ['comment', null, 'thanks', true],
      ['cancel', null, null, true],
    ]);
  });

  it('greetings and welcome messages are marked automatic; every entry makes its thread known', () => {
    const rows = analyticsRowChanges([
      event('message_posted', { message: message({ properties_json: '{"lc2":{"welcome_message":true}}' }) }),
      event('message_posted', {
        message: message({ livechat_event_id: 'G', properties_json: '{"lc2":{"greeting_id":7}}' }),
      }),
      event('message_posted', { message: message({ livechat_event_id: 'X', properties_json: '"oops"' }) }),
    ]);
    expect(rows.entries.map((e) => e.automatic)).toEqual(['welcome', 'greeting', null]);
    expect(rows.threads).toHaveLength(3);
  });
});
