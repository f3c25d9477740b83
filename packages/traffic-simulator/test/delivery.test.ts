import { describe, expect, it } from 'vitest';
import {
  TrafficSimulatorError,
  generateChats,
  renderV2,
  renderV3,
  scheduleDeliveries,
  type Delivery,
} from '../src/index.js';

const chats = generateChats({ seed: 21, chats: 300 });
const v3 = renderV3(chats);
const v2 = renderV2(chats);

/** Deliveries that arrive after a delivery of a later-emitted webhook. */
function overtaken(deliveries: readonly Delivery[]): Delivery[] {
  let latest = -1;
  return deliveries.filter((delivery) => {
    const late = delivery.emissionIndex < latest;
    latest = Math.max(latest, delivery.emissionIndex);
    return late;
  });
}

/**
 * The most deliveries of later-emitted webhooks that arrived before any one delivery. Counted with a Fenwick
 * tree over emission indexes (n log n): the quadratic scan took seconds on a loaded 2-core machine.
 */
function mostOvertakers(deliveries: readonly Delivery[]): number {
  const size = deliveries.reduce((max, d) => Math.max(max, d.emissionIndex), 0) + 1;
  const tree = new Array<number>(size + 1).fill(0);
  const add = (index: number): void => {
    for (let i = index + 1; i <= size; i += i & -i) tree[i] = (tree[i] ?? 0) + 1;
  };
  const atMost = (index: number): number => {
    let sum = 0;
    for (let i = index + 1; i > 0; i -= i & -i) sum += tree[i] ?? 0;
    return sum;
  };
  let most = 0;
  for (const [position, delivery] of deliveries.entries()) {
    most = Math.max(most, position - atMost(delivery.emissionIndex));
    add(delivery.emissionIndex);
  }
  return most;
}

describe('scheduleDeliveries', () => {
  it('is deterministic from the seed', () => {
    const options = { seed: 4, duplicateRate: 0.2, reorderRate: 0.2, reorderWindow: 3 };
    expect(scheduleDeliveries(v3, options)).toEqual(scheduleDeliveries(v3, options));
    expect(scheduleDeliveries(v3, options)).not.toEqual(scheduleDeliveries(v3, { ...options, seed: 5 }));
  });

  it('delivers everything once, in emission order, when the network is perfect', () => {
    const deliveries = scheduleDeliveries(v3, { seed: 1, duplicateRate: 0, reorderRate: 0 });
    expect(deliveries.map((d) => d.emissionIndex)).toEqual(v3.map((_, i) => i));
    expect(deliveries.map((d) => d.body)).toEqual(v3.map((w) => w.body));
    expect(deliveries.every((d) => d.attempt === 1 && d.duplicateOf === undefined)).toBe(true);
  });

  it.each([0.05, 0.2, 0.5])(
    'retries about %s of the webhooks, each retry the very same body',
    (duplicateRate) => {
      const deliveries = scheduleDeliveries(v3, { seed: 2, duplicateRate, reorderRate: 0 });
      const retried = new Set(
        deliveries.filter((d) => d.duplicateOf !== undefined).map((d) => d.emissionIndex),
      );
      expect(retried.size / v3.length).toBeCloseTo(duplicateRate, 1);
      for (const [index, delivery] of deliveries.entries()) {
        if (delivery.duplicateOf === undefined) continue;
        const first = deliveries[delivery.duplicateOf];
        expect(delivery.duplicateOf).toBeLessThan(index);
        expect(first?.attempt).toBe(1);
        expect(first?.emissionIndex).toBe(delivery.emissionIndex);
        expect(JSON.stringify(delivery.body)).toBe(JSON.stringify(first?.body));
        expect(delivery.attempt).toBeGreaterThan(1);
        expect(delivery.attempt).toBeLessThanOrEqual(4);
      }
      expect(new Set(deliveries.map((d) => d.emissionIndex)).size).toBe(v3.length);
    },
  );

  it.each([0.05, 0.15, 0.3])(
    'lets about %s of the deliveries be overtaken, never by more than the window',
    (reorderRate) => {
      const reorderWindow = 3;
      const deliveries = scheduleDeliveries(v3, { seed: 3, duplicateRate: 0, reorderRate, reorderWindow });
      const late = overtaken(deliveries);
      // Late webhooks overtaken only by their own retries or held back by an order key do not show.
      expect(late.length / deliveries.length).toBeGreaterThan(reorderRate * 0.6);
      expect(late.length / deliveries.length).toBeLessThan(reorderRate * 1.2);
      expect(mostOvertakers(deliveries)).toBeLessThanOrEqual(reorderWindow);
    },
  );

  it('reorders neighbours only: a window of 0 keeps emission order', () => {
    const deliveries = scheduleDeliveries(v3, {
      seed: 3,
      duplicateRate: 0.3,
      reorderRate: 1,
      reorderWindow: 0,
    });
    expect(overtaken(deliveries)).toEqual([]);
  });

  it('never lets webhooks that share an order key overtake each other', () => {
    for (const webhooks of [v3, v2]) {
      const deliveries = scheduleDeliveries(webhooks, {
        seed: 6,
        duplicateRate: 0.3,
        reorderRate: 0.5,
        reorderWindow: 4,
      });
      const lastByKey = new Map<string, number>();
      for (const delivery of deliveries) {
        for (const key of delivery.orderKeys) {
          expect(delivery.emissionIndex).toBeGreaterThanOrEqual(lastByKey.get(key) ?? -1);
          lastByKey.set(key, delivery.emissionIndex);
        }
      }
      expect(overtaken(deliveries).length).toBeGreaterThan(0);
    }
  });

  it('gives every copy its own body, so a receiver may redact in place', () => {
    const deliveries = scheduleDeliveries(v3, { seed: 7, duplicateRate: 1, reorderRate: 0 });
    const [first, second] = deliveries;
    if (first?.format !== 'v3' || second?.format !== 'v3') throw new Error('expected v3 deliveries');
    expect(second.duplicateOf).toBe(0);
    first.body.secret_key = '[redacted]';
    expect(second.body.secret_key).not.toBe('[redacted]');
    expect(v3[0]?.body).not.toBe(first.body);
  });

  it('names the discriminator of each delivery', () => {
    const deliveries = scheduleDeliveries([...v3.slice(0, 20), ...v2.slice(0, 20)], { seed: 1 });
    for (const delivery of deliveries) {
      expect(delivery.kind).toBe(delivery.format === 'v3' ? delivery.body.action : delivery.body.event_type);
    }
  });

  it('rejects rates outside [0, 1] and negative windows', () => {
    expect(() => scheduleDeliveries(v3, { seed: 1, duplicateRate: 1.5 })).toThrow(TrafficSimulatorError);
    expect(() => scheduleDeliveries(v3, { seed: 1, reorderRate: -0.1 })).toThrow(TrafficSimulatorError);
    expect(() => scheduleDeliveries(v3, { seed: 1, reorderWindow: -1 })).toThrow(TrafficSimulatorError);
  });
});
