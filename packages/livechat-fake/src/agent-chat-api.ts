import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { callerOf, hasScope } from './configuration-api.js';
import type { Caller } from './configuration-api.js';
import { basicCredentials, parseParams, readBody, sendJson } from './http-util.js';
import type { FakeWorld } from './world.js';

/**
 * One `list_archives` row as LiveChat returns it (reference A.4): a Chat with ONE thread. The fake keeps one row
 * per thread; a chat with three threads is three rows sharing `id`, `users`, `properties`, `access`.
 */
export interface ArchiveRow {
  readonly id: string;
  readonly users: readonly Readonly<Record<string, unknown>>[];
  readonly thread: ArchiveThread;
  readonly properties?: Readonly<Record<string, unknown>>;
  readonly access?: { readonly group_ids?: readonly number[] };
  readonly is_followed?: boolean;
}

export interface ArchiveThread {
  readonly id: string;
  readonly active: boolean;
  /** RFC 3339 UTC with microseconds. */
  readonly created_at: string;
  readonly events?: readonly Readonly<Record<string, unknown>>[];
  readonly [field: string]: unknown;
}

/** How the fake's Agent Chat API behaves (reference A.12). */
export interface AgentChatOptions {
  /** Threads created before now minus this many days come back with `restricted_access` and no events. */
  readonly historyDays?: number;
  /** A token bucket per credential: `capacity` requests, refilled at `refillPerSecond`; empty -> too_many_requests. */
  readonly rateLimit?: { readonly capacity: number; readonly refillPerSecond: number };
  /** Sends `Retry-After` with too_many_requests (LiveChat documents none: off by default). */
  readonly retryAfterSeconds?: number;
  /** How long a page_id stays valid; default one month. */
  readonly pageTtlMs?: number;
}

export const AGENT_CHAT_METHODS = [
  'list_archives',
  'list_chats',
  'list_threads',
  'get_chat',
  'get_customer',
] as const;

type AgentErrorType =
  | 'authentication'
  | 'authorization'
  | 'validation'
  | 'not_found'
  | 'too_many_requests'
  | 'internal'
  | 'service_unavailable';

const STATUS: Record<AgentErrorType, number> = {
  authentication: 401,
  authorization: 403,
  validation: 400,
  not_found: 404,
  too_many_requests: 429,
  internal: 500,
  service_unavailable: 503,
};

class AgentApiError extends Error {
  constructor(
    readonly type: AgentErrorType,
    message: string,
  ) {
    super(message);
  }
}

const invalid = (message: string) => new AgentApiError('validation', message);

interface SortKey {
  readonly micros: number;
  readonly id: string;
}

interface Cursor {
  readonly method: string;
  readonly credential: string;
  readonly filters: Filters;
  readonly chatId: string | null;
  readonly sortOrder: 'asc' | 'desc';
  readonly limit: number;
  readonly after?: SortKey;
  readonly before?: SortKey;
  readonly expiresAt: number;
}

interface Filters {
  readonly from?: number;
  readonly to?: number;
  readonly chatIds?: ReadonlySet<string>;
  readonly groupIds?: ReadonlySet<number>;
  readonly query?: string;
  readonly active?: boolean;
}

/** The Agent Chat API's share of the fake's world. */
export class AgentChatState {
  /** organization id -> thread id -> row: a token sees its own organization's chats only, as at LiveChat. */
  readonly rowsByOrganization = new Map<string, Map<string, ArchiveRow>>();
  readonly cursors = new Map<string, Cursor>();
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(readonly options: AgentChatOptions) {}

  /** Adds or replaces an organization's threads (a thread that closed since is replaced by its new state). */
  upsert(organizationId: string, rows: readonly ArchiveRow[]): void {
    const map = this.rowsByOrganization.get(organizationId) ?? new Map<string, ArchiveRow>();
    for (const row of rows) map.set(row.thread.id, row);
    this.rowsByOrganization.set(organizationId, map);
  }

  rowsOf(organizationId: string | null): ArchiveRow[] {
    return [...(this.rowsByOrganization.get(organizationId ?? '')?.values() ?? [])];
  }

  get size(): number {
    let n = 0;
    for (const m of this.rowsByOrganization.values()) n += m.size;
    return n;
  }

