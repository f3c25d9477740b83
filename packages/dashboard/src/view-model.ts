/**
 * The dashboard's pure logic: filters, the shapes read from the API, and what each view shows. No DOM here, so
 * it runs (and is unit tested) in Node as well as in the browser bundle.
 */

export interface Filters {
  /** First and last local day shown, `YYYY-MM-DD`, both included. */
  readonly from: string;
  readonly to: string;
  /** A LiveChat group id, or null for every group. */
  readonly group: string | null;
  /** Text searched in the chat list's messages. */
  readonly q: string;
}

const DAY = /^\d{4}-\d{2}-\d{2}$/;
export const DEFAULT_RANGE_DAYS = 30;
/** The longest range the filters accept, so a typo cannot ask the API for decades of rows. */
export const MAX_RANGE_DAYS = 366;

export function isoDay(date: Date): string {
  return date.toISOString().slice(0, 10);
}

export function addDays(day: string, days: number): string {
  const d = new Date(`${day}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return isoDay(d);
}

function validDay(value: string | null): value is string {
  if (value === null || !DAY.test(value)) return false;
  return isoDay(new Date(`${value}T00:00:00Z`)) === value;
}

export function daysBetween(from: string, to: string): number {
  return Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / 86_400_000);
}

/**
 * The filters in a page address (`?from=…&to=…&group=…&q=…`), so a view can be bookmarked and reloaded. Anything
 * missing or malformed falls back to the last DEFAULT_RANGE_DAYS days ending `today`; a reversed or too long range
 * is cut to a valid one rather than refused.
 */
export function parseFilters(search: string, today: string): Filters {
  const params = new URLSearchParams(search);
  let to = params.get('to');
  if (!validDay(to)) to = today;
  let from = params.get('from');
  if (!validDay(from)) from = addDays(to, -(DEFAULT_RANGE_DAYS - 1));
  if (daysBetween(from, to) < 0) from = to;
  if (daysBetween(from, to) >= MAX_RANGE_DAYS) from = addDays(to, -(MAX_RANGE_DAYS - 1));
  const group = params.get('group');
  return {
    from,
    to,
    group: group !== null && /^\d{1,18}$/.test(group) ? group : null,
    q: (params.get('q') ?? '').trim().slice(0, 200),
  };
}

export function filtersToSearch(f: Filters): string {
  const params = new URLSearchParams({ from: f.from, to: f.to });
  if (f.group !== null) params.set('group', f.group);
  if (f.q !== '') params.set('q', f.q);
  return `?${params.toString()}`;
}

/** The zone's offset from UTC at an instant, in milliseconds (what the zone's wall clock reads minus UTC). */
function zoneOffsetMs(instantMs: number, timeZone: string): number {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  }).formatToParts(new Date(instantMs));
  const part = (type: string) => Number(parts.find((p) => p.type === type)?.value);
  const wall = Date.UTC(
    part('year'),
    part('month') - 1,
    part('day'),
    part('hour'),
    part('minute'),
    part('second'),
  );
  return wall - Math.floor(instantMs / 1000) * 1000;
}

/** A known IANA zone name (as the API's `time_zone`), else 'UTC'. */
export function validTimeZone(value: unknown): string {
  if (typeof value !== 'string' || value === '') return 'UTC';
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: value });
    return value;
  } catch {
    return 'UTC';
  }
}

/** The local day of an instant in a zone: "today" for the tenant, not for the browser. */
export function dayInZone(instantMs: number, timeZone: string): string {
  return isoDay(new Date(instantMs + zoneOffsetMs(instantMs, timeZone)));
}

/**
 * The instant (RFC 3339, UTC) a local day starts in a zone, so the chat list (instants) covers the same local
 * days as the analytics. Across a DST change the second guess takes the offset in force at that midnight.
 */
export function zonedDayStart(day: string, timeZone: string): string {
  const wall = Date.parse(`${day}T00:00:00Z`);
  let instant = wall - zoneOffsetMs(wall, timeZone);
  instant = wall - zoneOffsetMs(instant, timeZone);
  return new Date(instant).toISOString().replace('.000Z', 'Z');
}

/** The chat list's last page: the filters it was loaded for (`filtersToSearch`) and its next cursor. */
export interface ChatPageState {
  readonly filters: string;
  readonly cursor: string | null;
}

/**
 * The cursor "More chats" may send for filters `f`: the last page's, only if that page was loaded for these very
 * filters (a cursor of other filters is refused by the API); null: load the first page of `f` instead.
 */
export function cursorFor(page: ChatPageState, f: Filters): string | null {
  return page.filters === filtersToSearch(f) ? page.cursor : null;
}

/** The chat list's query: the range's local days as instants (`to` inclusive), the group and the search. */
export function chatsQuery(f: Filters, timeZone: string, cursor: string | null): string {
  const params = new URLSearchParams({
    from: zonedDayStart(f.from, timeZone),
    to: zonedDayStart(addDays(f.to, 1), timeZone),
    limit: '25',
  });
  if (f.group !== null) params.set('group', f.group);
  if (f.q !== '') params.set('q', f.q);
  if (cursor !== null) params.set('cursor', cursor);
  return params.toString();
}

/** The API's analytics query: the range's local days (`to` included, as the API reads it) and the group. */
export function analyticsQuery(f: Filters): string {
  const params = new URLSearchParams({ from: f.from, to: f.to });
  if (f.group !== null) params.set('group', f.group);
  return params.toString();
}

// ---------------------------------------------------------------------------------------------------------------
// What the API returns, read defensively: a field of the wrong type becomes null rather than a broken chart.

export interface DailyRow {
  readonly day: string;
  readonly chats: number;
  readonly chatsWithReply: number | null;
  readonly medianFirstResponse: number | null;
  readonly p90FirstResponse: number | null;
  readonly avgDuration: number | null;
  readonly medianDuration: number | null;
  readonly ratedGood: number;
  readonly ratedBad: number;
  readonly queued: number;
  readonly leftQueue: number;
  readonly medianQueueWait: number | null;
}

export interface HourlyRow {
  /** Local hour, `YYYY-MM-DDTHH…` (no offset: the tenant's own clock), or an ISO weekday (1 Monday … 7) and hour. */
  readonly hour: string;
  readonly dayOfWeek?: number;
  readonly hourOfDay?: number;
  readonly chats: number;
}

export interface AgentRow {
  readonly agentId: string;
  readonly name: string | null;
  /** The API's rank, when it gives one. */
  readonly apiRank: number | null;
  readonly chats: number;
  readonly firstResponses: number | null;
  readonly medianFirstResponse: number | null;
  readonly ratedGood: number;
  readonly ratedBad: number;
  readonly score: number | null;
}

export interface TagRow {
  readonly tag: string;
  readonly chats: number;
}

export interface GroupOption {
  readonly id: string;
  readonly label: string;
}

export interface ChatSummary {
  readonly chatId: string;
  readonly startedAt: string | null;
  readonly endedAt: string | null;
  readonly customer: string;
  readonly agents: readonly string[];
  readonly tags: readonly string[];
  readonly messages: number | null;
}

export interface TranscriptEntry {
  readonly position: number;
  readonly authorType: string;
  readonly authorName: string;
  readonly visibility: string;
  /** `message`, `file`, `filled_form`, `system_message`, …; shown when there is no text. */
  readonly kind: string;
  readonly text: string;
  readonly createdAt: string | null;
  readonly deleted: boolean;
}

export interface TranscriptThread {
  readonly threadId: string;
  readonly entries: readonly TranscriptEntry[];
}

export interface ChatDetail {
  readonly chatId: string;
  readonly customer: string;
  readonly tags: readonly string[];
  readonly rating: string | null;
  readonly threads: readonly TranscriptThread[];
}

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A number, or a numeric string (Postgres numerics and bigints travel as strings). */
export function num(v: unknown): number | null {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v);
  return null;
}

const count = (v: unknown): number => num(v) ?? 0;
const str = (v: unknown): string | null =>
  typeof v === 'string' ? v : typeof v === 'number' ? String(v) : null;
const first = (o: Json, ...keys: string[]): unknown => {
  for (const k of keys) if (o[k] !== undefined && o[k] !== null) return o[k];
  return null;
};
const strings = (v: unknown): string[] =>
  Array.isArray(v) ? v.map(str).filter((s): s is string => s !== null) : [];

/** The rows of a list answer: `{ data: [...] }`, else its first array (`{ days: [...] }`, `{ chats: [...] }`), or a bare array. */
export function rowsOf(body: unknown, key?: string): Json[] {
  let list: unknown = body;
  if (isObject(body)) {
    list = key !== undefined && Array.isArray(body[key]) ? body[key] : body['data'];
    if (!Array.isArray(list)) list = Object.values(body).find(Array.isArray);
  }
  return Array.isArray(list) ? list.filter(isObject) : [];
}

function measures(r: Json): Omit<DailyRow, 'day'> {
  return {
    chats: count(r['chats']),
    chatsWithReply: num(r['chats_with_reply']),
    medianFirstResponse: num(first(r, 'first_response_median_seconds', 'median_first_response_seconds')),
    p90FirstResponse: num(first(r, 'first_response_p90_seconds', 'p90_first_response_seconds')),
    avgDuration: num(first(r, 'duration_avg_seconds', 'avg_duration_seconds')),
    medianDuration: num(first(r, 'duration_median_seconds', 'median_duration_seconds')),
    ratedGood: count(r['rated_good']),
    ratedBad: count(r['rated_bad']),
    queued: count(r['queued']),
    leftQueue: count(r['left_queue']),
    medianQueueWait: num(first(r, 'queue_wait_median_seconds', 'median_queued_seconds')),
  };
}

export function readDaily(body: unknown): DailyRow[] {
  return rowsOf(body, 'days')
    .map((r) => ({ day: (str(r['day']) ?? '').slice(0, 10), ...measures(r) }))
    .filter((r) => DAY.test(r.day))
    .sort((a, b) => a.day.localeCompare(b.day));
}

/** The period's own figures (`totals`: medians over every thread, which the days' medians cannot give), or null. */
export function readPeriodTotals(body: unknown): Omit<DailyRow, 'day'> | null {
  return isObject(body) && isObject(body['totals']) ? measures(body['totals']) : null;
}

export function readHourly(body: unknown): HourlyRow[] {
  return rowsOf(body, 'hours')
    .map((r): HourlyRow => {
      const dow = num(r['day_of_week']);
      const hour = num(r['hour']);
      if (dow !== null && hour !== null)
        return { hour: '', dayOfWeek: dow, hourOfDay: hour, chats: count(r['chats']) };
      return { hour: str(r['hour']) ?? '', chats: count(r['chats']) };
    })
    .filter((r) => r.dayOfWeek !== undefined || /^\d{4}-\d{2}-\d{2}[T ]\d{2}/.test(r.hour));
}

export function readAgents(body: unknown): AgentRow[] {
  return rowsOf(body, 'agents')
    .map((r) => ({
      agentId: str(r['agent_id']) ?? '',
      name: str(r['name']),
      apiRank: num(r['rank']),
      chats: count(r['chats']),
      firstResponses: num(r['first_responses']),
      medianFirstResponse: num(first(r, 'first_response_median_seconds', 'avg_first_response_seconds')),
      ratedGood: count(first(r, 'rated_good', 'good')),
      ratedBad: count(first(r, 'rated_bad', 'bad')),
      score: num(r['score']),
    }))
    .filter((r) => r.agentId !== '');
}

export function readTags(body: unknown): TagRow[] {
  return rowsOf(body, 'tags')
    .map((r) => ({ tag: str(r['tag']) ?? '', chats: count(r['chats']) }))
    .filter((r) => r.tag !== '')
    .sort((a, b) => b.chats - a.chats || a.tag.localeCompare(b.tag));
}

export function readGroups(body: unknown): GroupOption[] {
  const seen = new Map<string, GroupOption>();
  for (const r of rowsOf(body, 'groups')) {
    const id = str(first(r, 'group_id', 'id'));
    if (id === null || !/^\d{1,18}$/.test(id) || seen.has(id)) continue;
    const name = str(r['name']);
    seen.set(id, { id, label: name !== null && name !== '' ? `${name} (${id})` : `Group ${id}` });
  }
  return [...seen.values()].sort((a, b) => Number(a.id) - Number(b.id));
}

function customerLabel(r: Json): string {
  const c = isObject(r['customer']) ? r['customer'] : r;
  return str(first(c, 'name', 'customer_name')) ?? str(first(c, 'email', 'customer_email')) ?? '';
}

/** Groups seen on chat summaries (`group_ids`): the group filter's choices until the API lists groups. */
export function groupsOfChats(body: unknown): GroupOption[] {
  return readGroups(
    rowsOf(body, 'chats').flatMap((r) =>
      (Array.isArray(r['group_ids']) ? r['group_ids'] : []).map((g: unknown) => ({ group_id: g })),
    ),
  );
}

export function readChats(body: unknown): { chats: ChatSummary[]; nextCursor: string | null } {
  const chats = rowsOf(body, 'chats')
    .map((r) => ({
      chatId: str(r['chat_id']) ?? '',
      startedAt: str(r['started_at']),
      endedAt: str(r['ended_at']),
      customer: customerLabel(r),
      agents: strings(r['agent_ids']),
      tags: strings(r['tags']),
      messages: num(r['message_count']),
    }))
    .filter((c) => c.chatId !== '');
  const next = isObject(body) ? str(first(body, 'next_cursor', 'cursor')) : null;
  return { chats, nextCursor: next === '' ? null : next };
}

export function readChat(body: unknown): ChatDetail | null {
  if (!isObject(body)) return null;
  const chat = isObject(body['data']) ? body['data'] : body;
  const chatId = str(chat['chat_id']);
  if (chatId === null) return null;
  const rating = first(chat, 'rating');
  const threads = (Array.isArray(chat['threads']) ? chat['threads'] : []).filter(isObject).map((t) => ({
    threadId: str(t['thread_id']) ?? '',
    entries: (Array.isArray(t['entries'])
      ? t['entries']
      : Array.isArray(t['transcript'])
        ? t['transcript']
        : []
    )
      .filter(isObject)
      .map((e) => {
        const file = isObject(e['file']) ? e['file'] : null;
        const author = isObject(e['author']) ? e['author'] : {};
        return {
          position: count(e['position']),
          authorType: str(first(author, 'type')) ?? str(e['author_type']) ?? '',
          authorName: str(first(author, 'name', 'id')) ?? str(first(e, 'author_name', 'author_id')) ?? '',
          visibility: str(e['visibility']) ?? 'all',
          kind: str(e['kind']) ?? '',
          deleted: str(e['deleted_at']) !== null,
          text: str(e['text']) ?? (file !== null ? (str(first(file, 'name', 'url')) ?? '') : ''),
          createdAt: str(e['created_at']),
        };
      })
      .sort((a, b) => a.position - b.position),
  }));
  return {
    chatId,
    customer: customerLabel(chat),
    tags: strings(chat['tags']),
    rating: isObject(rating) ? str(first(rating, 'score', 'rating', 'value')) : str(rating),
    threads,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// What the views compute.

export interface Totals {
  readonly chats: number;
  readonly ratedGood: number;
  readonly ratedBad: number;
  /** Good ratings as a percentage of all ratings, one decimal; null without ratings. */
  readonly goodShare: number | null;
  readonly queued: number;
  readonly leftQueue: number;
  /** Of the queued, the percentage who left before an agent came; null when nobody queued. */
  readonly abandonment: number | null;
}

export function percent(part: number, whole: number): number | null {
  return whole > 0 ? Math.round((1000 * part) / whole) / 10 : null;
}

export function totals(rows: readonly DailyRow[]): Totals {
  const sum = (f: (r: DailyRow) => number) => rows.reduce((s, r) => s + f(r), 0);
  const chats = sum((r) => r.chats);
  const ratedGood = sum((r) => r.ratedGood);
  const ratedBad = sum((r) => r.ratedBad);
  const queued = sum((r) => r.queued);
  const leftQueue = sum((r) => r.leftQueue);
  return {
    chats,
    ratedGood,
    ratedBad,
    goodShare: percent(ratedGood, ratedGood + ratedBad),
    queued,
    leftQueue,
    abandonment: percent(leftQueue, queued),
  };
}

/** Every day of the range, with the API's row or zeros: a chart without gaps where nothing happened. */
export function fillDays(rows: readonly DailyRow[], from: string, to: string): DailyRow[] {
  const byDay = new Map(rows.map((r) => [r.day, r]));
  const out: DailyRow[] = [];
  for (let day = from; daysBetween(day, to) >= 0; day = addDays(day, 1)) {
    out.push(
      byDay.get(day) ?? {
        day,
        chats: 0,
        chatsWithReply: 0,
        medianFirstResponse: null,
        p90FirstResponse: null,
        avgDuration: null,
        medianDuration: null,
        ratedGood: 0,
        ratedBad: 0,
        queued: 0,
        leftQueue: 0,
        medianQueueWait: null,
      },
    );
  }
  return out;
}

export const WEEKDAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'] as const;

/**
 * Chats per local weekday (Monday first) and hour: a 7 × 24 matrix summed over the range. The API's hours are
 * the tenant's local clock without an offset, so the weekday comes from the date as written, never from the
 * browser's time zone.
 */
export function weekHeatmap(rows: readonly HourlyRow[]): number[][] {
  const grid = WEEKDAYS.map(() => new Array<number>(24).fill(0));
  for (const r of rows) {
    if (r.dayOfWeek !== undefined && r.hourOfDay !== undefined) {
      const row = grid[r.dayOfWeek - 1];
      if (row !== undefined && r.hourOfDay >= 0 && r.hourOfDay < 24) row[r.hourOfDay]! += r.chats;
      continue;
    }
    const m = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2})/.exec(r.hour);
    if (m === null) continue;
    const weekday = (new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]))).getUTCDay() + 6) % 7;
    const hour = Number(m[4]);
    if (hour > 23) continue;
    grid[weekday]![hour]! += r.chats;
  }
  return grid;
}

/** Shade 0 (none) to 4 (the busiest cell) of a heatmap cell. */
export function heatLevel(value: number, max: number): number {
  if (value <= 0 || max <= 0) return 0;
  return Math.max(1, Math.ceil((4 * value) / max));
}

/**
 * Agents ranked as LiveChat's Ranking report does: by the Wilson score of their ratings (best first), agents
 * without ratings last, then by chats.
 */
export function rankAgents(rows: readonly AgentRow[]): (AgentRow & { readonly rank: number })[] {
  if (rows.length > 0 && rows.every((r) => r.apiRank !== null)) {
    return [...rows].sort((a, b) => a.apiRank! - b.apiRank!).map((r) => ({ ...r, rank: r.apiRank! }));
  }
  return [...rows]
    .sort(
      (a, b) => (b.score ?? -1) - (a.score ?? -1) || b.chats - a.chats || a.agentId.localeCompare(b.agentId),
    )
    .map((r, i) => ({ ...r, rank: i + 1 }));
}

/** Seconds as people read them: `42 s`, `3 min 05 s`, `2 h 10 min`; an em dash for none. */
export function formatSeconds(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds)) return '—';
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min`;
}

export function formatPercent(value: number | null): string {
  return value === null ? '—' : `${value.toFixed(1)} %`;
}

/** An RFC 3339 time as `YYYY-MM-DD HH:MM` UTC (the API's clock; the page says so). */
export function formatTime(iso: string | null): string {
  if (iso === null) return '';
  const t = Date.parse(iso);
  return Number.isNaN(t) ? iso : new Date(t).toISOString().slice(0, 16).replace('T', ' ');
}
