import { invalidOption } from './errors.js';
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
 * order key keep their relative order (see RenderedWebhook.orderKeys).
 */
export function scheduleDeliveries(
  webhooks: readonly RenderedWebhook[],
  options: DeliveryOptions,
): Delivery[] {
  const duplicateRate = probability('duplicateRate', options.duplicateRate ?? DEFAULT_DUPLICATE_RATE);
  const reorderRate = probability('reorderRate', options.reorderRate ?? DEFAULT_REORDER_RATE);
  const reorderWindow = nonNegativeInteger('reorderWindow', options.reorderWindow ?? DEFAULT_REORDER_WINDOW);
  const maxRetries = nonNegativeInteger('maxRetries', options.maxRetries ?? 3);
  const duplicates = Random.derive(options.seed, 'duplicates');
  const delays = Random.derive(options.seed, 'reordering');

  // 1. Retries: the copies follow their original.
  const copies: Copy[] = [];
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
  const wanted = copies
    .map((copy, position) => {
      const late = reorderWindow > 0 && delays.chance(reorderRate);
      return { copy, position, sortKey: late ? position + delays.int(1, reorderWindow) + 0.5 : position };
    })
    .sort((a, b) => a.sortKey - b.sortKey || a.position - b.position);

  // 3. A copy may not overtake an earlier copy it shares an order key with: it waits until that one is out.
  const order = keepKeyedOrder(wanted);

  // 4. Number the attempts as the receiver sees them.
  const firstIndexByEmission = new Map<number, number>();
  const attemptsByEmission = new Map<number, number>();
  return order.map((copy, index): Delivery => {
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

interface Copy {
  readonly webhook: RenderedWebhook;
  readonly emissionIndex: number;
}

/**
 * Walks `wanted` (positions in the unshuffled list), holding back any copy whose earlier key-mates are not
 * out yet. The unshuffled order satisfies every constraint, so everything held back is eventually released.
 */
function keepKeyedOrder(wanted: readonly { copy: Copy; position: number }[]): Copy[] {
  const queueByKey = new Map<string, number[]>();
  for (const { copy, position } of [...wanted].sort((a, b) => a.position - b.position)) {
    for (const key of copy.webhook.orderKeys) {
      const queue = queueByKey.get(key) ?? [];
      queue.push(position);
      queueByKey.set(key, queue);
    }
  }
  const isNext = (entry: { copy: Copy; position: number }): boolean =>
    entry.copy.webhook.orderKeys.every((key) => queueByKey.get(key)?.[0] === entry.position);

  const out: Copy[] = [];
  const emit = (entry: { copy: Copy; position: number }): void => {
    for (const key of entry.copy.webhook.orderKeys) queueByKey.get(key)?.shift();
    out.push(entry.copy);
  };
  let held: { copy: Copy; position: number }[] = [];
  const releaseHeld = (): void => {
    for (let released = true; released;) {
      released = false;
      const index = held.findIndex(isNext);
      if (index >= 0) {
        const [entry] = held.splice(index, 1);
        if (entry) emit(entry);
        released = true;
      }
    }
  };
  for (const entry of wanted) {
    if (isNext(entry)) {
      emit(entry);
      releaseHeld();
    } else {
      held.push(entry);
    }
  }
  // Whatever is still held goes out now; in position order every one of them is next in turn.
  held = held.sort((a, b) => a.position - b.position);
  releaseHeld();
  return out;
}

function probability(name: string, value: number): number {
  if (!(value >= 0 && value <= 1)) throw invalidOption(name, `must be within [0, 1], got ${value}`);
  return value;
}

function nonNegativeInteger(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 0)
    throw invalidOption(name, `must be a non-negative integer, got ${value}`);
  return value;
}