  /** Takes one request from the credential's bucket; false when it is empty. */
  take(credential: string, now: number): boolean {
    const limit = this.options.rateLimit;
    if (limit === undefined) return true;
    const b = this.buckets.get(credential) ?? { tokens: limit.capacity, at: now };
    b.tokens = Math.min(limit.capacity, b.tokens + ((now - b.at) / 1000) * limit.refillPerSecond);
    b.at = now;
    this.buckets.set(credential, b);
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})$/;

/** Microseconds since the epoch of an RFC 3339 timestamp (keeps the microseconds Date drops). */
export function toMicros(value: string): number {
  const ms = Date.parse(value);
  const frac = /\.(\d{1,6})/.exec(value)?.[1] ?? '';
  const micros = Number(frac.padEnd(6, '0').slice(3, 6) || '0');
  return Math.floor(ms) * 1000 + micros;
}

function timeFilter(name: string, value: unknown): number {
  if (typeof value !== 'string' || !RFC3339.test(value) || Number.isNaN(Date.parse(value)))
    throw invalid(`filters.${name} must be an RFC 3339 date-time, e.g. 2026-01-01T00:00:00.000000+00:00`);
  return toMicros(value);
}

function idList(name: string, value: unknown, max: number): string[] {
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string' || v === ''))
    throw invalid(`filters.${name} must be an array of ids`);
  if (value.length > max) throw invalid(`filters.${name} accepts at most ${max} values`);
  return value as string[];
}

const ARCHIVE_FILTERS = new Set(['from', 'to', 'chat_ids', 'thread_ids', 'group_ids', 'query']);
const CHAT_FILTERS = new Set(['active', 'group_ids', 'include_chats_without_threads']);
const THREAD_FILTERS = new Set(['from', 'to']);

function parseFilters(raw: unknown, allowed: ReadonlySet<string>): Filters {
  if (raw === undefined) return {};
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw invalid('filters must be an object');
  const f = raw as Record<string, unknown>;
  for (const k of Object.keys(f))
    if (!allowed.has(k))
      throw invalid(`filters.${k} is not supported here (the fake implements: ${[...allowed].join(', ')})`);
  const out: {
    from?: number;
    to?: number;
    chatIds?: Set<string>;
    groupIds?: Set<number>;
    query?: string;
    active?: boolean;
  } = {};
  if (f['from'] !== undefined) out.from = timeFilter('from', f['from']);
  if (f['to'] !== undefined) out.to = timeFilter('to', f['to']);
  if (f['chat_ids'] !== undefined) out.chatIds = new Set(idList('chat_ids', f['chat_ids'], 1000));
  if (f['group_ids'] !== undefined) {
    const g = f['group_ids'];
    if (!Array.isArray(g) || g.some((v) => !Number.isInteger(v)))
      throw invalid('filters.group_ids must be an array of integers');
    if (g.length > 200) throw invalid('filters.group_ids accepts at most 200 values');
    out.groupIds = new Set(g as number[]);
  }
  if (f['query'] !== undefined) {
    if (typeof f['query'] !== 'string') throw invalid('filters.query must be a string');
    out.query = f['query'];
  }
  if (f['active'] !== undefined && f['active'] !== null) {
    if (typeof f['active'] !== 'boolean') throw invalid('filters.active must be a boolean');
    out.active = f['active'];
  }
  return out;
}

function parseLimit(value: unknown, fallback: number, max: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || (value as number) < 1 || (value as number) > max)
    throw invalid(`limit must be an integer from 1 to ${max}`);
  return value as number;
}

function parseSort(value: unknown): 'asc' | 'desc' {
  if (value === undefined) return 'desc';
  if (value !== 'asc' && value !== 'desc') throw invalid('sort_order must be asc or desc');
  return value;
}

const keyOf = (row: ArchiveRow): SortKey => ({
  micros: toMicros(row.thread.created_at),
  id: row.thread.id,
});

function compare(a: SortKey, b: SortKey, order: 'asc' | 'desc'): number {
  const c = a.micros - b.micros || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
  return order === 'asc' ? c : -c;
}

