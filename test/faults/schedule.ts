import { Random } from '@livechat-pipeline/traffic-simulator';

/**
 * The fault schedule of one run: a pure function of the seed and the mode, so a failing run is replayed from its
 * seed alone (FAULT_SEED). Times are milliseconds from the start of the traffic. Faults that need a state to be
 * meaningful (the spool holding records, the spool draining) are also gated on that state when it happens; the
 * time here is the earliest moment they may fire.
 */

export type FaultMode = 'quick' | 'full';

export type FaultKind =
  | 'kafka-outage'
  | 'postgres-restart'
  | 'ingest-kill-spooling'
  | 'ingest-kill-draining'
  | 'normalizer-kill'
  | 'transcripts-kill';

export const FAULT_KINDS: readonly FaultKind[] = [
  'kafka-outage',
  'ingest-kill-spooling',
  'ingest-kill-draining',
  'normalizer-kill',
  'transcripts-kill',
  'postgres-restart',
];

/** Stack faults run one after another (the stack launcher serialises them anyway). */
export type StackFault =
  | {
      readonly kind: 'kafka-outage';
      readonly atMs: number;
      /** How long the broker stays down, from the moment it is gone to the moment it is started again. */
      readonly downMs: number;
      /** When, within the outage, the ingest is SIGKILLed (once the spool holds records). */
      readonly ingestKillAfterMs: number;
    }
  | { readonly kind: 'postgres-restart'; readonly atMs: number };

export interface ConsumerKill {
  readonly kind: 'normalizer-kill' | 'transcripts-kill';
  readonly atMs: number;
}

export interface FaultSchedule {
  readonly seed: number;
  readonly mode: FaultMode;
  /** Webhooks per second offered by the senders, whatever the answers. */
  readonly ratePerSecond: number;
  readonly stackFaults: readonly StackFault[];
  readonly consumerKills: readonly ConsumerKill[];
  /** Traffic keeps flowing this long after the last stack fault is over, then no new chat starts. */
  readonly tailMs: number;
  /**
   * How long a consumer kill waits for its target to be at work again (ready) when it is still starting after an
   * earlier kill. A killed consumer is back only after its group dropped the dead member (the 30 s session
   * timeout), so without waiting most kills close together hit a process that is starting.
   */
  readonly killWaitsForReadyMs: number;
}

interface ModeSettings {
  readonly ratePerSecond: number;
  /** When the first stack fault may start: room for consumer kills before it. */
  readonly firstFaultMs: readonly [number, number];
  readonly outages: number;
  readonly downMs: readonly [number, number];
  readonly postgresRestarts: number;
  readonly consumerKills: number;
  readonly tailMs: number;
  readonly killWaitsForReadyMs: number;
}

const MODES: Readonly<Record<FaultMode, ModeSettings>> = {
  // npm test: one 90 s outage, one Postgres restart, ten consumer kills, in about four minutes.
  quick: {
    ratePerSecond: 25,
    firstFaultMs: [20_000, 30_000],
    outages: 1,
    downMs: [90_000, 90_000],
    postgresRestarts: 1,
    consumerKills: 10,
    tailMs: 10_000,
    killWaitsForReadyMs: 0,
  },
  // pnpm test:faults: two longer outages, two Postgres restarts, more kills.
  full: {
    ratePerSecond: 40,
    firstFaultMs: [6_000, 12_000],
    outages: 2,
    downMs: [90_000, 150_000],
    postgresRestarts: 2,
    consumerKills: 24,
    tailMs: 20_000,
    killWaitsForReadyMs: 45_000,
  },
};

/** Rough time a broker takes to stop and to be healthy again (only used to spread the consumer kills). */
const KAFKA_RESTART_ALLOWANCE_MS = 20_000;
const POSTGRES_RESTART_ALLOWANCE_MS = 10_000;

