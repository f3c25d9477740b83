import { Random } from './prng.js';
import { webhookKind, type RenderedWebhook } from './rendered.js';

export interface DeliveryOptions {
  /** Seeds the network's behaviour, independently of the chats' content. */
  readonly seed: number;
  /** Share of webhooks delivered more than once (a lost HTTP 200 makes LiveChat retry). Default 0.1. */
  readonly duplicateRate?: number;
  /** Most extra deliveries of one webhook; v3 retries up to 3 times (SPEC.md §3.8). Default 3. */
  readonly maxRetries?: number;
  /** Share of deliveries that arrive late, overtaken by later ones. Default 0.1. */
  readonly reorderRate?: number;
  /** How many later deliveries a late one can be overtaken by. 0 turns reordering off. Default 3. */
  readonly reorderWindow?: number;
}

interface DeliveryFacts {
  /** `action` (v3) or `event_type` (v2). */
  readonly kind: string;
  /** Position of the webhook in emission order; equal for every copy of one webhook. */
  readonly emissionIndex: number;
  /** 1 for the first copy to arrive, 2 for the next, ... */
  readonly attempt: number;
  /** Index, in the same delivery list, of the first copy of this webhook; absent on the first copy. */
  readonly duplicateOf?: number;
}

/** One HTTP request body as it reaches the ingest service. Every copy owns its body (safe to mutate). */
export type Delivery = RenderedWebhook & DeliveryFacts;

export const DEFAULT_DUPLICATE_RATE = 0.1;
export const DEFAULT_REORDER_RATE = 0.1;
export const DEFAULT_REORDER_WINDOW = 3;

/**
 * Turns webhooks in emission order into the deliveries a receiver sees: some retried (the very same body
 * again, shortly after), some overtaken by up to `reorderWindow` later ones. Deliveries that share an
 * `orderKey` keep their relative order (see RenderedWebhook.orderKey).
 */
export function scheduleDeliveries(webhooks: readonly RenderedWebhook[], options: DeliveryOptions): Delivery[] {
  const duplicateRate = probability('duplicateRate', options.duplicateRate ?? DEFAULT_DUPLICATE_RATE);
  const reorderRate = probability('reorderRate', options.reorderRate ?? DEFAULT_REORDER_RATE);
  const reorderWindow = nonNegativeInteger('reorderWindow', options.reorderWindow ?? DEFAULT_REORDER_WINDOW);
  const maxRetries = nonNegativeInteger('maxRetries', options.maxRetries ?? 3);
  const duplicates = Random.derive(options.seed, 'duplicates');
  const delays = Random.derive(options.seed, 'reordering');

  // 1. Retries: the copies follow their original.
  const copies: { webhook: RenderedWebhook; emissionIndex: number }[] = [];
  webhooks.forEach((webhook, emissionIndex) => {
    copies.push({ webhook, emissionIndex });
    if (maxRetries > 0 && duplicates.chance(duplicateRate)) {
      // Most retried webhooks are retried once; a few need every attempt.
      let extra = 1;
      while (extra < maxRetries && duplicates.chance(0.35)) extra++;
      for (let i = 0; i < extra; i++) copies.push({ webhook, emissionIndex });
    }
  });

  // 2. Late arrivals: a late copy slips behind the next 1..reorderWindow copies.
  const order = copies
    .map((copy, position) => {
      const late = reorderWindow > 0 && delays.chance(reorderRate);
      return { copy, position, sortKey: late ? position + delays.int(1, reorderWindow) + 0.5 : position };
    })
    .sort((a, b) => a.sortKey - b.sortKey || a.position - b.position);

  // 3. Copies that must not overtake each other get their slots back in their original order.
  const slotsByOrderKey = new Map<string, number[]>();
  order.forEach(({ copy }, slot) => {
    const key = copy.webhook.orderKey;
    if (key === null) return;
    const slots = slotsByOrderKey.get(key) ?? [];
    slots.push(slot);
    slotsByOrderKey.set(key, slots);
  });
  for (const slots of slotsByOrderKey.values()) {
    const members = slots.map((slot) => order[slot]).filter((entry) => entry !== undefined);
    members.sort((a, b) => a.position - b.position);
    slots.forEach((slot, i) => {
      const member = members[i];
      if (member) order[slot] = member;
    });
  }

  // 4. Number the attempts as the receiver sees them.
  const firstIndexByEmission = new Map<number, number>();
  const attemptsByEmission = new Map<number, number>();
  return order.map(({ copy }, index): Delivery => {
    const attempt = (attemptsByEmission.get(copy.emissionIndex) ?? 0) + 1;
    attemptsByEmission.set(copy.emissionIndex, attempt);
    const firstIndex = firstIndexByEmission.get(copy.emissionIndex);
    if (firstIndex === undefined) firstIndexByEmission.set(copy.emissionIndex, index);
    const facts = {
      kind: webhookKind(copy.webhook),
      emissionIndex: copy.emissionIndex,
      attempt,
      ...(firstIndex === undefined ? {} : { duplicateOf: firstIndex }),
    };
    // A receiver that redacts or normalises a body in place must not alter the other copies.
    return copy.webhook.format === 'v3'
      ? { ...copy.webhook, body: structuredClone(copy.webhook.body), ...facts }
      : { ...copy.webhook, body: structuredClone(copy.webhook.body), ...facts };
  });
}

function probability(name: string, value: number): number {
  if (!(value >= 0 && value <= 1)) throw new RangeError(`${name} must be within [0, 1], got ${value}`);
  return value;
}

function nonNegativeInteger(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 0) throw new RangeError(`${name} must be a non-negative integer, got ${value}`);
  return value;
}
