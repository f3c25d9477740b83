/**
 * The webhooks the latency benchmark sends: whole chats from the traffic simulator (duplicated and reordered the
 * way LiveChat delivers them), v3.6 with a share of v2, over a few tenants, signed with the ingest's public local
 * secrets (what `npm start` accepts when no secret is configured). Pure: the same options give the same webhooks.
 *
 * Which ones are measured: every first delivery of a v3 `incoming_event` whose LiveChat event id appears in no
 * other webhook (not in an `incoming_chat`'s thread, not in another emission). Its effect is exactly one new row of
 * `chat_transcript` — (tenant, chat_id, event_id) with event_id = LiveChat's event id — that no earlier webhook can
 * have made visible, so "its row is there" is a precise detector of "this webhook's effect is visible". Retried
 * copies, v2 webhooks (whose entry ids the normalizer derives) and the other actions are sent as background traffic
 * at the same pace but not measured.
 */
import { createHash } from 'node:crypto';
import {
  simulateTraffic,
  simulatedTenant,
  webhookKind,
  type Delivery,
  type SimulatedTenant,
} from '@livechat-pipeline/traffic-simulator';

/** The ingest's public local secrets (services/ingest/src/local-dev-secrets.ts; scripts/main.ts prints them). */
export const LOCAL_DEV_SECRET_KEY = 'local-dev-secret';
const LOCAL_DEV_BASIC_AUTH = `Basic ${Buffer.from('livechat:local-dev-password').toString('base64')}`;

export interface MeasuredRow {
  readonly tenant: string;
  readonly chatId: string;
  /** LiveChat's event id: `chat_transcript.event_id` of the row this webhook makes. */
  readonly eventId: string;
  /**
   * The raw record's event_id as the ingest computes it for a v3 incoming_event (services/ingest/src/event-id.ts:
   * sha256 of `v3|tenant|chat_id|thread_id|event.id|incoming_event`); the chat events parsed from it carry it as
   * `raw_event_id`. Used only to find the webhook's records on the topics for the per-stage breakdown.
   */
  readonly rawEventId: string;
}

export interface Webhook {
  readonly body: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly measured?: MeasuredRow;
}

export interface Traffic {
  readonly webhooks: Webhook[];
  readonly measured: number;
  readonly byFormat: Readonly<Record<'v2' | 'v3', number>>;
}

type Json = Record<string, unknown>;
const asObject = (value: unknown): Json | undefined =>
  typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Json) : undefined;
const text = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);

export function generateTraffic(options: {
  readonly count: number;
  readonly v2Share: number;
  readonly seed: number;
}): Traffic {
  const tenants: SimulatedTenant[] = Array.from({ length: 8 }, (_, i) =>
    simulatedTenant(options.seed, `latency-tenant-${i}`),
  );
  const webhooks: Webhook[] = [];
  const byFormat = { v2: 0, v3: 0 };
  const candidates: { index: number; row: MeasuredRow }[] = [];
  /** Emissions mentioning each LiveChat event id (tenant|chat|event): measured only when one does. */
  const mentions = new Map<string, number>();
  const mention = (key: string): void => void mentions.set(key, (mentions.get(key) ?? 0) + 1);
  // Two streams of whole chats, v3 and v2, interleaved webhook by webhook so the v2 share holds at every moment
  // of the run (a round of 400 chats is thousands of webhooks: taking whole rounds would send one format at a time).
  const streams = { v3: { round: 0, queue: [] as Delivery[] }, v2: { round: 0, queue: [] as Delivery[] } };
  const nextOf = (format: 'v2' | 'v3'): Delivery => {
    const stream = streams[format];
    while (stream.queue.length === 0) {
      const round = stream.round++;
      stream.queue = simulateTraffic({
        seed: options.seed * 100_003 + round * 2 + (format === 'v2' ? 1 : 0),
        chats: 400,
        format,
        tenants,
        secretKey: LOCAL_DEV_SECRET_KEY,
      }).deliveries.reverse(); // popped from the end: in arrival order
    }
    const next = stream.queue.pop();
    if (next === undefined) throw new Error('the traffic simulator rendered no webhook');
    return next;
  };
  while (webhooks.length < options.count) {
    const format = byFormat.v2 < options.v2Share * (webhooks.length + 1) ? 'v2' : 'v3';
    const delivery = nextOf(format);
    byFormat[delivery.format] += 1;
    const body = delivery.body as unknown as Json;
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (delivery.format === 'v2') headers['authorization'] = LOCAL_DEV_BASIC_AUTH;
    webhooks.push({ body: JSON.stringify(body), headers });
    if (delivery.format !== 'v3' || delivery.duplicateOf !== undefined) continue;
    const tenant = text(body['organization_id']);
    const payload = asObject(body['payload']);
    const kind = webhookKind(delivery);
    if (tenant === undefined || payload === undefined) continue;
    if (kind === 'incoming_chat') {
      const chat = asObject(payload['chat']);
      const events = asObject(chat?.['thread'])?.['events'];
      if (Array.isArray(events))
        for (const event of events)
          mention(`${tenant}|${text(chat?.['id'])}|${text(asObject(event)?.['id'])}`);
    } else if (kind === 'incoming_event') {
      const chatId = text(payload['chat_id']);
      const threadId = text(payload['thread_id']);
      const eventId = text(asObject(payload['event'])?.['id']);
      if (chatId === undefined || threadId === undefined || eventId === undefined) continue;
      mention(`${tenant}|${chatId}|${eventId}`);
      const rawEventId = createHash('sha256')
        .update(`v3|${tenant}|${chatId}|${threadId}|${eventId}|incoming_event`)
        .digest('hex');
      candidates.push({ index: webhooks.length - 1, row: { tenant, chatId, eventId, rawEventId } });
    }
  }
  let measured = 0;
  for (const { index, row } of candidates) {
    if (mentions.get(`${row.tenant}|${row.chatId}|${row.eventId}`) !== 1) continue;
    const webhook = webhooks[index];
    if (webhook === undefined) continue;
    webhooks[index] = { ...webhook, measured: row };
    measured++;
  }
  return { webhooks, measured, byFormat };
}
