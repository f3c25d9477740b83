import { createHash } from 'node:crypto';
import { EventsError } from './errors.js';
import type { ArchiveSource, RawWebhook } from './raw-webhook.js';

/**
 * Archive threads as raw records: a thread read from LiveChat's Agent Chat API v3.6 (`list_archives` row or
 * `get_chat` result) goes to `livechat.webhooks.raw` next to the webhooks, so the normalizer maps it to the same chat
 * events (same event ids) the webhooks of that thread give, and every consumer dedups the two copies.
 *
 * The contract (README "Archive records"):
 * - `format` `v3`, `action` `archive_thread` (`ARCHIVE_ACTION`), `api_version` `3.6`, `archive` set (`ArchiveSource`);
 * - `body`: the chat row as LiveChat returned it (a chat with ONE `thread`), as JSON text; a thread whose body would be
 *   over `maxBodyBytes` or whose events are more than `maxEventsPerPart` is split into parts, each the same chat with a
 *   consecutive slice of `thread.events` (`archive.part` of `archive.parts`), cut from the end so the last part is
 *   the fullest (it carries the archiving message: only the last part closes the thread);
 * - `event_id`: 64 hex, SHA-256 over the tenant, chat id, thread id, part/parts and the canonical JSON of the part's
 *   thread content (`archiveContent`): the same thread read again gives the same id, a changed thread another.
 */

/** The `action` of every archive record (no LiveChat webhook has this name). */
export const ARCHIVE_ACTION = 'archive_thread';

/** The Agent Chat API version whose structures archive bodies carry. */
export const ARCHIVE_API_VERSION = '3.6';

/** The ingest's default body limit (INGEST_BODY_LIMIT_BYTES): the raw topic's max.message.bytes fits it plus 256 KiB. */
export const ARCHIVE_BODY_MAX_BYTES = 1024 * 1024;

/** Events per part: far below the parser's 10,000 events per record, so one part never trips that limit. */
export const ARCHIVE_EVENTS_PER_PART_MAX = 1000;

/** Deeper bodies are refused here rather than by the normalizer (its parse limit is 100). */
const MAX_DEPTH = 64;

export type ArchiveMethod = 'list_archives' | 'get_chat';

export interface ArchiveReadSource {
  readonly method: ArchiveMethod;
  /** The `page_id` the page was requested with; null/absent for the first page of a walk and for `get_chat`. */
  readonly pageId?: string | null;
  /** 1-based page number within the walk; null/absent for `get_chat`. */
  readonly pageNumber?: number | null;
  /** When the thread was read, microseconds since the epoch (also the record's `received_at`). */
  readonly readAtMicros: number;
}

export interface BuildArchiveInput {
  /** The tenant (organization id) whose token read the thread. */
  readonly tenant: string;
  /** One `list_archives` row (`chats[i]`) or one `get_chat` result: a chat object with a single `thread`. */
  readonly chat: unknown;
  readonly source: ArchiveReadSource;
}

export interface BuildArchiveOptions {
  /** Largest body of one record in UTF-8 bytes (default `ARCHIVE_BODY_MAX_BYTES`). */
  readonly maxBodyBytes?: number;
  /** Most events of one record (default `ARCHIVE_EVENTS_PER_PART_MAX`). */
  readonly maxEventsPerPart?: number;
}

type JsonObject = Record<string, unknown>;

/**
 * The raw records of one archive thread: usually one, several parts when the thread is larger than
 * `maxBodyBytes` / `maxEventsPerPart`. Write all of them (key: `kafkaKeyOfArchive`); each is mapped on its own.
 *
 * @throws EventsError `EVENTS_ARCHIVE_INVALID` (not a chat with one thread with ids, or nested deeper than 64),
 *   `EVENTS_ARCHIVE_TOO_LARGE` (one event, or the chat without events, alone over `maxBodyBytes`).
 */
