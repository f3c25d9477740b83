import { describe, expect, it } from 'vitest';
import {
  chatsQuery,
  cursorFor,
  dayInZone,
  validTimeZone,
  zonedDayStart,
  analyticsQuery,
  fillDays,
  groupsOfChats,
  filtersToSearch,
  formatSeconds,
  heatLevel,
  parseFilters,
  rankAgents,
  readAgents,
  readChat,
  readChats,
  readDaily,
  readGroups,
  readHourly,
  readPeriodTotals,
  totals,
  weekHeatmap,
} from '../src/view-model.js';

describe('filters in the address', () => {
  it('defaults to the last 30 days ending today, every group, no search', () => {
    expect(parseFilters('', '2026-11-29')).toEqual({
      from: '2026-10-31',
      to: '2026-11-29',
      group: null,
      q: '',
    });
  });

  it('keeps valid values and round-trips through the address', () => {
    const f = parseFilters('?from=2026-11-01&to=2026-11-07&group=2&q=refund', '2026-11-29');
    expect(f).toEqual({ from: '2026-11-01', to: '2026-11-07', group: '2', q: 'refund' });
    expect(parseFilters(filtersToSearch(f), '2026-11-29')).toEqual(f);
  });

  it('replaces malformed days and groups, and cuts reversed or too long ranges', () => {
    expect(parseFilters('?from=2026-02-30&to=yesterday&group=x1', '2026-11-29')).toEqual({
      from: '2026-10-31',
      to: '2026-11-29',
      group: null,
      q: '',
    });
    expect(parseFilters('?from=2026-11-10&to=2026-11-01', '2026-11-29').from).toBe('2026-11-01');
    expect(parseFilters('?from=2000-01-01&to=2026-11-29', '2026-11-29').from).toBe('2025-11-29');
  });

  it("asks the API for the days' range, both included", () => {
    expect(analyticsQuery({ from: '2026-11-01', to: '2026-11-30', group: '7', q: '' })).toBe(
      'from=2026-11-01&to=2026-11-30&group=7',
    );
  });
});

describe('reading API answers', () => {
  it('reads daily rows with numeric strings, sorted, dropping rows without a day', () => {
    const rows = readDaily({
      data: [
        { day: '2026-11-02', chats: '3', median_first_response_seconds: '12.5', rated_good: 1, rated_bad: 0 },
        { day: '2026-11-01', chats: 2, p90_first_response_seconds: 40, queued: 2, left_queue: 1 },
        { chats: 9 },
      ],
    });
    expect(rows.map((r) => [r.day, r.chats, r.medianFirstResponse, r.p90FirstResponse])).toEqual([
      ['2026-11-01', 2, null, 40],
      ['2026-11-02', 3, 12.5, null],
    ]);
  });

  it('reads the chat list and its cursor, and a chat with its threads in transcript order', () => {
    const list = readChats({
      data: [{ chat_id: 'C1', customer: { name: 'Ann', email: 'a@x' }, tags: ['vip'], agent_ids: ['b@y'] }],
      next_cursor: 'abc',
    });
    expect(list.nextCursor).toBe('abc');
    expect(list.chats[0]).toMatchObject({ chatId: 'C1', customer: 'Ann', tags: ['vip'], agents: ['b@y'] });
    const chat = readChat({
      chat_id: 'C1',
      customer: { email: 'a@x' },
      rating: 'good',
      threads: [
        {
          thread_id: 'T1',
          entries: [
            { position: 2, author_type: 'agent', author_name: 'Bob', text: 'hi', visibility: 'all' },
            { position: 1, author_type: 'customer', author_name: 'Ann', text: 'hello' },
            { position: 3, author_type: 'customer', file: { name: 'invoice.pdf' } },
          ],
        },
      ],
    });
    expect(chat?.customer).toBe('a@x');
    expect(chat?.rating).toBe('good');
    expect(chat?.threads[0]?.entries.map((e) => e.text)).toEqual(['hello', 'hi', 'invoice.pdf']);
    expect(readChat('nope')).toBeNull();
  });

  it('reads groups once each, in id order', () => {
    expect(
      readGroups({ data: [{ group_id: 2 }, { group_id: '0' }, { group_id: 2 }, { group_id: 'x' }] }),
    ).toEqual([
      { id: '0', label: 'Group 0' },
      { id: '2', label: 'Group 2' },
    ]);
  });
});

