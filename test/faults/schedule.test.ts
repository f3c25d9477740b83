import { describe, expect, it } from 'vitest';
import { faultSchedule, seedFrom } from './schedule.js';

describe('the fault schedule', () => {
  it('is a function of the seed: the same seed gives the same schedule, another seed another one', () => {
    expect(faultSchedule(42, 'quick')).toEqual(faultSchedule(42, 'quick'));
    expect(faultSchedule(42, 'full')).toEqual(faultSchedule(42, 'full'));
    expect(faultSchedule(43, 'quick')).not.toEqual(faultSchedule(42, 'quick'));
  });

  it.each([1, 2, 3, 1234, 4_294_967_295])('holds every fault the suite promises (seed %i)', (seed) => {
    for (const mode of ['quick', 'full'] as const) {
      const schedule = faultSchedule(seed, mode);
      const outages = schedule.stackFaults.filter((f) => f.kind === 'kafka-outage');
      expect(outages.length).toBeGreaterThanOrEqual(1);
      for (const outage of outages) {
        // Longer than LiveChat's retry window, with the ingest kill inside the outage.
        expect(outage.downMs).toBeGreaterThanOrEqual(90_000);
        expect(outage.ingestKillAfterMs).toBeGreaterThan(0);
        expect(outage.ingestKillAfterMs).toBeLessThan(outage.downMs);
      }
      expect(schedule.stackFaults.filter((f) => f.kind === 'postgres-restart').length).toBeGreaterThanOrEqual(
        1,
      );
      // Stack faults one after another, never overlapping.
      for (let i = 1; i < schedule.stackFaults.length; i++) {
        const previous = schedule.stackFaults[i - 1]!;
        const end = previous.atMs + (previous.kind === 'kafka-outage' ? previous.downMs : 0);
        expect(schedule.stackFaults[i]!.atMs).toBeGreaterThan(end);
      }
      const kills = schedule.consumerKills;
      expect(kills.length).toBeGreaterThanOrEqual(10);
      expect(kills.filter((k) => k.kind === 'normalizer-kill').length).toBeGreaterThanOrEqual(3);
      expect(kills.filter((k) => k.kind === 'transcripts-kill').length).toBeGreaterThanOrEqual(3);
      expect(kills.map((k) => k.atMs)).toEqual([...kills.map((k) => k.atMs)].sort((a, b) => a - b));
      // Kills hit consumers that can work: none while the broker is down.
      for (const outage of outages)
        for (const kill of kills)
          expect(kill.atMs < outage.atMs || kill.atMs > outage.atMs + outage.downMs).toBe(true);
    }
  });

  it('reads FAULT_SEED, refusing anything but an unsigned 32-bit integer', () => {
    expect(seedFrom({ FAULT_SEED: '7' })).toBe(7);
    expect(seedFrom({ FAULT_SEED: ' 4294967295 ' })).toBe(4_294_967_295);
    expect(() => seedFrom({ FAULT_SEED: '-1' })).toThrow(/FAULT_SEED/);
    expect(() => seedFrom({ FAULT_SEED: '4294967296' })).toThrow(/FAULT_SEED/);
    expect(() => seedFrom({ FAULT_SEED: 'abc' })).toThrow(/FAULT_SEED/);
    expect(Number.isInteger(seedFrom({}))).toBe(true);
  });
});
