/**
 * The rebuild benchmark's settings, read once from the command line when this module loads (`--help` prints the
 * flags and exits), the progress line on stderr and the logger of the in-process pre-load.
 */
import { parseArgs } from 'node:util';
import { pino, destination, type Logger } from 'pino';

/** Issue 18 item 4: 1 million chat events rebuilt in at most 60 s. */
export const TARGET_SECONDS_PER_MILLION = 60;
export const TARGET_EVENTS_PER_S = 1_000_000 / TARGET_SECONDS_PER_MILLION;

export const USAGE = `pnpm bench:rebuild [flags]
  --events N          chat events on the pre-loaded topic (default 1000000; e.g. 20000 for a quick run)
  --seed N            traffic seed (default 1); the pre-load is cached per seed and count on this stack
  --v2-share F        share of raw webhooks in v2 format (default 0.1)
  --partitions N      partitions of the chat-events topic (default 6, as the deployed topic)
  --interrupt-at F    also rebuild once more, killed (SIGKILL) when a fraction F (0 < F < 1) of the events is
                      applied, then resumed; the final row counts must equal the uninterrupted run's
  --fresh             pre-load again even when a cached pre-load exists
  --preload-only      make (or check) the cached pre-load and stop: the next run starts with the rebuild
  --tx-concurrency N  TRANSCRIPTS_PARTITIONS_CONCURRENTLY for the rebuild (default: the service's, 3)
  --tx-max-bytes N    TRANSCRIPTS_FETCH_MAX_BYTES for the rebuild (default: the service's, 4 MiB)
  --cpu-prof DIR      write the rebuild process's CPU profile (node --cpu-prof) into DIR
  --timeout-s N       limit for each rebuild run (default 900)
  --log-level L       log level of the pre-load's normalizer (default warn)`;

const { values: flags } = parseArgs({
  // `pnpm bench:rebuild -- --events 2000` hands the script a literal `--`: not an argument.
  args: process.argv.slice(2).filter((arg) => arg !== '--'),
  options: {
    events: { type: 'string', default: '1000000' },
    seed: { type: 'string', default: '1' },
    'v2-share': { type: 'string', default: '0.1' },
    partitions: { type: 'string', default: '6' },
    'interrupt-at': { type: 'string' },
    fresh: { type: 'boolean', default: false },
    'preload-only': { type: 'boolean', default: false },
    'cpu-prof': { type: 'string' },
    'tx-concurrency': { type: 'string' },
    'tx-max-bytes': { type: 'string' },
    'timeout-s': { type: 'string', default: '900' },
    'log-level': { type: 'string', default: 'warn' },
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

function interruptAt(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (!(value > 0 && value < 1))
    throw new Error(`--interrupt-at must be a fraction within (0, 1), got "${raw}"`);
  return value;
}

export const settings = {
  events: Math.floor(positive('events', flags.events)),
  seed: Math.floor(positive('seed', flags.seed)),
  v2Share: Number(flags['v2-share']),
  partitions: Math.floor(positive('partitions', flags.partitions)),
  interruptAt: interruptAt(flags['interrupt-at']),
  fresh: flags.fresh ?? false,
  preloadOnly: flags['preload-only'] ?? false,
  cpuProfDir: flags['cpu-prof'],
  /** The service's own variables, passed to the rebuild only when given (else the service defaults apply). */
  txEnv: {
    ...(flags['tx-concurrency'] === undefined
      ? {}
      : {
          TRANSCRIPTS_PARTITIONS_CONCURRENTLY: String(
            Math.floor(positive('tx-concurrency', flags['tx-concurrency'])),
          ),
        }),
    ...(flags['tx-max-bytes'] === undefined
      ? {}
      : { TRANSCRIPTS_FETCH_MAX_BYTES: String(Math.floor(positive('tx-max-bytes', flags['tx-max-bytes']))) }),
  } as Readonly<Record<string, string>>,
  timeoutMs: positive('timeout-s', flags['timeout-s']) * 1000,
  logLevel: flags['log-level'] ?? 'warn',
};
if (!(settings.v2Share >= 0 && settings.v2Share <= 1)) throw new Error('--v2-share must be within 0..1');

export const progress = (line: string): void =>
  void process.stderr.write(`[rebuild-bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
export const logger: Logger = pino({ level: settings.logLevel, base: { bench: 'rebuild' } }, destination(2));

export type RebuildSettings = typeof settings;
