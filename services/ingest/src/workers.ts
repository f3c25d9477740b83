import cluster from 'node:cluster';
import type { Worker } from 'node:cluster';
import { once } from 'node:events';
import { readFile, readdir, stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { AggregatorRegistry, Registry, type Aggregator } from 'prom-client';
import type { IngestConfig } from './config.js';
import { IngestConfigError } from './errors.js';
import { publicReport, type ReadinessProbe } from './readiness.js';

/**
 * INGEST_WORKERS=N (N > 1): N ingest processes behind one public port, with node:cluster. The primary process only
 * supervises: it forks the workers, serves the operations port (/healthz failing when a worker's heartbeat stops,
 * /readyz ready when every worker is,
 * /metrics summed over the workers, CLUSTER_AGGREGATORS' gauges their largest value) and forwards SIGTERM / SIGINT. Each worker is a full ingest (src/main.ts):
 * its own producers, batcher, key store pool and, with the spool on, a spool directory of its own
 * (`<INGEST_SPOOL_DIR>/worker-<i>`: a spool directory is locked by one process). The primary accepts the
 * connections and hands them to the workers in turn (node's round-robin scheduling).
 *
 * A worker that exits while the ingest is not stopping takes the others down (the primary stops them and exits 1):
 * the supervisor that restarts a crashed single-process ingest (docker, systemd, kubernetes, npm start) restarts
 * the whole group, and no webhook is answered by a half-started group.
 */

/** A worker's message to the primary once its public port listens. */
const LISTENING = 'ingest:listening';

/** In a worker: tells the primary that this worker listens (the primary starts the next ones then). */
export function announceListening(): void {
  process.send?.({ type: LISTENING });
}

/** A worker's message to the primary every HEARTBEAT_MS, from its first moments (start-up included). */
const ALIVE = 'ingest:alive';
const HEARTBEAT_MS = 1000;
/** A worker silent for longer than this (its event loop stuck) makes the primary's /healthz answer 503. */
export const SILENT_WORKER_MS = 10_000;

/**
 * In a worker: tells the primary every second that this worker's event loop turns (the primary's /healthz, the
 * liveness probe of the group, fails when one is stuck). The timer does not keep the process alive.
 */
export function sendHeartbeats(): void {
  const beat = () => {
    if (process.connected) process.send?.({ type: ALIVE });
  };
  beat();
  setInterval(beat, HEARTBEAT_MS).unref();
}

/** The worker's index (0..N-1), set by the primary in the worker's environment. */
export const WORKER_INDEX_VARIABLE = 'INGEST_WORKER_INDEX';

interface ReadyzRequest {
  readonly type: 'ingest:readyz';
  readonly id: number;
}
interface ReadyzAnswer {
  readonly type: 'ingest:readyz-answer';
  readonly id: number;
  readonly report: ReturnType<typeof publicReport>;
}

/** This process's worker index when it is a worker of INGEST_WORKERS > 1, else undefined. */
export function workerIndex(): number | undefined {
  if (!cluster.isWorker) return undefined;
  const raw = process.env[WORKER_INDEX_VARIABLE];
  return raw === undefined ? undefined : Number(raw);
}

/** The environment of worker `index`: its index and, with the spool on, its own spool subdirectory. */
export function workerEnv(config: IngestConfig, index: number): Record<string, string> {
  return {
    [WORKER_INDEX_VARIABLE]: String(index),
    ...(config.spool === undefined ? {} : { INGEST_SPOOL_DIR: join(config.spool.dir, `worker-${index}`) }),
  };
}

/** A spool segment's file name (src/spool/disk-spool.ts): its sequence number, 20 digits. */
const SEGMENT_FILE = /^(\d{20})\.seg$/;

/**
 * Whether `dir` holds a segment not wholly acknowledged by its drain cursor (src/spool/disk-spool.ts: the cursor
 * file `drain-cursor.json` names the first unacknowledged position). A missing directory holds none.
 */
async function holdsUndrainedSegments(dir: string): Promise<boolean> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return false;
  }
  let cursor: { segment: number; offset: number } | undefined;
  try {
    const parsed = JSON.parse(await readFile(join(dir, 'drain-cursor.json'), 'utf8')) as {
      segment?: unknown;
      offset?: unknown;
    };
    if (Number.isSafeInteger(parsed.segment) && Number.isSafeInteger(parsed.offset))
      cursor = { segment: parsed.segment as number, offset: parsed.offset as number };
  } catch {
    // missing or unreadable: the spool re-sends from its first segment, so every segment counts
  }
  for (const name of names) {
    const seq = Number(SEGMENT_FILE.exec(name)?.[1] ?? Number.NaN);
    if (Number.isNaN(seq)) continue;
    if (cursor !== undefined && seq < cursor.segment) continue;
    const size = (await stat(join(dir, name))).size;
    if (size === 0) continue;
    if (cursor !== undefined && seq === cursor.segment && size <= cursor.offset) continue;
    return true;
  }
  return false;
}

