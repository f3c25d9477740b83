/**
 * A deliberately naive reference consumer for the tests: it rebuilds each chat's facts from request bodies
 * alone (no help from the model), tolerating retries and reordering the way the pipeline must. If it agrees
 * with `ExpectedChat`, the facts are derivable from the traffic.
 */
import type { Delivery, ExpectedChat, V2WebhookBody, V3WebhookBody } from '../src/index.js';

export interface TranscriptMessage {
  readonly text: string;
  readonly authorKind: 'customer' | 'agent';
  readonly agentId: string | null;
  readonly visibility: 'all' | 'agents';
  /** RFC 3339 string (v3) or epoch seconds (v2). */
  readonly createdAt: string | number;
}

export interface Transcript {
  readonly tenant: string;
  readonly chatId: string;
  readonly startedAt: string | number;
  readonly customerEmail: string;
  readonly tags: readonly string[];
  readonly closedBy: 'agent' | 'customer' | 'system';
  readonly messages: readonly TranscriptMessage[];
}

export function transcriptFromExpected(expected: ExpectedChat, precision: 'micros' | 'seconds'): Transcript {
  return {
    tenant: precision === 'micros' ? expected.tenant.organizationId : expected.tenant.licenseId,
    chatId: expected.chatId,
    startedAt: precision === 'micros' ? expected.startedAt : expected.startedAtEpochSeconds,
    customerEmail: expected.customerEmail,
    tags: expected.tags,
    closedBy: expected.closedBy,
    messages: expected.messages.map((m) => ({
      text: m.text,
      authorKind: m.authorKind,
      agentId: m.agentId,
      visibility: m.visibility,
      createdAt: precision === 'micros' ? m.createdAt : m.createdAtEpochSeconds,
    })),
  };
}

/** The same facts with the format-specific parts (tenant id, time precision) dropped. */
export function formatNeutral(transcript: Transcript): Omit<Transcript, 'tenant'> {
  const { tenant: _tenant, ...rest } = transcript;
  return {
    ...rest,
    startedAt: toSeconds(rest.startedAt),
    messages: rest.messages.map((m) => ({ ...m, createdAt: toSeconds(m.createdAt) })),
  };
}

function toSeconds(time: string | number): number {
  return typeof time === 'number' ? time : Math.floor(Date.parse(time) / 1000);
}

export function readV3(bodies: readonly V3WebhookBody[]): Transcript[] {
  interface State {
    tenant: string;
    chatId: string;
    startedAt?: string;
    customerId?: string;
    customerEmail?: string;
    tags: Set<string>;
    closedByUserId?: string | null;
    events: Map<string, { text: string; authorId: string; visibility: 'all' | 'agents'; createdAt: string }>;
  }
  const chats = new Map<string, State>();
  const stateOf = (tenant: string, chatId: string): State => {
    const key = `${tenant}/${chatId}`;
    let state = chats.get(key);
    if (!state) {
      state = { tenant, chatId, tags: new Set(), events: new Map() };
      chats.set(key, state);
    }
    return state;
  };
  for (const body of bodies) {
    switch (body.action) {
      case 'incoming_chat': {
        const { chat } = body.payload;
        const state = stateOf(body.organization_id, chat.id);
        state.startedAt = chat.thread.created_at;
        const customer = chat.users.find((user) => user.type === 'customer');
        state.customerId = customer?.id;
        state.customerEmail = customer?.email;
        for (const tag of chat.thread.tags ?? []) state.tags.add(tag);
        for (const event of chat.thread.events) {
          if (event.type === 'message') state.events.set(event.id, messageOf(event));
        }
        break;
      }
      case 'incoming_event': {
        const { event } = body.payload;
        if (event.type === 'message')
          stateOf(body.organization_id, body.payload.chat_id).events.set(event.id, messageOf(event));
        break;
      }
      case 'thread_tagged':
        stateOf(body.organization_id, body.payload.chat_id).tags.add(body.payload.tag);
        break;
      case 'thread_untagged':
        stateOf(body.organization_id, body.payload.chat_id).tags.delete(body.payload.tag);
        break;
      case 'chat_deactivated':
        stateOf(body.organization_id, body.payload.chat_id).closedByUserId = body.payload.user_id ?? null;
        break;
    }
  }
  return [...chats.values()].map((state) => ({
    tenant: state.tenant,
    chatId: state.chatId,
    startedAt: state.startedAt ?? 'missing',
    customerEmail: state.customerEmail ?? 'missing',
    tags: [...state.tags].sort(),
    closedBy:
      state.closedByUserId === null
        ? 'system'
        : state.closedByUserId === state.customerId
          ? 'customer'
          : 'agent',
    messages: [...state.events.values()]
      // Fixed-width RFC 3339 strings sort like the times they stand for.
      .sort((a, b) => (a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : 0))
      .map((event) => ({
        text: event.text,
        authorKind: event.authorId === state.customerId ? 'customer' : 'agent',
        agentId: event.authorId === state.customerId ? null : event.authorId,
        visibility: event.visibility,
        createdAt: event.createdAt,
      })),
  }));
}

