/**
 * One rebuild exactly as an operator runs it: `pnpm transcripts:rebuild` (services/transcripts/src/rebuild-cli.ts on
 * tsx) in a process of its own, with the service's configuration (pool, partitions in flight, fetch size: the
 * defaults of the deployed service) and encryption on. Timed from the process's start to its exit. Optionally killed
 * (SIGKILL, as a crash or a lost terminal would) once a fraction of the events is applied, to be resumed by a second
 * run of the same command.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import { readAllStoredOffsets } from '@livechat-pipeline/postgres-consumer';
import { projectionTables } from '../lib/baseline.js';
import { CpuSampler, fmt } from '../lib/report.js';
import { progress, settings } from './settings.js';
import type { Endpoints } from './preload.js';

const TRANSCRIPTS_DIR = fileURLToPath(new URL('../../services/transcripts/', import.meta.url));
const REBUILD_CLI = 'src/rebuild-cli.ts';

export interface RebuildTarget {
  readonly topic: string;
  readonly events: number;
  readonly schema: string;
  readonly consumerName: string;
  readonly privacyEnv: Readonly<Record<string, string>>;
}

export interface RebuildRun {
  /** Wall time of the command, start to exit (what the operator waits for). */
  readonly seconds: number;
  /** The time the command printed (`rebuilt … in X s`), undefined when killed. */
  readonly reportedSeconds: number | undefined;
  readonly resumed: boolean;
  readonly killed: boolean;
  /** Events applied (stored offsets) when the process ended. */
  readonly applied: number;
  readonly peakRssMb: number | undefined;
  /** Cores the rebuild process used on average (user + system, sampled from /proc). */
  readonly processCores: number | undefined;
  /** Cores busy on the whole machine on average (Postgres, Kafka, anyone else included). */
  readonly machineCores: number;
  /**
   * The Postgres side: the rebuild's connections sampled every 100 ms from pg_stat_activity, by state and wait event
   * (`active cpu`: running, no wait event; `idle in transaction`: waiting for the node process).
   */
  readonly postgres: ReadonlyMap<string, number>;
}

export async function runRebuild(
  e: Endpoints,
  db: pg.Pool,
  target: RebuildTarget,
  options: { killAtFraction?: number; cpuProfDir?: string; label: string },
): Promise<RebuildRun> {
  const nodeArgs = ['--import', 'tsx'];
  if (options.cpuProfDir !== undefined) nodeArgs.push('--cpu-prof', `--cpu-prof-dir=${options.cpuProfDir}`);
  const started = performance.now();
  const child = spawn(process.execPath, [...nodeArgs, REBUILD_CLI], {
    cwd: TRANSCRIPTS_DIR,
    env: {
      PATH: process.env['PATH'] ?? '',
      HOME: process.env['HOME'] ?? '',
      KAFKA_BROKERS: e.kafkaBrokers,
      SCHEMA_REGISTRY_URL: e.schemaRegistryUrl,
      DATABASE_URL: e.databaseUrl,
      CHAT_EVENTS_TOPIC: target.topic,
      CHAT_EVENTS_TOPIC_PARTITIONS: String(settings.partitions),
      TRANSCRIPTS_SCHEMA: target.schema,
      TRANSCRIPTS_CONSUMER_NAME: target.consumerName,
      ...target.privacyEnv,
      ...settings.txEnv,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-20_000);
  });
  let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exit = new Promise<void>((resolve) =>
    child.on('exit', (code, signal) => {
      exited = { code, signal };
      resolve();
    }),
  );
  let peakRss: number | undefined;
  let applied = 0;
  let killed = false;
  // The previous run's offsets stay until this one truncates: kill only once they were seen reset.
  let reset = false;
  let lastLine = performance.now();
  let cpuTicks: number | undefined;
  const cpu = new CpuSampler();
  const postgres = new Map<string, number>();
  const deadline = started + settings.timeoutMs;
  while (exited === undefined) {
    applied = await appliedEvents(db, target);
    if (options.killAtFraction !== undefined && applied < options.killAtFraction * target.events)
      reset = true;
    peakRss = Math.max(peakRss ?? 0, rssOf(child.pid) ?? 0);
    cpuTicks = cpuTicksOf(child.pid) ?? cpuTicks;
    await samplePostgres(db, target.schema, postgres);
    if (
      options.killAtFraction !== undefined &&
      reset &&
      !killed &&
      applied >= options.killAtFraction * target.events
    ) {
      killed = child.kill('SIGKILL');
      progress(`${options.label}: killed (SIGKILL) at ${applied}/${target.events} events applied`);
    }
    if (performance.now() > deadline) {
      child.kill('SIGKILL');
      await exit;
      throw new Error(
        `${options.label}: no end after ${settings.timeoutMs / 1000} s; its stderr:\n${stderr}`,
      );
    }
    if (performance.now() - lastLine > 5000) {
      lastLine = performance.now();
      progress(
        `${options.label}: ${applied}/${target.events} events applied after ${fmt((performance.now() - started) / 1000, 0)} s`,
      );
    }
    await Promise.race([exit, sleep(killed ? 1000 : 100)]);
  }
  const seconds = (performance.now() - started) / 1000;
  const machineCores = cpu.stop().machineCores;
  applied = await appliedEvents(db, target);
  const end = exited as { code: number | null; signal: NodeJS.Signals | null };
  if (!killed && end.code !== 0)
    throw new Error(
      `${options.label}: the rebuild exited with ${end.code ?? end.signal}; its stderr:\n${stderr}`,
    );
  const reported = /rebuilt \S+ from (\d+) events in ([\d.]+) s( \(resumed\))?/.exec(stderr);
  progress(`${options.label}: ${killed ? 'killed' : 'done'} after ${fmt(seconds, 2)} s (${applied} applied)`);
  return {
    seconds,
    reportedSeconds: reported?.[2] === undefined ? undefined : Number(reported[2]),
    resumed: reported?.[3] !== undefined,
    killed,
    applied,
    peakRssMb: peakRss === undefined ? undefined : peakRss / 2 ** 20,
    processCores: cpuTicks === undefined ? undefined : cpuTicks / CLOCK_TICKS / seconds,
    machineCores,
    postgres,
  };
}

