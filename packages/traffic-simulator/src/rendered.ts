import type { SimulatedTenant } from './model.js';
import type { EpochMicros } from './time.js';
import type { V2WebhookBody } from './v2-body.js';
import type { V3WebhookBody } from './v3-body.js';

export type WebhookFormat = 'v2' | 'v3';

/** One webhook as LiveChat emits it, before the network duplicates or reorders it. */
export type RenderedWebhook =
  | (RenderedWebhookCommon & { readonly format: 'v3'; readonly body: V3WebhookBody })
  | (RenderedWebhookCommon & { readonly format: 'v2'; readonly body: V2WebhookBody });

interface RenderedWebhookCommon {
  readonly chatId: string;
  readonly tenant: SimulatedTenant;
  /** When LiveChat sent it; renderers return webhooks sorted by this. */
  readonly emittedAt: EpochMicros;
  /**
   * Webhooks sharing a key carry no time of their own and together decide some state: a v2 tag-list
   * snapshot; a v3 `thread_tagged`/`thread_untagged` of one tag, and the `incoming_chat` that brought the
   * tag along. Delivered out of order they would leave the final state undecidable, so the delivery
   * schedule never lets one overtake another with a common key. Empty: free to reorder.
   */
  readonly orderKeys: readonly string[];
}

/** The discriminator of a body: `action` (v3) or `event_type` (v2). */
export function webhookKind(webhook: RenderedWebhook): string {
  return webhook.format === 'v3' ? webhook.body.action : webhook.body.event_type;
}

/** Interleaves per-chat webhooks by emission time; ties keep chat order, then per-chat order. */
export function byEmission(webhooks: RenderedWebhook[]): RenderedWebhook[] {
  return webhooks
    .map((webhook, index) => ({ webhook, index }))
    .sort((a, b) => a.webhook.emittedAt - b.webhook.emittedAt || a.index - b.index)
    .map(({ webhook }) => webhook);
}