function matches(row: ArchiveRow, f: Filters): boolean {
  const t = toMicros(row.thread.created_at);
  if (f.from !== undefined && t < f.from) return false;
  if (f.to !== undefined && t > f.to) return false;
  if (f.chatIds !== undefined && !f.chatIds.has(row.id)) return false;
  if (f.groupIds !== undefined) {
    const groups = row.access?.group_ids ?? [0];
    if (!groups.some((g) => f.groupIds!.has(g))) return false;
  }
  if (f.query !== undefined && !JSON.stringify(row.thread.events ?? []).includes(f.query)) return false;
  return true;
}

/**
 * A page of `items` (already filtered) in the cursor's order, with opaque page ids for the neighbours; the
 * cursor remembers filters, order and limit, so later requests carry only the page_id (keyset: rows added
 * meanwhile are neither skipped nor repeated).
 */
function paginate<T>(
  state: AgentChatState,
  now: number,
  items: readonly T[],
  key: (item: T) => SortKey,
  base: Omit<Cursor, 'after' | 'before' | 'expiresAt'>,
  position: { after?: SortKey; before?: SortKey },
): { page: T[]; next_page_id?: string; previous_page_id?: string } {
  const sorted = [...items].sort((a, b) => compare(key(a), key(b), base.sortOrder));
  let start = 0;
  let end = sorted.length;
  if (position.after !== undefined) {
    const after = position.after;
    start = sorted.findIndex((i) => compare(key(i), after, base.sortOrder) > 0);
    if (start < 0) start = sorted.length;
    end = Math.min(sorted.length, start + base.limit);
  } else if (position.before !== undefined) {
    const before = position.before;
    end = sorted.findIndex((i) => compare(key(i), before, base.sortOrder) >= 0);
    if (end < 0) end = sorted.length;
    start = Math.max(0, end - base.limit);
  } else end = Math.min(sorted.length, base.limit);
  const page = sorted.slice(start, end);
  const expiresAt = now + (state.options.pageTtlMs ?? 31 * 86_400_000);
  const issue = (c: Cursor) => {
    const id = randomBytes(12).toString('base64');
    state.cursors.set(id, c);
    return id;
  };
  const out: { page: T[]; next_page_id?: string; previous_page_id?: string } = { page };
  if (end < sorted.length && page.length > 0)
    out.next_page_id = issue({ ...base, after: key(page[page.length - 1]!), expiresAt });
  if (start > 0 && page.length > 0)
    out.previous_page_id = issue({ ...base, before: key(page[0]!), expiresAt });
  return out;
}

const RESTRICTED = 'Chat history is limited by the plan: this thread is beyond it';

function visibleThread(world: FakeWorld, thread: ArchiveThread): Record<string, unknown> {
  const days = world.agentChat.options.historyDays;
  if (days === undefined || toMicros(thread.created_at) >= (world.now() - days * 86_400_000) * 1000)
    return { ...thread };
  const { events: _events, ...rest } = thread;
  return { ...rest, restricted_access: RESTRICTED };
}

function archiveView(world: FakeWorld, row: ArchiveRow): Record<string, unknown> {
  return {
    id: row.id,
    users: row.users,
    thread: visibleThread(world, row.thread),
    ...(row.properties === undefined ? {} : { properties: row.properties }),
    ...(row.access === undefined ? {} : { access: row.access }),
    is_followed: row.is_followed ?? false,
  };
}

/** Resolves the request's position: a first request (filters, limit, sort_order) or a page_id alone. */
function walkStart(
  world: FakeWorld,
  method: string,
  credential: string,
  p: Record<string, unknown>,
  allowedFilters: ReadonlySet<string>,
  defaults: { limit: number; max: number },
  chatId: string | null,
): { base: Omit<Cursor, 'after' | 'before' | 'expiresAt'>; after?: SortKey; before?: SortKey } {
  if (p['page_id'] !== undefined) {
    for (const k of ['filters', 'limit', 'sort_order', 'min_events_count'])
      if (p[k] !== undefined) throw invalid(`page_id cannot be combined with ${k}: start a new walk instead`);
    const id = p['page_id'];
    const cursor = typeof id === 'string' ? world.agentChat.cursors.get(id) : undefined;
    if (cursor === undefined || cursor.method !== method || cursor.credential !== credential)
      throw invalid('Invalid page_id');
    if (cursor.expiresAt <= world.now()) {
      world.agentChat.cursors.delete(id as string);
      throw invalid('Expired page_id');
    }
    if (chatId !== null && cursor.chatId !== chatId) throw invalid('page_id belongs to another chat');
    const { after, before, expiresAt: _e, ...base } = cursor;
    return { base, ...(after === undefined ? {} : { after }), ...(before === undefined ? {} : { before }) };
  }
  return {
    base: {
      method,
      credential,
      filters: parseFilters(p['filters'], allowedFilters),
      chatId,
      sortOrder: parseSort(p['sort_order']),
      limit: parseLimit(p['limit'], defaults.limit, defaults.max),
    },
  };
}