async function appliedEvents(db: pg.Pool, target: RebuildTarget): Promise<number> {
  const stored = await readAllStoredOffsets(db, target.schema, target.consumerName).catch(
    () => new Map<string, bigint>(), // the schema or its tables do not exist yet: nothing applied
  );
  let done = 0n;
  for (const [key, offset] of stored) if (key.startsWith(`${target.topic}:`)) done += offset;
  return Number(done);
}

function rssOf(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = /^VmRSS:\s+(\d+) kB/m.exec(status)?.[1];
    return kb === undefined ? undefined : Number(kb) * 1024;
  } catch {
    return undefined; // exited between the check and the read
  }
}

/** USER_HZ of /proc/<pid>/stat: 100 on Linux. */
const CLOCK_TICKS = 100;

/** utime + stime of a process, in clock ticks. */
function cpuTicksOf(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return undefined;
  }
}

async function samplePostgres(db: pg.Pool, schema: string, into: Map<string, number>): Promise<void> {
  const { rows } = await db.query<{ what: string; n: number }>(
    `select case when state = 'active' then 'active ' || coalesce(wait_event_type || ':' || wait_event, 'cpu')
                 else state end as what, count(*)::int as n
     from pg_stat_activity
     where pid <> pg_backend_pid() and backend_type = 'client backend' and position($1 in query) > 0
     group by 1`,
    [`"${schema}"`],
  );
  for (const r of rows) into.set(r.what, (into.get(r.what) ?? 0) + r.n);
}

/** Rows per table of the rebuilt schema (its projection tables, and the distinct events claimed in `_dedup`). */
export async function rowCounts(db: pg.Pool, target: RebuildTarget): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const table of await projectionTables(db, target.schema)) {
    const { rows } = await db.query<{ n: string }>(`select count(*) as n from "${target.schema}"."${table}"`);
    counts.set(table, Number(rows[0]?.n ?? 0));
  }
  const { rows } = await db.query<{ n: string }>(
    `select count(*) as n from "${target.schema}"._dedup where consumer = $1`,
    [target.consumerName],
  );
  counts.set('_dedup (distinct events)', Number(rows[0]?.n ?? 0));
  return counts;
}
