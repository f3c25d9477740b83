import { describe, expect, it } from 'vitest';
import { ProduceBatcher } from '../src/produce-batcher.js';
import type { BatchReport } from '../src/produce-batcher.js';

interface Deferred {
  resolve: () => void;
  reject: (err: Error) => void;
}

/** A sender that records each batch and lets the test decide when the "broker" acknowledges it. */
function controllableSender() {
  const batches: string[][] = [];
  const pending: Deferred[] = [];
  const send = (messages: readonly string[]) =>
    new Promise<void>((resolve, reject) => {
      batches.push([...messages]);
      pending.push({ resolve, reject });
    });
  return { batches, pending, send };
}

const tick = () => new Promise((r) => setImmediate(r));

function settled(p: Promise<unknown>): Promise<'resolved' | string> {
  return p.then(
    () => 'resolved',
    (err: { code?: string }) => err.code ?? 'rejected',
  );
}

describe('ProduceBatcher', () => {
  it('collects concurrent messages into one send after the linger time', async () => {
    const s = controllableSender();
    const b = new ProduceBatcher<string>({
      send: s.send,
      lingerMs: 5,
      maxRecords: 100,
      maxBytes: 1e6,
      sizeOf: (m) => m.length,
    });
    const all = ['a', 'b', 'c'].map((m) => b.enqueue(m));
    expect(s.batches).toEqual([]);
    await expect.poll(() => s.batches.length).toBe(1);
    expect(s.batches[0]).toEqual(['a', 'b', 'c']);
    s.pending[0]?.resolve();
    await Promise.all(all);
  });

  it('sends at once when maxRecords is reached, and splits by maxRecords', async () => {
    const s = controllableSender();
    const b = new ProduceBatcher<string>({
      send: s.send,
      lingerMs: 60_000,
      maxRecords: 2,
      maxBytes: 1e6,
      sizeOf: () => 1,
    });
    const p = ['a', 'b', 'c', 'd', 'e'].map((m) => b.enqueue(m));
    expect(s.batches).toEqual([['a', 'b']]); // full: no linger
    s.pending[0]?.resolve();
    await tick();
    expect(s.batches[1]).toEqual(['c', 'd']);
    s.pending[1]?.resolve();
    await tick();
    expect(s.batches[2]).toEqual(['e']); // what accumulated goes out right after the ack
    s.pending[2]?.resolve();
    expect(await Promise.all(p.map(settled))).toEqual(Array(5).fill('resolved'));
  });

  it('keeps one batch in flight; the next accumulates meanwhile', async () => {
    const s = controllableSender();
    const b = new ProduceBatcher<string>({
      send: s.send,
      lingerMs: 0,
      maxRecords: 100,
      maxBytes: 1e6,
      sizeOf: () => 1,
    });
    const first = b.enqueue('1');
    await expect.poll(() => s.batches.length).toBe(1);
    const later = ['2', '3', '4'].map((m) => b.enqueue(m));
    await tick();
    expect(s.batches.length).toBe(1);
    expect(b.queued).toBe(3);
    expect(await Promise.race([settled(first), tick().then(() => 'pending')])).toBe('pending');
    s.pending[0]?.resolve();
    expect(await settled(first)).toBe('resolved');
    await expect.poll(() => s.batches.length).toBe(2);
    expect(s.batches[1]).toEqual(['2', '3', '4']);
    s.pending[1]?.resolve();
    await Promise.all(later);
  });

  it('respects the byte cap, but sends an oversized message alone', async () => {
    const s = controllableSender();
    const b = new ProduceBatcher<string>({
      send: s.send,
      lingerMs: 0,
      maxRecords: 100,
      maxBytes: 10,
      sizeOf: (m) => m.length,
    });
    const p = ['aaaa', 'bbbb', 'cccc', 'x'.repeat(50), 'd'].map((m) => b.enqueue(m));
    for (let i = 0; i < 4; i++) {
      await expect.poll(() => s.batches.length).toBe(i + 1);
      s.pending[i]?.resolve();
    }
    expect(s.batches).toEqual([['aaaa', 'bbbb'], ['cccc'], ['x'.repeat(50)], ['d']]);
    await Promise.all(p);
  });

  it('rejects every message of a failed batch with INGEST_KAFKA_UNAVAILABLE and carries on', async () => {
    const s = controllableSender();
    const reports: BatchReport[] = [];
    const b = new ProduceBatcher<string>({
      send: s.send,
      lingerMs: 0,
      maxRecords: 100,
      maxBytes: 1e6,
      sizeOf: () => 1,
      onBatch: (r) => reports.push(r),
    });
    const failed = [b.enqueue('a'), b.enqueue('b')];
    await expect.poll(() => s.batches.length).toBe(1);
    s.pending[0]?.reject(new Error('broker down'));
    expect(await Promise.all(failed.map(settled))).toEqual([
      'INGEST_KAFKA_UNAVAILABLE',
      'INGEST_KAFKA_UNAVAILABLE',
    ]);
    const next = b.enqueue('c');
    await expect.poll(() => s.batches.length).toBe(2);
    s.pending[1]?.resolve();
    expect(await settled(next)).toBe('resolved');
    expect(reports.map((r) => [r.records, r.ok])).toEqual([
      [2, false],
      [1, true],
    ]);
  });

  it('drops messages whose deadline passed before they could be sent', async () => {
    const s = controllableSender();
    let now = 0;
    const b = new ProduceBatcher<string>({
      send: s.send,
      lingerMs: 0,
      maxRecords: 100,
      maxBytes: 1e6,
      sizeOf: () => 1,
      now: () => now,
    });
    const first = b.enqueue('first', 100);
    await expect.poll(() => s.batches.length).toBe(1);
    const expired = b.enqueue('expired', 50);
    const alive = b.enqueue('alive', 1000);
    now = 60;
    s.pending[0]?.resolve();
    expect(await settled(expired)).toBe('INGEST_DEADLINE_EXCEEDED');
    await expect.poll(() => s.batches.length).toBe(2);
    expect(s.batches[1]).toEqual(['alive']);
    s.pending[1]?.resolve();
    expect(await Promise.all([settled(first), settled(alive)])).toEqual(['resolved', 'resolved']);
  });

  it('close() flushes what is queued and refuses new messages', async () => {
    const s = controllableSender();
    const b = new ProduceBatcher<string>({
      send: s.send,
      lingerMs: 60_000,
      maxRecords: 100,
      maxBytes: 1e6,
      sizeOf: () => 1,
    });
    const queued = b.enqueue('q');
    const closing = b.close();
    expect(s.batches).toEqual([['q']]);
    expect(await settled(b.enqueue('late'))).toBe('INGEST_SHUTTING_DOWN');
    let closed = false;
    void closing.then(() => (closed = true));
    await tick();
    expect(closed).toBe(false);
    s.pending[0]?.resolve();
    await closing;
    expect(await settled(queued)).toBe('resolved');
  });
});