/**
 * The spool directories this INGEST_WORKERS does not own that still hold undrained segments: with N = 1 every
 * `<dir>/worker-<j>`; with N > 1 `<dir>` itself and `<dir>/worker-<j>` for j >= N. Those records were answered 200
 * (LiveChat does not resend them) and no process of this N would ever read them again.
 */
export async function findStrandedSpools(config: IngestConfig): Promise<string[]> {
  if (config.spool === undefined) return [];
  const dir = config.spool.dir;
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const candidates = names
    .map((name) => /^worker-(\d+)$/.exec(name))
    .filter(
      (m): m is RegExpExecArray => m !== null && (config.workers === 1 || Number(m[1]) >= config.workers),
    )
    .map((m) => join(dir, m[0]));
  if (config.workers > 1) candidates.unshift(dir);
  const stranded: string[] = [];
  for (const candidate of candidates) if (await holdsUndrainedSegments(candidate)) stranded.push(candidate);
  return stranded;
}

/**
 * At start-up (the single process, or the primary of N > 1): refuses to start (IngestConfigError, exit 2) while a
 * spool directory this INGEST_WORKERS does not own holds undrained segments, naming them. Start once more with the
 * INGEST_WORKERS that wrote them (it drains them once Kafka acknowledges), then change it.
 */
export async function refuseStrandedSpools(config: IngestConfig): Promise<void> {
  const stranded = await findStrandedSpools(config);
  if (stranded.length === 0) return;
  throw new IngestConfigError([
    `INGEST_WORKERS=${config.workers} does not drain the spool director${stranded.length === 1 ? 'y' : 'ies'} ${stranded.join(', ')}, which hold${stranded.length === 1 ? 's' : ''} undrained webhooks (answered 200, not yet on Kafka): start with the INGEST_WORKERS that wrote them until they drain, then change it`,
  ]);
}

/**
 * How the primary combines the workers' values of a gauge that a sum would make wrong (prom-client sums every metric
 * that names no aggregator): the partition count is the topic's, the same in every worker; `ingest_spool_active` is
 * 1 while any worker spools; the oldest record's age is the oldest of all; a high-water mark and a process limit are
 * per process (the largest of them). The other gauges (in-flight requests, producers, spool bytes and records) add up.
 */
export const CLUSTER_AGGREGATORS: ReadonlyMap<string, Aggregator> = new Map<string, Aggregator>([
  ['ingest_raw_topic_partitions', 'max'],
  ['ingest_spool_active', 'max'],
  ['ingest_spool_oldest_record_age_seconds', 'max'],
  ['ingest_spool_high_water_records', 'max'],
  ['ingest_spool_high_water_bytes', 'max'],
  ['ingest_process_max_fds', 'max'],
  ['ingest_nodejs_heap_size_limit_bytes', 'max'],
]);

/**
 * A worker's registry as the primary's aggregation reads it (prom-client asks `getMetricsAsJSON` over IPC): the
 * worker's metrics with CLUSTER_AGGREGATORS' aggregator set, so the definitions in metrics.ts stay those of a single
 * process.
 */
