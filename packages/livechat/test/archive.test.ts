import { describe, expect, it } from 'vitest';
import { parseArchiveThread } from '../src/archive.js';
import { LiveChatParseError } from '../src/errors.js';
import { parseWebhook } from '../src/parse.js';
import type { ChatDomainEvent } from '../src/types.js';

const org = 'org-1';
const context = {
  rawEventId: 'raw-a',
  receivedAtMicros: 1_795_700_000_000_000,
  tenantHint: org,
  apiVersion: '3.6',
};
const customer = {
  id: 'b7f3c2d4-1111-4222-8333-944455556666',
  type: 'customer',
  name: 'Ann',
  email: 'ann@example.com',
};
const agent = { id: 'bo@example.com', type: 'agent', name: 'Bo', email: 'bo@example.com' };
const agent2 = { id: 'cy@example.com', type: 'agent', name: 'Cy', email: 'cy@example.com' };

function archive(thread: Record<string, unknown>, users: unknown[] = [customer, agent, agent2]) {
  return {
    id: 'C1',
    users,
    access: { group_ids: [3] },
    thread: { id: 'T1', active: false, created_at: '2026-11-25T10:00:00.000000Z', events: [], ...thread },
  };
}

const only = <T extends ChatDomainEvent['type']>(events: ChatDomainEvent[], type: T) =>
  events.filter((e): e is Extract<ChatDomainEvent, { type: T }> => e.type === type);

function codeOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    return e instanceof LiveChatParseError ? e.code : 'other';
  }
  return 'none';
}