export function buildArchiveRawWebhooks(
  input: BuildArchiveInput,
  options: BuildArchiveOptions = {},
): RawWebhook[] {
  const maxBodyBytes = options.maxBodyBytes ?? ARCHIVE_BODY_MAX_BYTES;
  const maxEvents = Math.max(1, options.maxEventsPerPart ?? ARCHIVE_EVENTS_PER_PART_MAX);
  const { chat, chatId, thread, threadId } = readChatRow(input.chat);
  const events = Array.isArray(thread['events']) ? (thread['events'] as unknown[]) : undefined;
  const slices =
    events === undefined ? [undefined] : sliceEvents(chat, thread, events, maxBodyBytes, maxEvents);
  const parts = slices.length;
  return slices.map((slice, index) => {
    const partChat: JsonObject =
      slice === undefined ? chat : { ...chat, thread: { ...thread, events: slice } };
    const body = JSON.stringify(partChat);
    const bodyBytes = Buffer.byteLength(body);
    if (bodyBytes > maxBodyBytes) {
      throw new EventsError(
        'EVENTS_ARCHIVE_TOO_LARGE',
        `archive thread ${threadId.slice(0, 64)}: part ${index + 1} is ${bodyBytes} bytes, over the limit of ${maxBodyBytes}`,
        { details: { bytes: bodyBytes, max: maxBodyBytes } },
      );
    }
    const archive: ArchiveSource = {
      method: input.source.method,
      page_id: input.source.pageId ?? null,
      page_number: input.source.pageNumber ?? null,
      read_at: input.source.readAtMicros,
      part: index + 1,
      parts,
    };
    return {
      event_id: archiveEventId(input.tenant, chatId, threadId, index + 1, parts, partChat),
      received_at: input.source.readAtMicros,
      format: 'v3',
      api_version: ARCHIVE_API_VERSION,
      action: ARCHIVE_ACTION,
      tenant: input.tenant,
      // The tenant is the reader's, given with the read like a URL's tenant label (the body names none).
      tenant_source: 'path',
      chat_id: chatId,
      thread_id: threadId,
      webhook_id: null,
      body,
      content_length: bodyBytes,
      user_agent: null,
      remote_address: null,
      spooled_at: null,
      archive,
    };
  });
}

/** The Kafka key of an archive record: `<tenant>|<chat_id>`, the key of every webhook of that chat. */
export function kafkaKeyOfArchive(raw: Pick<RawWebhook, 'tenant' | 'chat_id'>): string {
  return `${raw.tenant ?? ''}|${raw.chat_id ?? ''}`;
}

function readChatRow(value: unknown): {
  chat: JsonObject;
  chatId: string;
  thread: JsonObject;
  threadId: string;
} {
  if (!isObject(value)) throw invalid('the chat is not a JSON object');
  checkDepth(value);
  const chatId = value['id'];
  const thread = value['thread'];
  if (typeof chatId !== 'string' || chatId === '') throw invalid('the chat has no id');
  if (!isObject(thread))
    throw invalid(
      `chat ${chatId.slice(0, 64)} has no thread (one list_archives row or get_chat result with a thread)`,
    );
  const threadId = thread['id'];
  if (typeof threadId !== 'string' || threadId === '')
    throw invalid(`chat ${chatId.slice(0, 64)}: its thread has no id`);
  return { chat: value, chatId, thread, threadId };
}