class ClusterView extends Registry {
  constructor(private readonly source: Registry) {
    super();
  }

  override async getMetricsAsJSON(): ReturnType<Registry['getMetricsAsJSON']> {
    const metrics = await this.source.getMetricsAsJSON();
    return metrics.map((metric) => {
      const aggregator = CLUSTER_AGGREGATORS.get(metric.name);
      return aggregator === undefined ? metric : { ...metric, aggregator };
    });
  }
}

/**
 * In a worker: answers the primary's readiness questions from this worker's probe, and lets the primary collect
 * this worker's metrics (prom-client's cluster aggregation, over the IPC channel).
 */
export function serveWorkerOperations(readiness: ReadinessProbe, registry: Registry): void {
  // Constructing one in a worker installs prom-client's answer to the primary's metrics requests.
  new AggregatorRegistry();
  AggregatorRegistry.setRegistries([new ClusterView(registry)]);
  process.on('message', (message: unknown) => {
    const m = message as Partial<ReadyzRequest> | null;
    if (m?.type !== 'ingest:readyz' || typeof m.id !== 'number') return;
    const id = m.id;
    readiness.check().then(
      (report) => process.send?.({ type: 'ingest:readyz-answer', id, report: publicReport(report) }),
      () =>
        process.send?.({
          type: 'ingest:readyz-answer',
          id,
          report: { ok: false, status: 'not_ready', checks: [] },
        }),
    );
  });
}

/**
 * Whether a worker's death by `signal` during a requested stop was not clean: any signal, except the primary's own
 * SIGTERM reaching a worker that did not listen yet (still starting, before its SIGTERM handler was installed), which
 * is the stop that was asked for.
 */
export function uncleanSignal(signal: string | null, listening: boolean): boolean {
  return signal !== null && !(signal === 'SIGTERM' && !listening);
}

/** How long the primary waits for a worker's readiness answer before it counts that worker as not ready. */
const READYZ_ANSWER_MS = 2000;

/**
 * The primary of INGEST_WORKERS > 1: forks the workers, serves the operations port, stops them on SIGTERM /
 * SIGINT. Resolves once the operations server listens; the process exits when the group has stopped.
 */