function messageOf(event: {
  text: string;
  author_id: string;
  visibility: 'all' | 'agents';
  created_at: string;
}) {
  return {
    text: event.text,
    authorId: event.author_id,
    visibility: event.visibility,
    createdAt: event.created_at,
  };
}

export function readV2(bodies: readonly V2WebhookBody[]): Transcript[] {
  interface State {
    tenant: string;
    chatId: string;
    startedAt: number;
    customerEmail: string;
    tags: readonly string[];
    ended?: Extract<V2WebhookBody, { event_type: 'chat_ended' }>;
  }
  const chats = new Map<string, State>();
  for (const body of bodies) {
    // A queued visitor is not a chat yet.
    if (body.event_type === 'visitor_queued') continue;
    const key = `${body.license_id}/${body.chat.id}`;
    const state: State = chats.get(key) ?? {
      tenant: body.license_id,
      chatId: body.chat.id,
      startedAt: body.chat.started_timestamp,
      customerEmail: body.visitor.email,
      tags: [],
    };
    // Every body carries the whole tag list; the latest to arrive wins.
    state.tags = body.chat.tags;
    if (body.event_type === 'chat_ended') state.ended = body;
    chats.set(key, state);
  }
  return [...chats.values()].map((state) => {
    const closeEvent = (state.ended?.chat.events ?? []).find((event) => event.type === 'closed');
    return {
      tenant: state.tenant,
      chatId: state.chatId,
      startedAt: state.startedAt,
      customerEmail: state.customerEmail,
      tags: [...state.tags].sort(),
      closedBy:
        closeEvent === undefined ? 'system' : closeEvent.user_type === 'visitor' ? 'customer' : 'agent',
      messages: (state.ended?.chat.messages ?? []).map((m) => ({
        text: m.text,
        authorKind: m.user_type === 'visitor' ? 'customer' : 'agent',
        agentId: m.agent_id ?? null,
        visibility: m.user_type === 'supervisor' ? 'agents' : 'all',
        createdAt: m.timestamp,
      })),
    };
  });
}

export function v3Bodies(deliveries: readonly Delivery[]): V3WebhookBody[] {
  return deliveries.flatMap((d) => (d.format === 'v3' ? [d.body] : []));
}

export function v2Bodies(deliveries: readonly Delivery[]): V2WebhookBody[] {
  return deliveries.flatMap((d) => (d.format === 'v2' ? [d.body] : []));
}

export function byChatId<T extends { chatId: string }>(items: readonly T[]): T[] {
  return [...items].sort((a, b) => (a.chatId < b.chatId ? -1 : a.chatId > b.chatId ? 1 : 0));
}
