import os from 'node:os';
import { readFileSync } from 'node:fs';

export const fmt = (value: number, digits: number): string =>
  Number.isFinite(value)
    ? value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
    : String(value);

/** A rate with thousands separators and no decimals. */
export const rate = (perSecond: number): string => fmt(perSecond, 0);

export interface CpuShare {
  /** Cores used by this node process (user + system) on average. */
  readonly processCores: number;
  /** Cores busy on the whole machine (Kafka, Postgres, the registry, anyone else) on average. */
  readonly machineCores: number;
  readonly cores: number;
  describe(): string;
}

function machineTicks(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
  const [, ...fields] = line.trim().split(/\s+/);
  const n = fields.map(Number);
  const idle = (n[3] ?? 0) + (n[4] ?? 0);
  const total = n.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

/** CPU used between construction and stop(): by this process, and by the whole machine (/proc/stat). */
export class CpuSampler {
  private readonly startedAt = performance.now();
  private readonly process = process.cpuUsage();
  private readonly machine = machineTicks();

  stop(): CpuShare {
    const seconds = (performance.now() - this.startedAt) / 1000;
    const used = process.cpuUsage(this.process);
    const processCores = (used.user + used.system) / 1e6 / seconds;
    const now = machineTicks();
    const cores = os.cpus().length;
    const machineCores =
      ((now.busy - this.machine.busy) / Math.max(1, now.total - this.machine.total)) * cores;
    return {
      processCores,
      machineCores,
      cores,
      describe: () =>
        `this process ${fmt(processCores, 2)} cores, machine ${fmt(machineCores, 2)} of ${cores} cores busy (${fmt(Math.max(0, machineCores - processCores), 2)} outside this process)`,
    };
  }
}