function listArchives(world: FakeWorld, who: Who, credential: string, p: Record<string, unknown>) {
  const f = p['filters'];
  if (typeof f === 'object' && f !== null && (f as Record<string, unknown>)['thread_ids'] !== undefined) {
    const fr = f as Record<string, unknown>;
    if (Object.keys(fr).length > 1 || p['page_id'] !== undefined || p['limit'] !== undefined)
      throw invalid('filters.thread_ids cannot be combined with other filters, limit or pagination');
    const ids = new Set(idList('thread_ids', fr['thread_ids'], 20));
    const rows = visibleRows(world, who).filter((r) => ids.has(r.thread.id));
    return { chats: rows.map((r) => archiveView(world, r)), found_chats: rows.length };
  }
  const start = walkStart(
    world,
    'list_archives',
    credential,
    p,
    ARCHIVE_FILTERS,
    { limit: 10, max: 100 },
    null,
  );
  const rows = visibleRows(world, who).filter((r) => matches(r, start.base.filters));
  const { page, ...ids } = paginate(world.agentChat, world.now(), rows, keyOf, start.base, start);
  return { chats: page.map((r) => archiveView(world, r)), found_chats: rows.length, ...ids };
}

function chatsById(world: FakeWorld, who: Who): Map<string, ArchiveRow[]> {
  const byChat = new Map<string, ArchiveRow[]>();
  for (const row of visibleRows(world, who)) {
    const list = byChat.get(row.id) ?? [];
    list.push(row);
    byChat.set(row.id, list);
  }
  for (const list of byChat.values()) list.sort((a, b) => compare(keyOf(a), keyOf(b), 'asc'));
  return byChat;
}

function listChats(world: FakeWorld, who: Who, credential: string, p: Record<string, unknown>) {
  const start = walkStart(world, 'list_chats', credential, p, CHAT_FILTERS, { limit: 10, max: 100 }, null);
  const f = start.base.filters;
  const latest = [...chatsById(world, who).values()]
    .map((threads) => threads[threads.length - 1]!)
    .filter((r) => (f.active === undefined || r.thread.active === f.active) && matches(r, { ...f }));
  const { page, ...ids } = paginate(world.agentChat, world.now(), latest, keyOf, start.base, start);
  return {
    chats_summary: page.map((r) => {
      const events = visibleThread(world, r.thread)['events'] as Record<string, unknown>[] | undefined;
      const lastPerType: Record<string, unknown> = {};
      for (const e of events ?? [])
        lastPerType[String(e['type'])] = {
          thread_id: r.thread.id,
          thread_created_at: r.thread.created_at,
          event: e,
        };
      return {
        id: r.id,
        users: r.users,
        ...(r.properties === undefined ? {} : { properties: r.properties }),
        ...(r.access === undefined ? {} : { access: r.access }),
        is_followed: r.is_followed ?? false,
        last_thread_summary: {
          id: r.thread.id,
          created_at: r.thread.created_at,
          user_ids: r.thread['user_ids'] ?? [],
          properties: r.thread['properties'] ?? {},
          active: r.thread.active,
          access: r.thread['access'] ?? r.access ?? {},
        },
        last_event_per_type: lastPerType,
      };
    }),
    found_chats: latest.length,
    ...ids,
  };
}

function requiredString(p: Record<string, unknown>, name: string): string {
  const v = p[name];
  if (typeof v !== 'string' || v === '') throw invalid(`\`${name}\` is required`);
  return v;
}