describe('what the views compute', () => {
  it('totals ratings and the queue, with shares rounded to one decimal', () => {
    const rows = readDaily({
      data: [
        { day: '2026-11-01', chats: 4, rated_good: 2, rated_bad: 1, queued: 3, left_queue: 1 },
        { day: '2026-11-02', chats: 1, rated_good: 0, rated_bad: 0 },
      ],
    });
    expect(totals(rows)).toEqual({
      chats: 5,
      ratedGood: 2,
      ratedBad: 1,
      goodShare: 66.7,
      queued: 3,
      leftQueue: 1,
      abandonment: 33.3,
    });
    expect(totals([]).goodShare).toBeNull();
  });

  it('fills every day of the range', () => {
    const rows = fillDays(readDaily({ data: [{ day: '2026-11-02', chats: 5 }] }), '2026-11-01', '2026-11-03');
    expect(rows.map((r) => [r.day, r.chats])).toEqual([
      ['2026-11-01', 0],
      ['2026-11-02', 5],
      ['2026-11-03', 0],
    ]);
  });

  it('folds local hours into weekday × hour, Monday first, from the date as written', () => {
    const grid = weekHeatmap([
      { hour: '2026-11-30T09:00:00', chats: 2 }, // a Monday
      { hour: '2026-12-07 09:00:00', chats: 3 }, // the next Monday
      { hour: '2026-11-29T23:00:00+00:00', chats: 1 }, // a Sunday
    ]);
    expect(grid[0]![9]).toBe(5);
    expect(grid[6]![23]).toBe(1);
    expect(grid.flat().reduce((a, b) => a + b, 0)).toBe(6);
    expect([0, 1, 2, 3, 4].map((v) => heatLevel(v, 4))).toEqual([0, 1, 2, 3, 4]);
  });

  it('ranks agents by score, unrated last, then by chats', () => {
    const ranked = rankAgents(
      readAgents({
        data: [
          { agent_id: 'c', chats: 9, score: null },
          { agent_id: 'a', chats: 1, score: '0.42' },
          { agent_id: 'b', chats: 5, score: 0.42 },
          { agent_id: 'd', chats: 2, score: 0.9 },
        ],
      }),
    );
    expect(ranked.map((r) => [r.rank, r.agentId])).toEqual([
      [1, 'd'],
      [2, 'b'],
      [3, 'a'],
      [4, 'c'],
    ]);
  });

  it('formats seconds for people', () => {
    expect([null, 42.4, 185, 7800].map(formatSeconds)).toEqual(['—', '42 s', '3 min 05 s', '2 h 10 min']);
  });
});

