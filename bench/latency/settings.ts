/**
 * The latency benchmark's settings, read once from the command line when this module loads (`--help` prints the
 * flags and exits), and the progress line every part shares (stderr; figures go to stdout).
 */
import { parseArgs } from 'node:util';

/** Issue 18 item 5: p99 of 200 -> visible at most 1 s. */
export const TARGET_P99_MS = 1_000;

export const USAGE = `pnpm bench:latency [flags]
  --rate N          webhooks per second, paced evenly (default 1000)
  --duration-s N    measured seconds of sending (default 60)
  --warmup-s N      seconds sent at the same rate before, not counted (default 5)
  --deadline-s N    a webhook not visible this long after its 200 is missing and counts as this (default 30)
  --poll-ms N       the visibility poll's period: one query for every pending webhook (default 15)
  --connections N   keep-alive connections opened up front (default 32); more are opened when all are busy
  --max-connections N
                    the most open at once (default 2000; beyond, a due request waits and the rate may be MISSED)
  --v2-share F      share of webhooks in v2 format (default 0.1; only v3 messages are measured, see the doc)
  --seed N          traffic seed (default 1)
  --no-stages       do not read the raw and chat-events topics for the per-stage breakdown
  --keep-logs       keep the services' log files (default: kept only when the run fails)`;

const { values: flags } = parseArgs({
  // `pnpm bench:latency -- --rate 200` hands the script a literal `--`: not an argument.
  args: process.argv.slice(2).filter((arg) => arg !== '--'),
  options: {
    rate: { type: 'string', default: '1000' },
    'duration-s': { type: 'string', default: '60' },
    'warmup-s': { type: 'string', default: '5' },
    'deadline-s': { type: 'string', default: '30' },
    'poll-ms': { type: 'string', default: '15' },
    connections: { type: 'string', default: '32' },
    'max-connections': { type: 'string', default: '2000' },
    'v2-share': { type: 'string', default: '0.1' },
    seed: { type: 'string', default: '1' },
    'no-stages': { type: 'boolean', default: false },
    'keep-logs': { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
  strict: true,
});
if (flags.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}

const positive = (name: string, raw: string | undefined): number => {
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0)
    throw new Error(`--${name} must be a positive number, got "${raw}"`);
  return value;
};
const nonNegative = (name: string, raw: string | undefined): number => {
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0)
    throw new Error(`--${name} must be a non-negative number, got "${raw}"`);
  return value;
};

export const settings = {
  rate: positive('rate', flags.rate),
  durationS: positive('duration-s', flags['duration-s']),
  warmupS: nonNegative('warmup-s', flags['warmup-s']),
  deadlineMs: positive('deadline-s', flags['deadline-s']) * 1000,
  pollMs: positive('poll-ms', flags['poll-ms']),
  connections: Math.floor(positive('connections', flags.connections)),
  maxConnections: Math.floor(positive('max-connections', flags['max-connections'])),
  v2Share: Number(flags['v2-share']),
  seed: Math.floor(positive('seed', flags.seed)),
  stages: !flags['no-stages'],
  keepLogs: flags['keep-logs'] ?? false,
};
if (!(settings.v2Share >= 0 && settings.v2Share <= 1)) throw new Error('--v2-share must be within 0..1');

export type LatencySettings = typeof settings;

export const progress = (line: string): void =>
  void process.stderr.write(`[latency-bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`);

/** Wall-clock milliseconds with sub-millisecond resolution, comparable with Kafka's record timestamps. */
export const nowMs = (): number => performance.timeOrigin + performance.now();