function listThreads(world: FakeWorld, who: Who, credential: string, p: Record<string, unknown>) {
  const chatId = requiredString(p, 'chat_id');
  const threads = chatsById(world, who).get(chatId);
  if (threads === undefined) throw new AgentApiError('not_found', 'Chat not found');
  if (p['min_events_count'] !== undefined) {
    if (p['limit'] !== undefined || p['filters'] !== undefined || p['page_id'] !== undefined)
      throw invalid('min_events_count cannot be combined with limit, filters or page_id');
    const n = p['min_events_count'];
    if (!Number.isInteger(n) || (n as number) < 1 || (n as number) > 100)
      throw invalid('min_events_count must be an integer from 1 to 100');
    const out: Record<string, unknown>[] = [];
    let events = 0;
    for (const r of [...threads].reverse()) {
      if (events >= (n as number)) break;
      const t = visibleThread(world, r.thread);
      out.push(t);
      events += (t['events'] as unknown[] | undefined)?.length ?? 0;
    }
    return { threads: out, found_threads: threads.length };
  }
  const start = walkStart(
    world,
    'list_threads',
    credential,
    p,
    THREAD_FILTERS,
    { limit: 3, max: 100 },
    chatId,
  );
  const rows = threads.filter((r) => matches(r, start.base.filters));
  const { page, ...ids } = paginate(world.agentChat, world.now(), rows, keyOf, start.base, start);
  return { threads: page.map((r) => visibleThread(world, r.thread)), found_threads: rows.length, ...ids };
}

function getChat(world: FakeWorld, who: Who, p: Record<string, unknown>) {
  const chatId = requiredString(p, 'chat_id');
  const threads = chatsById(world, { org: who.org, groups: null }).get(chatId);
  if (threads === undefined) throw new AgentApiError('not_found', 'Chat not found');
  const threadId = p['thread_id'];
  if (threadId !== undefined && typeof threadId !== 'string') throw invalid('`thread_id` must be a string');
  const row =
    threadId === undefined ? threads[threads.length - 1]! : threads.find((r) => r.thread.id === threadId);
  if (row === undefined) throw new AgentApiError('not_found', 'Thread not found');
  // Access to the requested thread is checked (v3.6): a thread outside the caller's groups is refused.
  if (!accessible(row, who.groups)) throw new AgentApiError('authorization', 'No access to this thread');
  return archiveView(world, row);
}

function getCustomer(world: FakeWorld, who: Who, p: Record<string, unknown>) {
  const id = requiredString(p, 'id');
  let customer: Readonly<Record<string, unknown>> | undefined;
  const chatIds = new Set<string>();
  let threadsCount = 0;
  for (const row of visibleRows(world, who)) {
    const user = row.users.find((u) => u['id'] === id && u['type'] === 'customer');
    if (user === undefined) continue;
    customer ??= user;
    chatIds.add(row.id);
    threadsCount += 1;
  }
  if (customer === undefined) throw new AgentApiError('not_found', 'Customer not found');
  const optional = (name: string) =>
    customer![name] === undefined || customer![name] === null ? {} : { [name]: customer![name] };
  return {
    id,
    type: 'customer',
    ...optional('name'),
    ...optional('email'),
    ...optional('avatar'),
    ...optional('phone_number'),
    ...optional('session_fields'),
    ...optional('visit'),
    created_at:
      typeof customer['created_at'] === 'string' ? customer['created_at'] : '2020-01-01T00:00:00.000000Z',
    statistics: {
      chats_count: chatIds.size,
      threads_count: threadsCount,
      visits_count: 0,
      page_views_count: 0,
      greetings_shown_count: 0,
      greetings_accepted_count: 0,
      tickets_count: 0,
    },
    chat_ids: [...chatIds],
  };
}

const CHAT_SCOPES = ['chats--all:ro', 'chats--access:ro'];

/**
 * The groups whose chats the caller may read: null for all (`chats--all:*`, or a token whose user's groups the fake
 * does not know); with `chats--access:*` only, a PAT's `groupIds`.
 */