describe("the api's own shapes", () => {
  it('reads days with the period totals, the hour-of-week cells, ranked agents and author objects', () => {
    const daily = {
      days: [
        { day: '2026-11-01', chats: 2, first_response_median_seconds: 30, duration_median_seconds: 600 },
      ],
      totals: {
        chats: 2,
        first_response_median_seconds: 31,
        first_response_p90_seconds: 50,
        queue_wait_median_seconds: 9,
      },
    };
    expect(readDaily(daily)[0]).toMatchObject({
      day: '2026-11-01',
      medianFirstResponse: 30,
      medianDuration: 600,
    });
    expect(readPeriodTotals(daily)).toMatchObject({
      medianFirstResponse: 31,
      p90FirstResponse: 50,
      medianQueueWait: 9,
    });
    const grid = weekHeatmap(
      readHourly({
        hours: [
          { day_of_week: 1, hour: 0, chats: 4 },
          { day_of_week: 7, hour: 23, chats: 1 },
        ],
      }),
    );
    expect([grid[0]![0], grid[6]![23]]).toEqual([4, 1]);
    const ranked = rankAgents(
      readAgents({
        agents: [
          { rank: 2, agent_id: 'b', score: 0.9 },
          { rank: 1, agent_id: 'a', score: 0.1 },
        ],
      }),
    );
    expect(ranked.map((r) => r.agentId)).toEqual(['a', 'b']);
    const chat = readChat({
      chat_id: 'C',
      threads: [
        { thread_id: 'T', entries: [{ position: 1, author: { type: 'agent', name: 'Bob' }, text: 'hi' }] },
      ],
    });
    expect(chat?.threads[0]?.entries[0]).toMatchObject({ authorType: 'agent', authorName: 'Bob' });
    const forms = readChat({
      chat_id: 'C',
      threads: [
        { entries: [{ position: 1, kind: 'filled_form', text: null, deleted_at: '2026-11-25T10:00:00Z' }] },
      ],
    });
    expect(forms?.threads[0]?.entries[0]).toMatchObject({ kind: 'filled_form', text: '', deleted: true });
    expect(groupsOfChats({ chats: [{ group_ids: [3, 1] }, { group_ids: [1] }] }).map((g) => g.id)).toEqual([
      '1',
      '3',
    ]);
  });
});

describe("the tenant's local days", () => {
  it('turns local days into the instants they start, across DST changes', () => {
    expect(zonedDayStart('2026-11-25', 'UTC')).toBe('2026-11-25T00:00:00Z');
    expect(zonedDayStart('2026-11-25', 'America/New_York')).toBe('2026-11-25T05:00:00Z');
    expect(zonedDayStart('2026-07-01', 'America/New_York')).toBe('2026-07-01T04:00:00Z');
    // the day after the spring change starts at -04:00, the day of it at -05:00
    expect(zonedDayStart('2026-03-08', 'America/New_York')).toBe('2026-03-08T05:00:00Z');
    expect(zonedDayStart('2026-03-09', 'America/New_York')).toBe('2026-03-09T04:00:00Z');
    expect(zonedDayStart('2026-11-25', 'Asia/Kolkata')).toBe('2026-11-24T18:30:00Z');
    expect(zonedDayStart('2026-01-01', 'Pacific/Kiritimati')).toBe('2025-12-31T10:00:00Z');
  });

  it('the chat list asks for the same local days as the analytics, not UTC days', () => {
    const q = new URLSearchParams(
      chatsQuery({ from: '2026-11-24', to: '2026-11-25', group: '7', q: '' }, 'Europe/Warsaw', null),
    );
    expect([q.get('from'), q.get('to'), q.get('group')]).toEqual([
      '2026-11-23T23:00:00Z',
      '2026-11-25T23:00:00Z',
      '7',
    ]);
  });

  it("today is the tenant's day, whatever the browser's", () => {
    const instant = Date.parse('2026-11-25T23:30:00Z');
    expect(dayInZone(instant, 'UTC')).toBe('2026-11-25');
    expect(dayInZone(instant, 'Europe/Warsaw')).toBe('2026-11-26');
    expect(dayInZone(instant, 'America/Los_Angeles')).toBe('2026-11-25');
    expect(validTimeZone('Not/AZone')).toBe('UTC');
    expect(validTimeZone('Europe/Warsaw')).toBe('Europe/Warsaw');
  });
});

describe('the chat list\'s "More chats"', () => {
  it('sends a cursor only with the filters it was made for', () => {
    const a = { from: '2026-11-01', to: '2026-11-25', group: null, q: '' };
    const page = { filters: filtersToSearch(a), cursor: 'c-of-a' };
    expect(cursorFor(page, a)).toBe('c-of-a');
    // the filters changed while the list was loading: start the new filters' list instead
    expect(cursorFor(page, { ...a, q: 'refund' })).toBeNull();
    expect(cursorFor(page, { ...a, group: '7' })).toBeNull();
    expect(cursorFor(page, { ...a, to: '2026-11-24' })).toBeNull();
  });
});