/** Consecutive slices of the events, each within both bounds together with the rest of the chat. */
function sliceEvents(
  chat: JsonObject,
  thread: JsonObject,
  events: readonly unknown[],
  maxBodyBytes: number,
  maxEvents: number,
): unknown[][] {
  // `"events":[]` is in the base; each event adds its JSON and a comma.
  const baseBytes = Buffer.byteLength(JSON.stringify({ ...chat, thread: { ...thread, events: [] } }));
  if (baseBytes > maxBodyBytes) {
    throw new EventsError(
      'EVENTS_ARCHIVE_TOO_LARGE',
      `archive thread: the chat without its events is ${baseBytes} bytes, over the limit of ${maxBodyBytes}`,
      { details: { bytes: baseBytes, max: maxBodyBytes } },
    );
  }
  // Cut from the end, so the last part is the fullest: it carries the thread's closing facts (the archiving system
  // message and what follows it), and only the last part closes the thread (packages/livechat parseArchiveThread).
  // The last part also keeps the thread's last archiving message whatever `maxEvents` (only a few rating messages can
  // follow it); only the byte limit can cut it off, and then the thread's closer is unknown.
  const archivedAt = events.findLastIndex(isArchivingMessage);
  const slices: unknown[][] = [];
  let current: unknown[] = [];
  let bytes = baseBytes;
  for (let index = events.length - 1; index >= 0; index--) {
    const event = events[index];
    const keepWithClose = slices.length === 0 && archivedAt >= 0 && index >= archivedAt;
    const eventBytes = Buffer.byteLength(JSON.stringify(event) ?? 'null') + 1;
    if (baseBytes + eventBytes > maxBodyBytes) {
      throw new EventsError(
        'EVENTS_ARCHIVE_TOO_LARGE',
        `archive thread: event ${index} alone is ${eventBytes} bytes, more than the ${maxBodyBytes - baseBytes} bytes left by the chat around it`,
        { details: { index, bytes: eventBytes, max: maxBodyBytes } },
      );
    }
    if (
      current.length > 0 &&
      (bytes + eventBytes > maxBodyBytes || (current.length >= maxEvents && !keepWithClose))
    ) {
      slices.push(current.reverse());
      current = [];
      bytes = baseBytes;
    }
    current.push(event);
    bytes += eventBytes;
  }
  slices.push(current.reverse());
  return slices.reverse();
}

/** The system messages that archive a thread (packages/livechat `closerOf` reads the closer from the last one). */
const ARCHIVING_MESSAGE =
  /^(manual_archived_agent|manual_archived_customer|system_archived|routing\.archived_[a-z_]+)$/;

function isArchivingMessage(event: unknown): boolean {
  return (
    isObject(event) &&
    event['type'] === 'system_message' &&
    typeof event['system_message_type'] === 'string' &&
    ARCHIVING_MESSAGE.test(event['system_message_type'])
  );
}

/**
 * The part's thread content as hashed into its event id: the body without what depends on who read it or when
 * (`is_followed`, `previous/next_accessible_thread_id`, the users' live `present` / `events_seen_up_to` and the
 * customer's running `statistics`), so a closed thread read again keeps its id.
 */
export function archiveContent(chat: JsonObject): JsonObject {
  const { is_followed: _followed, ...rest } = chat;
  const thread = isObject(rest['thread']) ? rest['thread'] : undefined;
  const content: JsonObject = { ...rest };
  if (thread !== undefined) {
    const {
      previous_accessible_thread_id: _previous,
      next_accessible_thread_id: _next,
      ...threadRest
    } = thread;
    content['thread'] = threadRest;
  }
  if (Array.isArray(rest['users'])) {
    content['users'] = rest['users'].map((user: unknown) => {
      if (!isObject(user)) return user;
      const { present: _present, events_seen_up_to: _seen, statistics: _statistics, ...userRest } = user;
      return userRest;
    });
  }
  return content;
}

function archiveEventId(
  tenant: string,
  chatId: string,
  threadId: string,
  part: number,
  parts: number,
  partChat: JsonObject,
): string {
  const content = sha256(canonicalJson(archiveContent(partChat)));
  return sha256(JSON.stringify(['archive', tenant, chatId, threadId, part, parts, content]));
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** JSON with object keys sorted at every level, no whitespace (the form packages/livechat's ids hash). */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v ?? null)).join(',')}]`;
  if (isObject(value)) {
    const keys = Object.keys(value)
      .filter((k) => value[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k])}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

function checkDepth(root: unknown): void {
  const stack: { value: unknown; depth: number }[] = [{ value: root, depth: 1 }];
  while (stack.length > 0) {
    const { value, depth } = stack.pop()!;
    if (typeof value !== 'object' || value === null) continue;
    if (depth > MAX_DEPTH) throw invalid(`the chat nests objects or arrays deeper than ${MAX_DEPTH}`);
    for (const child of Array.isArray(value) ? value : Object.values(value))
      if (typeof child === 'object' && child !== null) stack.push({ value: child, depth: depth + 1 });
  }
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function invalid(message: string): EventsError {
  return new EventsError('EVENTS_ARCHIVE_INVALID', `archive thread: ${message}`);
}