function accessGroups(world: FakeWorld, caller: Caller, req: IncomingMessage): ReadonlySet<number> | null {
  if (hasScope(caller.scopes, 'chats--all:ro') || caller.kind !== 'pat') return null;
  const basic = basicCredentials(req.headers.authorization);
  const pat = (world.options.pats ?? []).find(
    (p) => basic !== null && p.accountId === basic[0] && p.token === basic[1],
  );
  return pat?.groupIds === undefined ? null : new Set(pat.groupIds);
}

/** Who asks: their organization, and the groups they may read (null: all). */
interface Who {
  readonly org: string | null;
  readonly groups: ReadonlySet<number> | null;
}

function visibleRows(world: FakeWorld, who: Who): ArchiveRow[] {
  return world.agentChat.rowsOf(who.org).filter((r) => accessible(r, who.groups));
}

function accessible(row: ArchiveRow, groups: ReadonlySet<number> | null): boolean {
  if (groups === null) return true;
  const threadAccess = row.thread['access'] as { group_ids?: readonly number[] } | undefined;
  const ids = threadAccess?.group_ids ?? row.access?.group_ids ?? [0];
  return ids.some((g) => groups.has(g));
}

function credentialOf(caller: Caller, req: IncomingMessage): string {
  return `${caller.kind}:${req.headers.authorization ?? ''}`;
}

/** POST /<version>/agent/action/<method> */
export async function agentChatApi(
  world: FakeWorld,
  method: string,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const raw = await readBody(req);
  const record = (status: number, auth: Caller['kind'], fault?: string) =>
    world.calls.push({
      path: `agent/action/${method}`,
      method,
      auth,
      status,
      ...(fault === undefined ? {} : { fault }),
    });
  const fail = (auth: Caller['kind'], type: AgentErrorType, message: string, fault?: string) => {
    record(STATUS[type], auth, fault);
    const headers: Record<string, string> =
      type === 'too_many_requests' && world.agentChat.options.retryAfterSeconds !== undefined
        ? { 'retry-after': String(world.agentChat.options.retryAfterSeconds) }
        : {};
    sendJson(res, STATUS[type], { error: { type, message } }, headers);
  };
  const fault = world.agentFaults.next(method);
  if (fault?.kind === 'status' && fault.afterEffect !== true) {
    const type =
      fault.status === 429 ? 'too_many_requests' : fault.status === 500 ? 'internal' : 'service_unavailable';
    return fail(
      'none',
      type,
      type === 'too_many_requests' ? 'Too many requests' : 'injected fault',
      `status ${fault.status}`,
    );
  }
  if (fault?.kind === 'delay') await sleep(fault.ms);
  const caller = callerOf(world, req);
  if (caller === null || caller.kind === 'none')
    return fail('none', 'authentication', 'Invalid access token');
  if (!(AGENT_CHAT_METHODS as readonly string[]).includes(method))
    return fail(caller.kind, 'not_found', `unknown method \`${method}\``);
  const credential = credentialOf(caller, req);
  if (!world.agentChat.take(credential, world.now()))
    return fail(caller.kind, 'too_many_requests', 'Too many requests');
  const scopes = method === 'get_customer' ? ['customers:ro'] : CHAT_SCOPES;
  if (!scopes.some((s) => hasScope(caller.scopes, s)))
    return fail(caller.kind, 'authorization', `One of the scopes ${scopes.join(', ')} is required`);
  const params = parseParams(raw, 'application/json');
  if (params === null) return fail(caller.kind, 'validation', 'Wrong format of request');
  const who: Who = { org: caller.organizationId, groups: accessGroups(world, caller, req) };
  try {
    const result =
      method === 'list_archives'
        ? listArchives(world, who, credential, params)
        : method === 'list_chats'
          ? listChats(world, who, credential, params)
          : method === 'list_threads'
            ? listThreads(world, who, credential, params)
            : method === 'get_chat'
              ? getChat(world, who, params)
              : getCustomer(world, who, params);
    if (fault?.kind === 'status')
      return fail(caller.kind, 'internal', 'injected fault', `status ${fault.status} after effect`);
    record(200, caller.kind, fault?.kind === 'delay' ? `delay ${fault.ms}` : undefined);
    sendJson(res, 200, result);
  } catch (err) {
    if (!(err instanceof AgentApiError)) throw err;
    fail(caller.kind, err.type, err.message);
  }
}