export async function runPrimary(config: IngestConfig, logger: Logger): Promise<void> {
  const workers = new Map<number, Worker>();
  /** When each worker was last heard of (any message, the heartbeat every second included). */
  const lastSeen = new Map<number, number>();
  let stopping = false;
  let exitCode = 0;
  const aggregator = new AggregatorRegistry();
  let nextId = 0;

  const askReady = (worker: Worker): Promise<ReadyzAnswer['report'] | undefined> =>
    new Promise((resolve) => {
      const id = nextId++;
      const timer = setTimeout(() => done(undefined), READYZ_ANSWER_MS);
      const onMessage = (message: unknown) => {
        const m = message as Partial<ReadyzAnswer> | null;
        if (m?.type === 'ingest:readyz-answer' && m.id === id) done(m.report);
      };
      const done = (report: ReadyzAnswer['report'] | undefined) => {
        clearTimeout(timer);
        worker.off('message', onMessage);
        resolve(report);
      };
      worker.on('message', onMessage);
      if (!worker.isConnected()) done(undefined);
      else worker.send({ type: 'ingest:readyz', id } satisfies ReadyzRequest);
    });

  const operations: Server = createServer((req, res) => {
    const json = (status: number, body: unknown) =>
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (req.url === '/healthz') {
      // The group is alive only if every worker's event loop is: a stuck worker still gets its share of the
      // connections, and only a failing liveness probe gets the group restarted.
      const now = Date.now();
      const silent = [...workers.keys()]
        .filter((i) => now - (lastSeen.get(i) ?? now) > SILENT_WORKER_MS)
        .sort((a, b) => a - b);
      if (silent.length === 0) json(200, { status: 'ok' });
      else json(503, { status: 'unhealthy', silentWorkers: silent });
    } else if (req.url === '/readyz') {
      const all = [...Array(config.workers).keys()];
      void Promise.all(
        all.map((i) => {
          const worker = workers.get(i);
          return worker === undefined ? Promise.resolve(undefined) : askReady(worker);
        }),
      ).then((reports) => {
        const ok = !stopping && reports.every((r) => r?.ok === true);
        const spooling = reports.some((r) => r?.status === 'degraded: spooling');
        json(ok ? 200 : 503, {
          ok,
          status: !ok ? 'not_ready' : spooling ? 'degraded: spooling' : 'ready',
          workers: reports.map((r, i) => ({
            worker: i,
            ok: r?.ok === true,
            status: r?.status ?? 'no answer',
          })),
        });
      });
    } else if (req.url === '/metrics') {
      aggregator.clusterMetrics().then(
        (text) => res.writeHead(200, { 'content-type': aggregator.contentType }).end(text),
        () => res.writeHead(500).end(),
      );
    } else {
      json(404, { code: 'NOT_FOUND' });
    }
  });

  const stopAll = (code: number) => {
    if (stopping) return;
    stopping = true;
    exitCode = code;
    logger.info({ workers: workers.size }, 'stopping the workers');
    for (const worker of workers.values()) worker.process.kill('SIGTERM');
    // Each worker has its own shutdown timeout; this one only catches a worker that ignores it.
    setTimeout(() => {
      for (const worker of workers.values()) worker.process.kill('SIGKILL');
    }, config.http.shutdownTimeoutMs + 5000).unref();
    if (workers.size === 0) finish();
  };
  const finish = () => {
    operations.close();
    operations.closeAllConnections();
    logger.info({ code: exitCode }, 'workers stopped');
    process.exit(exitCode);
  };

  const fork = (i: number): Worker => {
    const worker = cluster.fork(workerEnv(config, i));
    workers.set(i, worker);
    logger.info({ worker: i, pid: worker.process.pid }, 'ingest worker forked');
    // Once it listens, a worker has its SIGTERM handler (src/main.ts installs it before listening).
    let listening = false;
    lastSeen.set(i, Date.now());
    worker.on('message', (m: unknown) => {
      lastSeen.set(i, Date.now());
      if ((m as { type?: unknown } | null)?.type === LISTENING) listening = true;
    });
    worker.once('exit', (code, signal) => {
      workers.delete(i);
      lastSeen.delete(i);
      if (!stopping) {
        logger.error({ worker: i, code, signal }, 'an ingest worker exited; stopping the others');
        stopAll(1);
      } else if (code !== 0 || uncleanSignal(signal, listening)) {
        // A stop that was not clean (an error, or killed: the SIGKILL backstop of a worker that ignored its
        // shutdown timeout) fails the group as it fails a single process ("shutdown timed out", exit 1).
        logger.error({ worker: i, code, signal }, 'an ingest worker did not stop cleanly');
        exitCode = exitCode === 0 ? 1 : exitCode;
      }
      if (stopping && workers.size === 0) finish();
    });
    return worker;
  };
  process.once('SIGTERM', () => stopAll(0));
  process.once('SIGINT', () => stopAll(0));
  operations.listen(config.operations.port, config.operations.host);
  await once(operations, 'listening');

  // Worker 0 alone first: it creates the topic and registers the schema, which concurrent first starts would race
  // for (the registry refuses a second concurrent registration of a new subject); then the others together.
  const first = fork(0);
  const firstListening = await Promise.race([
    new Promise<boolean>((resolve) =>
      first.on('message', (m: unknown) => {
        if ((m as { type?: unknown } | null)?.type === LISTENING) resolve(true);
      }),
    ),
    once(first, 'exit').then(() => false),
  ]);
  if (!firstListening || stopping) return;
  for (let i = 1; i < config.workers; i++) fork(i);
  logger.info(
    {
      workers: config.workers,
      operations: `http://${config.operations.host}:${config.operations.port}`,
    },
    'ingest workers started',
  );
}
