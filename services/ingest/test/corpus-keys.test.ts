import { describe, expect, it } from 'vitest';
import { parseWebhook } from '@livechat-pipeline/livechat';
import {
  simulateTraffic,
  simulatedTenant,
  webhookKind,
  type Delivery,
} from '@livechat-pipeline/traffic-simulator';
import { buildRawRecord } from '../src/raw-record.js';
import { redactBody } from '../src/redact.js';
import { resolveTenant } from '../src/tenant.js';
import { classifyWebhook } from '../src/webhook.js';

/**
 * The traffic simulator's whole corpus — every kind of webhook it renders, v3.6 and v2, over several tenants, with
 * LiveChat's retries and reordering — through the ingest's record building and the parser: the raw record's
 * Kafka key (`<tenant>|<chat_id>`, what the ingest computes) and the key of each chat event
 * (`<tenant>|<chat_id>` of the parser's events, what the normalizer keys them by) name the same chat, the one
 * the simulator rendered the webhook for. Both read the envelope through livechat's `readEnvelope`, so they
 * cannot drift apart again.
 */

const SEEDS = [11, 12, 13];
const CHATS = 40;

function simulated(format: 'v2' | 'v3'): Delivery[] {
  return SEEDS.flatMap((seed) => {
    const tenants = [
      simulatedTenant(seed, 'corpus-a'),
      simulatedTenant(seed, 'corpus-b'),
      simulatedTenant(seed, 'corpus-c'),
    ];
    return simulateTraffic({ seed, chats: CHATS, format, tenants, duplicateRate: 0.2, reorderRate: 0.2 })
      .deliveries;
  });
}

/** The path label LiveChat posts to: the tenant's own id for its format (the body names it too). */
function pathLabel(delivery: Delivery): string {
  return delivery.format === 'v3' ? delivery.tenant.organizationId : delivery.tenant.licenseId;
}

describe.each(['v3', 'v2'] as const)('the simulator corpus, %s', (format) => {
  it('keys every raw record and every chat event of a webhook by the same chat', () => {
    const deliveries = simulated(format);
    const kinds = new Set<string>();
    let chatEvents = 0;
    for (const delivery of deliveries) {
      // As the route does: classify, one tenant per delivery, redact, build the record.
      const webhook = classifyWebhook(structuredClone(delivery.body));
      const tenant = resolveTenant(webhook.bodyTenant, pathLabel(delivery));
      const record = buildRawRecord({
        webhook,
        redactedBody: redactBody(webhook.body),
        tenant,
        receivedAtMicros: delivery.emittedAt,
        request: { contentLength: null, userAgent: null, remoteAddress: null },
      });
      const what = `${format} ${webhookKind(delivery)} of chat ${delivery.chatId}`;
      expect(record.key, what).toBe(`${pathLabel(delivery)}|${delivery.chatId}`);

      // As the normalizer does: parse the stored body with the record's facts, key each chat event.
      const events = parseWebhook(JSON.parse(record.value.body), {
        rawEventId: record.value.event_id,
        receivedAtMicros: record.value.received_at,
        tenantHint: record.value.tenant,
        apiVersion: record.value.api_version,
      });
      for (const event of events) {
        if (event.chat_id === null) continue;
        expect(`${event.tenant}|${event.chat_id}`, `${what}: ${event.type}`).toBe(record.key);
        chatEvents += 1;
      }
      kinds.add(webhookKind(delivery));
    }
    // Not vacuous: many webhooks of every kind the simulator renders, and their events name chats.
    expect(deliveries.length).toBeGreaterThan(SEEDS.length * CHATS * 4);
    expect(chatEvents).toBeGreaterThan(deliveries.length);
    expect([...kinds].sort()).toEqual(format === 'v3' ? V3_KINDS : V2_KINDS);
  });
});

/** Every webhook kind the simulator renders (render-v3.ts, render-v2.ts). */
const V3_KINDS = [
  'chat_deactivated',
  'incoming_chat',
  'incoming_event',
  'thread_tagged',
  'thread_untagged',
  'user_added_to_chat',
];
const V2_KINDS = ['chat_changed', 'chat_ended', 'chat_started'];
