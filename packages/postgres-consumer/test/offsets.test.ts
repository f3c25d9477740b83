import type { KafkaMessage } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { selectClaimed } from '../src/dedup.js';
import { planBatch } from '../src/offsets.js';

const message = (offset: number): KafkaMessage => ({
  offset: String(offset),
  key: null,
  value: null,
  timestamp: '0',
  attributes: 0,
  headers: {},
});

describe('planBatch', () => {
  const batch = [10, 11, 12, 13].map(message);

  it('applies everything when nothing is stored yet', () => {
    expect(planBatch(batch, null)).toMatchObject({ skipped: 0, nextOffset: 14n });
    expect(planBatch(batch, null).fresh).toHaveLength(4);
  });

  it('skips records below the stored offset (redelivery after a crash or a stale member)', () => {
    const plan = planBatch(batch, 12n);
    expect(plan.fresh.map((m) => m.offset)).toEqual(['12', '13']);
    expect(plan).toMatchObject({ skipped: 2, nextOffset: 14n });
  });

  it('has nothing new when the whole batch is below the stored offset', () => {
    expect(planBatch(batch, 20n)).toMatchObject({ fresh: [], skipped: 4 });
  });

  it('has no next offset for an empty batch', () => {
    expect(planBatch([], 5n).nextOffset).toBeNull();
  });
});

describe('selectClaimed', () => {
  it('keeps the first event of each newly claimed id, in order', () => {
    const events = ['a', 'b', 'a', 'c', 'd'].map((id, i) => ({ id, i }));
    const { fresh, duplicates } = selectClaimed(events, (e) => e.id, new Set(['a', 'c']));
    expect(fresh).toEqual([
      { id: 'a', i: 0 },
      { id: 'c', i: 3 },
    ]);
    expect(duplicates).toBe(3);
  });
});