export function faultSchedule(seed: number, mode: FaultMode): FaultSchedule {
  const settings = MODES[mode];
  const random = Random.derive(seed, 'fault-schedule');
  const kinds: ('kafka-outage' | 'postgres-restart')[] = [
    ...Array<'kafka-outage'>(settings.outages).fill('kafka-outage'),
    ...Array<'postgres-restart'>(settings.postgresRestarts).fill('postgres-restart'),
  ];
  // The order of the stack faults is part of the schedule (a Postgres restart first or last).
  const order = shuffle(random, kinds);
  const stackFaults: StackFault[] = [];
  let at = random.int(settings.firstFaultMs[0], settings.firstFaultMs[1]);
  for (const kind of order) {
    if (kind === 'postgres-restart') {
      stackFaults.push({ kind, atMs: at });
      at += POSTGRES_RESTART_ALLOWANCE_MS + random.int(4_000, 12_000);
    } else {
      const downMs = random.int(settings.downMs[0], settings.downMs[1]);
      const ingestKillAfterMs = Math.round(downMs * (0.3 + 0.3 * random.float()));
      stackFaults.push({ kind, atMs: at, downMs, ingestKillAfterMs });
      at += downMs + KAFKA_RESTART_ALLOWANCE_MS + random.int(4_000, 12_000);
    }
  }
  // Consumer kills at random moments while the consumers can work (not during a broker outage, when a killed
  // consumer could only wait for the broker), and not in the run's last stretch, so that the end check does not
  // mostly wait for a group rebalance.
  const killWindowEnd = Math.max(at - 5_000, 20_000);
  const windows = workingWindows(4_000, killWindowEnd, stackFaults);
  const workingMs = windows.reduce((sum, [from, to]) => sum + (to - from), 0);
  const times = Array.from({ length: settings.consumerKills }, () => {
    let offset = random.int(0, workingMs - 1);
    for (const [from, to] of windows) {
      if (offset < to - from) return from + offset;
      offset -= to - from;
    }
    return killWindowEnd;
  }).sort((a, b) => a - b);
  // Both consumers are killed, at least a third of the kills each.
  const minimumEach = Math.ceil(settings.consumerKills / 3);
  const targets = shuffle(random, [
    ...Array<'normalizer-kill'>(minimumEach).fill('normalizer-kill'),
    ...Array<'transcripts-kill'>(minimumEach).fill('transcripts-kill'),
    ...Array.from({ length: settings.consumerKills - 2 * minimumEach }, () =>
      random.pick(['normalizer-kill', 'transcripts-kill'] as const),
    ),
  ]);
  const consumerKills = times.map((atMs, i) => ({ kind: targets[i]!, atMs }));
  return {
    seed,
    mode,
    ratePerSecond: settings.ratePerSecond,
    stackFaults,
    consumerKills,
    tailMs: settings.tailMs,
    killWaitsForReadyMs: settings.killWaitsForReadyMs,
  };
}

/** [from, to) stretches of the run outside the broker outages (and the broker's return). */
function workingWindows(from: number, to: number, faults: readonly StackFault[]): [number, number][] {
  const windows: [number, number][] = [];
  let start = from;
  for (const fault of faults) {
    if (fault.kind !== 'kafka-outage') continue;
    const outageEnd = fault.atMs + fault.downMs + KAFKA_RESTART_ALLOWANCE_MS;
    if (fault.atMs > start) windows.push([start, Math.min(fault.atMs, to)]);
    start = Math.max(start, outageEnd);
  }
  if (to > start) windows.push([start, to]);
  return windows.filter(([a, b]) => b > a);
}

function shuffle<T>(random: Random, items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = random.int(0, i);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** One line per fault, for the start of a run. */
export function describeSchedule(schedule: FaultSchedule): string[] {
  const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  const lines = schedule.stackFaults.map((f) =>
    f.kind === 'kafka-outage'
      ? `  at ${s(f.atMs)}: Kafka stopped for ${s(f.downMs)}; the ingest SIGKILLed ${s(f.ingestKillAfterMs)} into the outage (once the spool holds records), and again while the spool drains after it`
      : `  at ${s(f.atMs)}: Postgres restarted`,
  );
  lines.push(
    `  consumer kills (SIGKILL, then restarted): ${schedule.consumerKills
      .map((k) => `${k.kind.replace('-kill', '')}@${s(k.atMs)}`)
      .join(', ')}`,
  );
  return lines;
}

/** FAULT_SEED, or a fresh one from the clock (printed, so the run can be replayed). */
export function seedFrom(env: NodeJS.ProcessEnv): number {
  const raw = env['FAULT_SEED']?.trim();
  if (raw === undefined || raw === '') return Date.now() % 2_147_483_647;
  if (!/^\d{1,10}$/.test(raw) || Number(raw) > 4_294_967_295)
    throw new Error(`FAULT_SEED must be an integer from 0 to 4294967295, got "${raw.slice(0, 40)}"`);
  return Number(raw);
}
