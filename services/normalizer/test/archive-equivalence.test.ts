import { describe, expect, it } from 'vitest';
import { buildArchiveRawWebhooks } from '@livechat-pipeline/events';
import type { RawWebhook } from '@livechat-pipeline/events';
import type { ChatDomainEvent } from '@livechat-pipeline/livechat';
import { generateChats, renderArchive, renderV3 } from '@livechat-pipeline/traffic-simulator';
import { normalizeRawWebhook } from '../src/normalize-record.js';
import { NormalizerError } from '../src/errors.js';

// The proof, pure: every thread of a generated corpus, rendered as its v3 webhooks and as its archive row, maps to
// the same events with the same ids. An archive cannot carry a thread's history of actions without ids (tag/untag,
// property updates/deletions, transfers): only those webhook events are missing from it, their result is in the
// archive's thread_started (tags, properties) instead.

const SEED = 20261129;
const chats = generateChats({ seed: SEED, chats: 400, reportFacts: true });
const WEBHOOK_ONLY_TYPES = new Set([
  'thread_tagged',
  'thread_untagged',
  'properties_changed',
  'chat_transferred',
  'participant_added',
]);

function webhookRaw(body: unknown, tenant: string, n: number): RawWebhook {
  return {
    event_id: `raw-${n}`,
    received_at: 1_795_600_000_000_000 + n,
    format: 'v3',
    api_version: '3.6+',
    action: 'x',
    tenant,
    tenant_source: 'body',
    chat_id: null,
    thread_id: null,
    webhook_id: null,
    body: JSON.stringify(body),
    content_length: null,
    user_agent: null,
    remote_address: null,
  };
}

/** Events by thread, first copy per id (consumers dedup on event_id). */
function byThread(events: readonly ChatDomainEvent[]): Map<string, Map<string, ChatDomainEvent>> {
  const out = new Map<string, Map<string, ChatDomainEvent>>();
  for (const e of events) {
    const key = `${e.tenant}/${e.chat_id}/${e.thread_id}`;
    const thread = out.get(key) ?? new Map<string, ChatDomainEvent>();
    if (!thread.has(e.event_id)) thread.set(e.event_id, e);
    out.set(key, thread);
  }
  return out;
}

/** What a fact says, without the facts of its delivery (raw id, receipt, api version hint). */
function content(e: ChatDomainEvent) {
  const { raw_event_id: _r, received_at: _t, api_version: _a, ...rest } = e;
  return rest;
}

const archivingTimes = new Map(
  chats.map((c) => [`${c.tenant.organizationId}/${c.chatId}/${c.threadId}`, c.closedAt]),
);
const webhookEvents = byThread(
  renderV3(chats).flatMap((w, n) => normalizeRawWebhook(webhookRaw(w.body, w.tenant.organizationId, n))),
);
const archiveRows = renderArchive(chats);
const archiveEvents = byThread(
  archiveRows.flatMap((row) =>
    buildArchiveRawWebhooks({
      tenant: row.tenant.organizationId,
      chat: row.row,
      source: { method: 'list_archives', pageNumber: 1, readAtMicros: 1_795_700_000_000_000 },
    }).flatMap((raw) => normalizeRawWebhook(raw)),
  ),
);

