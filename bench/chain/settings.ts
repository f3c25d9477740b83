/**
 * The chain benchmark's settings, read once from the command line when this module loads (`--help` prints the
 * flags and exits), and what every phase shares: the progress line on stderr, the services' logger, the timeout error.
 */
import { parseArgs } from 'node:util';
import { pino, destination, type Logger } from 'pino';

export const TARGET_EVENTS_PER_S = 20_000;
/** Issue 18: 20,000 distinct events/s, or at least half the rate of the equal-parallelism baseline. */
export const TARGET_RATIO = 0.5;
/** Issue 19: the chain with encryption on keeps at least 0.9x the distinct events/s of the same chain with it off. */
export const PRIVACY_TARGET_RATIO = 0.9;

export const USAGE = `pnpm bench:chain [flags]
  --webhooks N            raw webhooks to push (default: BENCH_WEBHOOKS, else 200000; e.g. 2000 for a quick
                          check that the run completes: the figures of so small a run mean little)
  --v2-share F            share of webhooks in v2 format (default 0.1)
  --partitions N          partitions of the raw and chat-events topics (default 6)
  --seed N                traffic seed (default 1)
  --timeout-s N           limit for each timed phase (default 900)
  --stall-s N             fail when nothing moves for this long (default 60)
  --events-max-message-bytes N
                          pre-create the chat-events topics with this max.message.bytes (default 8388608;
                          0 = let the services create them with the broker default, 1 MiB: the normalizer's
                          1000-record produce chunks then exceed it and it crash-loops, see the report)
  --baseline-rows N       rows per baseline INSERT statement (default 1000); the baseline writes over as many
                          connections as the projection's pool, the rows split into the same partitions
  --no-stages             skip phase 3 (each stage alone)
  --no-analytics          run the chain without the analytics projection (and skip its rebuild)
  --normalizer-concurrency N
                          normalizer: partitionsConsumedConcurrently (default: the service's)
  --tx-concurrency N      projection: partitionsConsumedConcurrently (default: the service's, 3)
  --tx-max-bytes N        projection: maxBytesPerPartition (default: the service's, 4 MiB)
  --tx-pool N             projection: Postgres pool size (default: the service's, 6); the baseline's connections
  --same-thread           run the normalizer on the projection's event loop (default: in a worker thread,
                          with an event loop of its own, as it is its own process when deployed)
  --privacy M             encryption of personal data (issue 19): on (default, as \`npm start\` runs), off, or
                          both: the chain twice in one run, on then off (each on a pre-load of its own, sealed
                          for on), and the on/off ratio; phases 2b, 3 and 4 and the main figures are on's
  --log-level L           service log level (default warn)`;

const { values: flags } = parseArgs({
  // `pnpm bench:chain -- --webhooks 2000` hands the script a literal `--` (pnpm passes it on): not an argument.
  args: process.argv.slice(2).filter((arg) => arg !== '--'),
  options: {
    webhooks: { type: 'string', default: process.env['BENCH_WEBHOOKS'] ?? '200000' },
    'v2-share': { type: 'string', default: '0.1' },
    partitions: { type: 'string', default: '6' },
    seed: { type: 'string', default: '1' },
    'timeout-s': { type: 'string', default: '900' },
    'stall-s': { type: 'string', default: '60' },
    'events-max-message-bytes': { type: 'string', default: String(8 * 1024 * 1024) },
    'baseline-rows': { type: 'string', default: '1000' },
    'no-stages': { type: 'boolean', default: false },
    'no-analytics': { type: 'boolean', default: false },
    'normalizer-concurrency': { type: 'string' },
    'tx-concurrency': { type: 'string' },
    'tx-max-bytes': { type: 'string' },
    'tx-pool': { type: 'string' },
    'log-level': { type: 'string', default: 'warn' },
    privacy: { type: 'string', default: 'on' },
    'normalizer-thread': { type: 'boolean', default: true },
    'same-thread': { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
  strict: true,
});
if (flags.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}

function privacyModes(value: string): readonly ('off' | 'on')[] {
  if (value === 'both') return ['on', 'off']; // on first: the main figures are the configuration users run
  if (value === 'off' || value === 'on') return [value];
  throw new Error(`--privacy must be off, on or both, got "${value}"`);
}

const positiveNumber = (name: string, raw: string | undefined): number => {
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0)
    throw new Error(`--${name} must be a positive number, got "${raw}"`);
  return value;
};
const optional = (name: string, raw: string | undefined): number | undefined =>
  raw === undefined ? undefined : positiveNumber(name, raw);

export const settings = {
  webhooks: Math.floor(positiveNumber('webhooks', flags.webhooks)),
  v2Share: Number(flags['v2-share']),
  partitions: Math.floor(positiveNumber('partitions', flags.partitions)),
  seed: Math.floor(positiveNumber('seed', flags.seed)),
  timeoutMs: positiveNumber('timeout-s', flags['timeout-s']) * 1000,
  stallMs: positiveNumber('stall-s', flags['stall-s']) * 1000,
  eventsMaxMessageBytes: Math.floor(Number(flags['events-max-message-bytes'])),
  baselineRows: Math.floor(positiveNumber('baseline-rows', flags['baseline-rows'])),
  stages: !flags['no-stages'],
  analytics: !flags['no-analytics'],
  normalizerConcurrency: optional('normalizer-concurrency', flags['normalizer-concurrency']),
  tx: {
    concurrency: optional('tx-concurrency', flags['tx-concurrency']),
    maxBytes: optional('tx-max-bytes', flags['tx-max-bytes']),
    pool: optional('tx-pool', flags['tx-pool']),
  },
  logLevel: flags['log-level'] ?? 'warn',
  privacyModes: privacyModes(flags.privacy ?? 'on'),
  // Deployed, the normalizer and the projection are separate processes: by default the normalizer gets
  // an event loop of its own here too (--same-thread puts both on one loop).
  normalizerThread: !(flags['same-thread'] ?? false) && (flags['normalizer-thread'] ?? true),
};
if (!(settings.v2Share >= 0 && settings.v2Share <= 1)) throw new Error('--v2-share must be within 0..1');
if (!(settings.eventsMaxMessageBytes >= 0))
  throw new Error('--events-max-message-bytes must be a non-negative integer');

export const progress = (line: string): void =>
  void process.stderr.write(`[chain-bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
export const logger: Logger = pino({ level: settings.logLevel, base: { bench: 'chain' } }, destination(2));

export class BenchTimeout extends Error {}

export type ChainSettings = typeof settings;
