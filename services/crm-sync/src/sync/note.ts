import { createHash } from 'node:crypto';

/** One transcript entry as the note shows it. */
export interface NoteEntry {
  readonly authorKind: string | null;
  readonly authorName: string | null;
  readonly authorId: string | null;
  readonly kind: string | null;
  readonly text: string | null;
  readonly fileName: string | null;
  readonly fileUrl: string | null;
  readonly createdUs: number | null;
}

/** What a thread's note is rendered from (read from the projection when the worker syncs it). */
export interface ThreadSnapshot {
  readonly tenant: string;
  readonly chatId: string;
  readonly threadId: string;
  readonly closedUs: number;
  readonly customerName: string | null;
  readonly customerEmail: string;
  readonly tags: readonly string[];
  readonly ratingScore: number | null;
  readonly ratingComment: string | null;
  /** In transcript order; whispers (agents-only) and deleted entries already left out. */
  readonly entries: readonly NoteEntry[];
  /** Entries of the thread not loaded at all (beyond what a note could ever show); counted in the cut marker. */
  readonly entriesNotLoaded?: number;
}

export interface RenderedNote {
  readonly body: string;
  /** HubSpot's `hs_timestamp`: the thread's close. */
  readonly timestamp: string;
  readonly bodySha256: string;
  /** Entries left out to stay under the limit (0 when the whole transcript fits). */
  readonly entriesCut: number;
}

/** HubSpot refuses an `hs_note_body` over 65,536 characters. */
export const NOTE_BODY_LIMIT = 65_536;

/**
 * The thread's sync key: a marker in the note's header that lets the worker recognise its own note among the
 * contact's notes after an ambiguous failure (HubSpot has no idempotency key). A hash, so it survives HTML
 * escaping and says nothing about the customer.
 */
export function syncKey(tenant: string, chatId: string, threadId: string): string {
  const digest = createHash('sha256').update(`${tenant}\u001f${chatId}\u001f${threadId}`).digest('hex');
  return `lc-thread-${digest.slice(0, 32)}`;
}

/**
 * Whether a note body is the note of this sync key: the key must be the body's first text ("Sync key: …", as
 * renderNote writes it), wherever HubSpot moved the tags. A key anywhere else (in a customer's name, a message,
 * a tag) is text a sender chose and never matches.
 */
export function isNoteOf(body: string, key: string): boolean {
  const text = body
    .replace(/<[^>]*>/g, ' ')
    .replace(/&nbsp;/g, ' ')
    .trimStart();
  return text.startsWith(`Sync key: ${key}`) && !/[0-9a-z]/i.test(text.charAt(`Sync key: ${key}`.length));
}

export function escapeHtml(s: string): string {
  return s.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c,
  );
}

/** Header fields a sender controls are clipped, so the header always leaves room for the transcript. */
const clip = (s: string, max: number) => (s.length > max ? `${s.slice(0, max)}…` : s);
const iso = (us: number) => new Date(Math.floor(us / 1000)).toISOString();
const clock = (us: number) => `${iso(us).slice(0, 19).replace('T', ' ')} UTC`;
const safeUrl = (url: string) => /^https?:\/\//i.test(url);

function authorLabel(e: NoteEntry): string {
  if (e.authorKind === 'system' || e.kind === 'system_message') return 'System';
  const name = e.authorName ?? e.authorId ?? (e.authorKind === 'customer' ? 'Customer' : 'Agent');
  return e.authorKind === 'customer' ? `${name} (customer)` : name;
}

function entryHtml(e: NoteEntry, maxText: number): string {
  const head = `<strong>${escapeHtml(authorLabel(e))}</strong>${e.createdUs === null ? '' : ` · ${clock(e.createdUs)}`}`;
  let content = '';
  if (e.fileUrl !== null && safeUrl(e.fileUrl)) {
    content = `<a href="${escapeHtml(e.fileUrl)}">${escapeHtml(e.fileName ?? e.fileUrl)}</a>`;
  } else {
    let text = e.text ?? e.fileName ?? `[${e.kind ?? 'event'}]`;
    if (text.length > maxText) text = `${text.slice(0, maxText)}… [message cut]`;
    content = escapeHtml(text).replace(/\r?\n/g, '<br>');
  }
  return `<p>${head}<br>${content}</p>`;
}

/**
 * The note: a header (chat id, thread id, close, tags, rating, sync key), then the transcript as escaped HTML
 * (author, time, text; files as links). When the whole does not fit in `maxChars`, whole entries are left out
 * from the end and a marker says how many; one over-long message is cut inside, so at least the start of the
 * conversation is always there. The sync key opens the header, never cut.
 */
export function renderNote(t: ThreadSnapshot, maxChars = NOTE_BODY_LIMIT): RenderedNote {
  const rating =
    t.ratingScore === null && t.ratingComment === null
      ? '—'
      : `${t.ratingScore === 1 ? 'good' : t.ratingScore === 0 ? 'bad' : 'none'}${t.ratingComment === null ? '' : ` (“${t.ratingComment}”)`}`;
  const title = clip(t.customerName === null ? t.customerEmail : t.customerName, 200);
  // The sync key comes first, before anything a sender controls: the look-up accepts it only there (a customer
  // naming themselves after another thread's key cannot make the worker adopt the wrong note).
  const header =
    `<p>Sync key: ${syncKey(t.tenant, t.chatId, t.threadId)}</p>` +
    `<p><strong>LiveChat conversation with ${escapeHtml(title)}</strong></p>` +
    `<p>Chat ID: ${escapeHtml(clip(t.chatId, 200))}<br>Thread ID: ${escapeHtml(clip(t.threadId, 200))}<br>Closed: ${clock(t.closedUs)}` +
    `<br>Tags: ${t.tags.length === 0 ? '—' : escapeHtml(clip(t.tags.join(', '), 1_000))}<br>Rating: ${escapeHtml(clip(rating, 1_000))}</p>`;
  const cutMarker = (n: number) =>
    `<p><em>[transcript cut: ${n} more ${n === 1 ? 'entry' : 'entries'} not shown; the full transcript is in LiveChat]</em></p>`;
  // Room kept for the marker, whatever the number in it.
  const reserve = cutMarker(t.entries.length + (t.entriesNotLoaded ?? 0)).length;
  const parts: string[] = [header];
  let length = header.length;
  let shown = 0;
  for (const entry of t.entries) {
    const budget = maxChars - length - reserve;
    // An entry longer than what is left is cut inside only when it is the first one (the start matters most).
    let html = entryHtml(entry, Number.MAX_SAFE_INTEGER);
    if (html.length > budget && shown === 0)
      html = entryHtml(entry, Math.max(0, Math.floor((budget - 200) / 6)));
    if (html.length > budget) break;
    parts.push(html);
    length += html.length;
    shown += 1;
  }
  const entriesCut = t.entries.length - shown + (t.entriesNotLoaded ?? 0);
  if (entriesCut > 0) parts.push(cutMarker(entriesCut));
  const body = parts.join('');
  return {
    body,
    timestamp: new Date(Math.floor(t.closedUs / 1000)).toISOString(),
    bodySha256: createHash('sha256').update(body).digest('hex'),
    entriesCut,
  };
}

/** HubSpot's `firstname` / `lastname` from LiveChat's one name field: the first word, and the rest. */
export function splitName(name: string | null): { firstname?: string; lastname?: string } {
  const words = (name ?? '')
    .trim()
    .split(/\s+/)
    .filter((w) => w !== '');
  if (words.length === 0) return {};
  return words.length === 1
    ? { firstname: words[0]! }
    : { firstname: words[0]!, lastname: words.slice(1).join(' ') };
}