describe('archive ≡ webhooks over the simulator corpus (seed 20261129, 400 chats with report facts)', () => {
  it('covers every thread, with all the kinds of facts', () => {
    expect(archiveEvents.size).toBe(chats.length);
    expect(webhookEvents.size).toBe(chats.length);
    const types = new Set([...archiveEvents.values()].flatMap((t) => [...t.values()].map((e) => e.type)));
    expect([...types].sort()).toEqual([
      'customer_identified',
      'message_posted',
      'participant_added',
      'tags_snapshot',
      'thread_closed',
      'thread_started',
    ]);
    expect(chats.some((c) => c.supervisor !== null && c.report?.rating?.canceledAt != null)).toBe(true);
  });

  it('every thread: the archive ids are the webhook ids, less only the actions an archive has no record of', () => {
    for (const [thread, webhook] of webhookEvents) {
      const archive = archiveEvents.get(thread);
      expect(archive, thread).toBeDefined();
      const archiveIds = new Set(archive!.keys());
      // The facts only an archive gives: the tags as of its read (a v3 tags_snapshot), which consumers let
      // supersede the tag changes received before it, and each user of the chat as a participant.
      const missingInWebhooks = [...archive!.values()].filter((e) => !webhook.has(e.event_id));
      const started = [...archive!.values()].find((e) => e.type === 'thread_started');
      const users = started?.type === 'thread_started' ? started.body.thread_started.users : [];
      expect(missingInWebhooks.map((e) => e.type).sort(), thread).toEqual(
        ['tags_snapshot', ...users.map(() => 'participant_added')].sort(),
      );
      const onlyInWebhooks = [...webhook.values()].filter((e) => !archiveIds.has(e.event_id));
      expect(
        onlyInWebhooks.filter((e) => !WEBHOOK_ONLY_TYPES.has(e.type)).map((e) => e.type),
        thread,
      ).toEqual([]);
    }
  });

  it('every message, form, system message, customer and close says the same from both', () => {
    let compared = 0;
    for (const [thread, archive] of archiveEvents) {
      const webhook = webhookEvents.get(thread)!;
      for (const event of archive.values()) {
        if (['thread_started', 'tags_snapshot', 'participant_added'].includes(event.type)) continue;
        const twin = content(webhook.get(event.event_id)!);
        if (event.type === 'thread_closed') {
          // chat_deactivated has no time (dated by its receipt); the archive's close is dated by its archiving message.
          expect(event.occurred_at, thread).toBe(archivingTimes.get(thread));
          expect({ ...content(event), occurred_at: null }, thread).toEqual(twin);
        } else expect(content(event), `${thread} ${event.type}`).toEqual(twin);
        compared++;
      }
    }
    expect(compared).toBeGreaterThan(4000);
  });

  it('thread_started: the same start, groups, previous thread and queue time; the state as of the read', () => {
    for (const chat of chats) {
      const key = `${chat.tenant.organizationId}/${chat.chatId}/${chat.threadId}`;
      const [archive] = [...archiveEvents.get(key)!.values()].filter((e) => e.type === 'thread_started');
      const [webhook] = [...webhookEvents.get(key)!.values()].filter((e) => e.type === 'thread_started');
      expect(archive!.event_id).toBe(webhook!.event_id);
      const a = archive as ChatDomainEvent & { type: 'thread_started' };
      const w = webhook as ChatDomainEvent & { type: 'thread_started' };
      expect(a.occurred_at).toBe(w.occurred_at);
      const ab = a.body.thread_started;
      const wb = w.body.thread_started;
      expect(ab.group_ids).toEqual(wb.group_ids);
      expect(ab.previous_thread_id).toBe(wb.previous_thread_id);
      expect(ab.chat_properties_json).toBe(wb.chat_properties_json);
      expect(ab.queue?.queued_at ?? null).toBe(wb.queue?.queued_at ?? null);
      expect(ab.active).toBe(false);
      expect(ab.users.slice(0, 2)).toEqual(wb.users);
    }
  });

  it('a thread split over several records maps to the same events as the whole', () => {
    const row = archiveRows.reduce((a, b) =>
      b.row.thread.events.length > a.row.thread.events.length ? b : a,
    );
    const read = (maxEventsPerPart?: number) =>
      buildArchiveRawWebhooks(
        { tenant: row.tenant.organizationId, chat: row.row, source: { method: 'get_chat', readAtMicros: 1 } },
        maxEventsPerPart === undefined ? {} : { maxEventsPerPart },
      );
    const parts = read(3);
    expect(parts.length).toBeGreaterThan(2);
    const ids = (raws: RawWebhook[]) =>
      [...new Set(raws.flatMap((r) => normalizeRawWebhook(r).map((e) => e.event_id)))].sort();
    expect(ids(parts)).toEqual(ids(read()));
  });

  it('a thread split over several records: the same bodies as the whole, closed once with the whole thread closer and time', () => {
    // Every thread of the corpus split every 2 events (the reviewer's case: the archiving message alone in a part,
    // or not in the first part), its parts read in either order: each event id gets the same body as from the
    // whole thread, and the close comes from one part only, with the archiving message's closer and time.
    const strip = (e: ChatDomainEvent) => ({ ...e, raw_event_id: '' });
    let closes = 0;
    for (const { row, tenant } of archiveRows) {
      const read = (maxEventsPerPart?: number) =>
        buildArchiveRawWebhooks(
          { tenant: tenant.organizationId, chat: row, source: { method: 'get_chat', readAtMicros: 7 } },
          maxEventsPerPart === undefined ? {} : { maxEventsPerPart },
        );
      const whole = new Map(
        read()
          .flatMap((r) => normalizeRawWebhook(r))
          .map((e) => [e.event_id, strip(e)]),
      );
      const parts = read(2);
      if (parts.length < 2) continue;
      for (const order of [parts, [...parts].reverse()]) {
        const first = new Map<string, ReturnType<typeof strip>>();
        for (const event of order.flatMap((r) => normalizeRawWebhook(r))) {
          if (!first.has(event.event_id)) first.set(event.event_id, strip(event));
        }
        expect(first).toEqual(whole);
      }
      const closed = parts.flatMap((r) => normalizeRawWebhook(r)).filter((e) => e.type === 'thread_closed');
      expect(closed).toHaveLength(1);
      expect(closed[0]!.occurred_at).not.toBeNull();
      closes += 1;
    }
    expect(closes).toBeGreaterThan(300);
  });

  it('dead-letters an archive record that is not a chat with a thread as NORMALIZER_ARCHIVE_INVALID', () => {
    const [good] = buildArchiveRawWebhooks({
      tenant: 'org-1',
      chat: { id: 'C1', thread: { id: 'T1', active: true } },
      source: { method: 'get_chat', readAtMicros: 1 },
    });
    const code = (raw: RawWebhook) => {
      try {
        normalizeRawWebhook(raw);
      } catch (e) {
        return e instanceof NormalizerError ? e.code : 'other';
      }
      return 'none';
    };
    expect(code(good!)).toBe('none');
    expect(code({ ...good!, body: '{"id":"C1","thread":{"active":true}}' })).toBe(
      'NORMALIZER_ARCHIVE_INVALID',
    );
    expect(code({ ...good!, body: '[1]' })).toBe('NORMALIZER_ARCHIVE_INVALID');
    expect(code({ ...good!, tenant: null })).toBe('NORMALIZER_ARCHIVE_INVALID');
    expect(code({ ...good!, body: 'nope' })).toBe('NORMALIZER_BODY_NOT_JSON');
  });
});
