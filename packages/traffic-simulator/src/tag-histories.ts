import { mulberry32 } from './prng.js';

/**
 * Tag histories of one thread, for the archive tag merge rule (transcripts, analytics, crm-sync): tags change
 * (tag / untag at times t_i); each change's webhook is received at t_i + 1 or lost, and a repeated change (the same
 * tag tagged twice) has the same event id, so only its first copy applies; archive reads at T_j see the tags as of
 * T_j. `tagHistoryDeliveries` gives one arrival order: the webhooks in their receipt order (one partition), the
 * reads anywhere among them, some deliveries twice. `expectedTagsOf` is the rule: per tag the latest fact wins —
 * the newest delivered read unless a change was received after it, then the later of tag and untag (an untag at the
 * same microsecond wins); without a read, tagged and never untagged.
 */

const TAG_HISTORY_TAGS = ['a', 'b'] as const;
const START = 1_795_600_000_000_000;

export interface TagChange {
  /** LiveChat's time of the change, epoch µs; its webhook is received 1 µs later. */
  readonly at: number;
  readonly action: 'thread_tagged' | 'thread_untagged';
  readonly tag: string;
  readonly delivered: boolean;
}

export interface TagRead {
  /** When the archive was read, epoch µs (the record's `archive.read_at`). */
  readonly at: number;
  /** The thread's tags as of the read. */
  readonly tags: readonly string[];
  readonly delivered: boolean;
}

export interface TagHistory {
  readonly changes: readonly TagChange[];
  readonly reads: readonly TagRead[];
  /** The thread's tags after the last change. */
  readonly final: readonly string[];
}

export type TagDelivery =
  | { readonly kind: 'webhook'; readonly body: Record<string, unknown>; readonly receivedAt: number }
  | { readonly kind: 'archive'; readonly chat: Record<string, unknown>; readonly readAt: number };

/** `count` seeded histories of 2–7 changes over two tags, with reads between them and maybe after the last. */
export function generateTagHistories(seed: number, count: number): TagHistory[] {
  const random = mulberry32(seed);
  return Array.from({ length: count }, () => {
    const state = new Set<string>();
    const changes: TagChange[] = [];
    const reads: TagRead[] = [];
    let at = START + 1_000;
    const n = 2 + Math.floor(random() * 6);
    for (let i = 0; i < n; i++) {
      if (random() < 0.35) reads.push({ at: at + 5, tags: [...state].sort(), delivered: random() < 0.8 });
      at += 10;
      const tag = TAG_HISTORY_TAGS[Math.floor(random() * TAG_HISTORY_TAGS.length)]!;
      const action = state.has(tag) ? 'thread_untagged' : 'thread_tagged';
      if (action === 'thread_tagged') state.add(tag);
      else state.delete(tag);
      changes.push({ at, action, tag, delivered: random() < 0.7 });
    }
    if (random() < 0.5) reads.push({ at: at + 5, tags: [...state].sort(), delivered: random() < 0.8 });
    return { changes, reads, final: [...state].sort() };
  });
}

/**
 * One arrival order of a history as thread `threadId` of chat `chatId`: the chat's start (a customer with an
 * e-mail, no tags), the delivered webhooks in receipt order, the delivered reads placed by `seed` (none when `seed`
 * is null: after the webhooks, in read order), some deliveries repeated later, and the close (received last).
 */
export function tagHistoryDeliveries(
  history: TagHistory,
  tenant: string,
  chatId: string,
  seed: number | null,
): TagDelivery[] {
  const threadId = `T-${chatId}`;
  const customer = { id: `c-${chatId}`, type: 'customer', name: 'Ada', email: `${chatId}@example.com` };
  const createdAt = new Date(START / 1000).toISOString();
  const webhook = (action: string, payload: unknown, receivedAt: number): TagDelivery => ({
    kind: 'webhook',
    receivedAt,
    body: {
      webhook_id: 'wh',
      secret_key: 'fixture-secret',
      action,
      organization_id: tenant,
      payload,
      additional_data: {},
    },
  });
  const start = webhook(
    'incoming_chat',
    {
      chat: {
        id: chatId,
        users: [customer],
        thread: { id: threadId, created_at: createdAt, events: [], tags: [] },
      },
    },
    START,
  );
  const webhooks = history.changes
    .filter((c) => c.delivered)
    .map((c) => webhook(c.action, { chat_id: chatId, thread_id: threadId, tag: c.tag }, c.at + 1));
  const reads: TagDelivery[] = history.reads
    .filter((r) => r.delivered)
    .map((r) => ({
      kind: 'archive',
      readAt: r.at,
      chat: {
        id: chatId,
        users: [customer],
        thread: { id: threadId, active: true, created_at: createdAt, tags: [...r.tags], events: [] },
      },
    }));
  const last = Math.max(START, ...history.changes.map((c) => c.at), ...history.reads.map((r) => r.at));
  const close = webhook('chat_deactivated', { chat_id: chatId, thread_id: threadId }, last + 100);
  if (seed === null) return [start, ...webhooks, ...reads, close];
  const random = mulberry32(seed);
  const sequence = [start, ...webhooks];
  for (const read of reads) sequence.splice(Math.floor(random() * (sequence.length + 1)), 0, read);
  for (const delivery of [...webhooks, ...reads]) {
    if (random() < 0.3) {
      const at = Math.floor(random() * (sequence.length + 1));
      sequence.splice(Math.max(at, sequence.indexOf(delivery) + 1), 0, delivery);
    }
  }
  return [...sequence, close];
}

/** The effective tags the merge rule gives for the delivered facts of a history (see the module comment). */
export function expectedTagsOf(history: TagHistory): string[] {
  const applied = new Map<string, number>();
  for (const c of history.changes) {
    const id = `${c.action}/${c.tag}`;
    if (c.delivered && !applied.has(id)) applied.set(id, c.at + 1);
  }
  const newest = newestRead(history);
  return TAG_HISTORY_TAGS.filter((tag) => {
    const tagged = applied.get(`thread_tagged/${tag}`);
    const untagged = applied.get(`thread_untagged/${tag}`);
    if (newest === undefined) return tagged !== undefined && untagged === undefined;
    const lastTag = tagged !== undefined && tagged > newest.at ? tagged : undefined;
    const lastUntag = untagged !== undefined && untagged > newest.at ? untagged : undefined;
    if (lastTag === undefined && lastUntag === undefined) return newest.tags.includes(tag);
    return lastTag !== undefined && (lastUntag === undefined || lastTag > lastUntag);
  });
}

/** The newest delivered read of a history. */
function newestRead(history: TagHistory): TagRead | undefined {
  return history.reads.filter((r) => r.delivered).sort((x, y) => y.at - x.at)[0];
}

/**
 * Whether the rule must give the history's final tags: the newest delivered read follows the last change, or every
 * change after it was delivered and no change repeats another (same action, same tag: same id, one applies).
 */
export function finalTagsKnowable(history: TagHistory): 'read-after-last' | 'changes-after-read' | null {
  const newest = newestRead(history);
  if (newest === undefined) return null;
  if (newest.at > history.changes.at(-1)!.at) return 'read-after-last';
  const ids = history.changes.map((c) => `${c.action}/${c.tag}`);
  const after = history.changes.filter((c) => c.at > newest.at);
  return after.every((c) => c.delivered) && new Set(ids).size === ids.length ? 'changes-after-read' : null;
}