describe('parseArchiveThread', () => {
  it('who closed: the archiving system message (agent by name in text_vars, customer, router, none)', () => {
    const closer = (events: unknown[], users?: unknown[]) =>
      only(parseArchiveThread(archive({ events }, users), context), 'thread_closed')[0]!.body.thread_closed;
    const sys = (type: string, vars?: Record<string, string>) => ({
      id: 'S1',
      type: 'system_message',
      system_message_type: type,
      created_at: '2026-11-25T10:05:00.000000Z',
      visibility: 'all',
      ...(vars ? { text_vars: vars } : {}),
    });
    expect(closer([sys('manual_archived_agent', { agent: 'Cy' })])).toEqual({
      closed_by_user_id: 'cy@example.com',
      closed_by_kind: 'agent',
    });
    // Two agents with that name: the id is not guessed.
    expect(
      closer([sys('manual_archived_agent', { agent: 'Bo' })], [customer, agent, { ...agent2, name: 'Bo' }]),
    ).toEqual({
      closed_by_user_id: null,
      closed_by_kind: 'agent',
    });
    expect(closer([sys('manual_archived_customer')])).toEqual({
      closed_by_user_id: customer.id,
      closed_by_kind: 'customer',
    });
    expect(closer([sys('routing.archived_inactive')])).toEqual({
      closed_by_user_id: null,
      closed_by_kind: 'router',
    });
    expect(closer([sys('system_archived')])).toEqual({ closed_by_user_id: null, closed_by_kind: 'router' });
    expect(closer([])).toEqual({ closed_by_user_id: null, closed_by_kind: 'unknown' });
    // The close has chat_deactivated's id.
    const webhook = parseWebhook(
      {
        action: 'chat_deactivated',
        organization_id: org,
        payload: { chat_id: 'C1', thread_id: 'T1', user_id: 'cy@example.com' },
      },
      context,
    );
    const [closed] = only(
      parseArchiveThread(archive({ events: [sys('manual_archived_agent', { agent: 'Cy' })] }), context),
      'thread_closed',
    );
    expect(closed!.event_id).toBe(webhook[0]!.event_id);
    expect(closed!.body).toEqual(webhook[0]!.body);
  });

  it('an open thread is not closed; a queue is dated by queue, or by queues_duration at created_at', () => {
    const open = parseArchiveThread(
      archive({
        active: true,
        queue: { position: 2, wait_time: 7, queued_at: '2026-11-25T10:00:00.500000Z' },
      }),
      context,
    );
    expect(only(open, 'thread_closed')).toEqual([]);
    expect(only(open, 'thread_started')[0]!.body.thread_started.queue).toEqual({
      position: 2,
      wait_time: 7,
      queued_at: Date.parse('2026-11-25T10:00:00.500Z') * 1000,
    });
    const after = only(parseArchiveThread(archive({ queues_duration: 42 }), context), 'thread_started')[0]!;
    expect(after.body.thread_started.queue).toEqual({
      position: null,
      wait_time: 42,
      queued_at: Date.parse('2026-11-25T10:00:00Z') * 1000,
    });
    expect(
      only(parseArchiveThread(archive({ queues_duration: 0 }), context), 'thread_started')[0]!.body
        .thread_started.queue,
    ).toBeNull();
  });

  it('files, rich messages, deleted events and events without an id get the ids of their webhooks', () => {
    const file = {
      id: 'F1',
      type: 'file',
      author_id: customer.id,
      created_at: '2026-11-25T10:01:00.000000Z',
      visibility: 'all',
      name: 'a.png',
      url: 'https://cdn.example/a.png',
      content_type: 'image/png',
      size: 10,
      width: 1,
      height: 1,
    };
    const rich = {
      id: 'R1',
      type: 'rich_message',
      author_id: agent.id,
      created_at: '2026-11-25T10:02:00.000000Z',
      visibility: 'all',
      template_id: 'cards',
      elements: [{ title: 'x' }],
    };
    const noId = {
      type: 'custom',
      author_id: agent.id,
      created_at: '2026-11-25T10:03:00.000000Z',
      visibility: 'agents',
      content: { a: 1 },
    };
    const deleted = {
      id: 'D1',
      type: 'message',
      created_at: '2026-11-25T10:04:00.000000Z',
      visibility: 'all',
      deleted: true,
    };
    const events = parseArchiveThread(archive({ events: [file, rich, noId, deleted] }), context);
    const webhookIds = [file, rich, noId].map(
      (event) =>
        parseWebhook(
          {
            action: 'incoming_event',
            organization_id: org,
            payload: { chat_id: 'C1', thread_id: 'T1', event },
          },
          context,
        )[0]!,
    );
    const posted = only(events, 'message_posted');
    expect(posted.map((e) => e.event_id)).toEqual(webhookIds.map((e) => e.event_id));
    for (const [i, e] of posted.entries()) expect(e.body).toEqual(webhookIds[i]!.body);
    const [gone] = only(events, 'event_deleted');
    const webhookDelete = parseWebhook(
      {
        action: 'event_deleted',
        organization_id: org,
        payload: { chat_id: 'C1', thread_id: 'T1', event_id: 'D1' },
      },
      context,
    )[0]!;
    expect(gone!.event_id).toBe(webhookDelete.event_id);
  });

  it('a restricted_access thread (beyond the plan history) still tells that the thread existed', () => {
    const events = parseArchiveThread(
      {
        id: 'C1',
        users: [customer],
        thread: {
          id: 'T1',
          active: false,
          restricted_access: 'plan',
          created_at: '2025-01-01T00:00:00.000000Z',
        },
      },
      context,
    );
    expect(events.map((e) => e.type)).toEqual([
      'thread_started',
      'participant_added',
      'customer_identified',
      'thread_closed',
    ]);
  });

  it('refuses what is not a thread, without a tenant, or over a limit, with typed errors', () => {
    expect(codeOf(() => parseArchiveThread([], context))).toBe('LIVECHAT_NOT_AN_OBJECT');
    expect(codeOf(() => parseArchiveThread({ id: 'C1' }, context))).toBe('LIVECHAT_ARCHIVE_NOT_A_THREAD');
    expect(codeOf(() => parseArchiveThread({ id: 'C1', thread: { events: [] } }, context))).toBe(
      'LIVECHAT_ARCHIVE_NOT_A_THREAD',
    );
    expect(codeOf(() => parseArchiveThread(archive({}), { ...context, tenantHint: null }))).toBe(
      'LIVECHAT_TENANT_UNKNOWN',
    );
    const many = archive({
      events: Array.from({ length: 20 }, (_, i) => ({ id: `E${i}`, type: 'message', text: 'x' })),
    });
    expect(codeOf(() => parseArchiveThread(many, { ...context, limits: { maxEvents: 10 } }))).toBe(
      'LIVECHAT_TOO_MANY_EVENTS',
    );
    expect(codeOf(() => parseArchiveThread(archive({}), { ...context, limits: { maxUsers: 2 } }))).toBe(
      'LIVECHAT_TOO_MANY_USERS',
    );
    let deep: unknown = 1;
    for (let i = 0; i < 200; i++) deep = [deep];
    expect(codeOf(() => parseArchiveThread({ ...archive({}), properties: deep }, context))).toBe(
      'LIVECHAT_TOO_DEEP',
    );
  });
});
