import { createHash } from 'node:crypto';
import type { RawWebhook } from '@livechat-pipeline/events';
import { readEnvelope } from '@livechat-pipeline/livechat';
import {
  simulateTraffic,
  simulatedTenant,
  webhookKind,
  type Delivery,
  type SimulatedTenant,
} from '@livechat-pipeline/traffic-simulator';

/** A raw-topic record as the ingest would write it: Kafka key + Avro value. */
export interface KeyedRawWebhook {
  readonly key: string;
  readonly value: RawWebhook;
}

export interface RawWebhookMix {
  readonly count: number;
  /** Share of webhooks rendered as v2 (the rest is v3.6). */
  readonly v2Share: number;
  readonly seed: number;
  /** Chats per simulated round; each round is one simulateTraffic call with its own seed. */
  readonly chatsPerRound?: number;
  readonly tenants?: number;
}

export interface RawWebhookSet {
  readonly records: KeyedRawWebhook[];
  readonly chats: number;
  readonly byFormat: Readonly<Record<'v2' | 'v3', number>>;
  readonly byKind: ReadonlyMap<string, number>;
  readonly duplicates: number;
  readonly bodyBytes: number;
}

const REDACTED = '[redacted]';

/**
 * Realistic raw webhooks: whole chats from the traffic simulator (duplicated and reordered the way
 * LiveChat delivers them), v3.6 with a share of v2, over a few tenants, until `count` is reached.
 * Pure: the same options give the same records.
 */
export function generateRawWebhooks(mix: RawWebhookMix): RawWebhookSet {
  const chatsPerRound = mix.chatsPerRound ?? 400;
  const tenants: SimulatedTenant[] = Array.from({ length: mix.tenants ?? 8 }, (_, i) =>
    simulatedTenant(mix.seed, `bench-tenant-${i}`),
  );
  const records: KeyedRawWebhook[] = [];
  const byFormat = { v2: 0, v3: 0 };
  const byKind = new Map<string, number>();
  let chats = 0;
  let duplicates = 0;
  let bodyBytes = 0;
  for (let round = 0; records.length < mix.count; round++) {
    // Keep the v2 share of *webhooks* near the target: render v2 whenever it is behind.
    const format = byFormat.v2 < mix.v2Share * (records.length + 1) ? 'v2' : 'v3';
    const traffic = simulateTraffic({
      seed: mix.seed * 100_003 + round,
      chats: chatsPerRound,
      format,
      tenants,
    });
    chats += traffic.chats.length;
    for (const delivery of traffic.deliveries) {
      if (records.length >= mix.count) break;
      const record = rawRecordOf(delivery);
      records.push(record);
      byFormat[delivery.format] += 1;
      const kind = `${delivery.format}:${webhookKind(delivery)}`;
      byKind.set(kind, (byKind.get(kind) ?? 0) + 1);
      if (delivery.duplicateOf !== undefined) duplicates += 1;
      bodyBytes += record.value.body.length;
    }
  }
  return { records, chats, byFormat, byKind, duplicates, bodyBytes };
}

type Json = Record<string, unknown>;

/**
 * The ingest's envelope of one delivery (services/ingest raw-record.ts, whose internals services do not export):
 * secret redacted, the tenant, chat, thread and webhook ids and the api_version hint as livechat's `readEnvelope`
 * reads them (the reading the ingest uses), key `<tenant>|<chat_id>`, a deterministic event id (redeliveries
 * share it; the bench's own, a hash of the body), no request facts.
 */
export function rawRecordOf(delivery: Delivery): KeyedRawWebhook {
  const body = { ...(delivery.body as unknown as Json) };
  if (Object.hasOwn(body, 'secret_key')) body['secret_key'] = REDACTED;
  if (Object.hasOwn(body, 'token')) body['token'] = REDACTED;
  const text = JSON.stringify(body);
  const { action, tenant, chatId, threadId, webhookId, apiVersionHint: apiVersion } = readEnvelope(body);
  const eventId = createHash('sha256').update(`body|${text}`).digest('hex');
  return {
    key: `${tenant ?? ''}|${chatId ?? eventId}`,
    value: {
      event_id: eventId,
      // Received a little after LiveChat sent it; a retry a second per attempt later.
      received_at: delivery.emittedAt + 150_000 + (delivery.attempt - 1) * 1_000_000,
      format: delivery.format,
      api_version: apiVersion,
      action,
      tenant,
      tenant_source: tenant === null ? 'none' : 'body',
      chat_id: chatId,
      thread_id: threadId,
      webhook_id: webhookId,
      body: text,
      content_length: null,
      user_agent: null,
      remote_address: null,
    },
  };
}
