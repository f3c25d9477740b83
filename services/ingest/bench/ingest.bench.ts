/**
 * Benchmark (not a test): the ingest on a real port, on the local stack, against a bare fastify route that only
 * parses the same body. Prints both rates, their ratio, p50/p99, p99 at half the ingest's peak rate, and the
 * ingest's peak RSS (VmHWM of its own child process), then one table (figure, value, target, anchor,
 * MET/MISSED/INVALID) with the load average before and after.
 *
 *   pnpm stack up && pnpm bench:ingest
 *
 * Honest figures (issue 18): the ingest runs with the configuration `npm start` gives it (scripts/main.ts: log level
 * `info`, the default, so one line per webhook; the spool on; `--max-semi-space-size=4`; every other default); a
 * BENCH_* knob that changes it makes the figures INVALID. Rates count 2xx answers only. Percentiles count every
 * non-2xx answer, error and timeout at the deadline (LiveChat's 10 s timeout, autocannon's request timeout). Any
 * failed request in the peak runs makes the ratio INVALID; the process exits 1 when a figure is INVALID.
 *
 * The peak runs are autocannon (closed loop, BENCH_CONNECTIONS connections). The half-rate run is open loop,
 * evenly paced (bench/paced-load.ts; see there why not autocannon's overallRate).
 *
 * Env: KAFKA_BROKERS, SCHEMA_REGISTRY_URL (default: the local stack), BENCH_CONNECTIONS (50), BENCH_DURATION_S (8 s
 * per measured run; `2` checks quickly that a run completes), BENCH_SPOOL (`0`: skip the spool runs). Experiments,
 * which make every figure INVALID: BENCH_PRODUCERS (INGEST_PRODUCERS), BENCH_LINGER_MS (INGEST_BATCH_LINGER_MS),
 * BENCH_NODE_FLAGS (node flags of the ingest process, space-separated; default npm start's `--max-semi-space-size=4`),
 * BENCH_CPU_PROF_DIR (write a V8 CPU profile of the ingest there). INGEST_LOG_LEVEL in the shell is ignored.
 *
 * The ingest runs with its on-disk spool on (INGEST_SPOOL_DIR in a temporary directory), as `npm start` does. After
 * the normal runs, unless BENCH_SPOOL=0 or the stack is not the managed native one (its broker is stopped and
 * started through @livechat-pipeline/local-stack): the broker is stopped and the ingest measured while spooling
 * (closed loop, as the peak run), then the broker is started and the ingest measured under the same load while its
 * drainer empties the spool, then the drain rate without load until the spool is empty.
 *
 * Encryption (issue 19), BENCH_PRIVACY: `on` (default, as `npm start` runs the ingest: the PRIVACY_* variables, keys
 * made for this run, a key store schema of its own in DATABASE_URL or the local stack's Postgres) runs every figure
 * with encryption on; `both` also starts a second ingest with encryption off and measures its peak right after the
 * main one's, under the same load: the table gets the on/off ratio (target >= 0.9x); `off` runs everything without.
 */
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadStackSettings, stackEndpoints, stackUp, stopComponent } from '@livechat-pipeline/local-stack';
import autocannon from 'autocannon';
import pg from 'pg';
import { pacedLoad } from './paced-load.js';
import {
  benchIngestEnv,
  configDifferences,
  exitCodeOf,
  ingestFigureRows,
  NPM_START_NODE_FLAGS,
  machineLoad,
  privacyFigureRow,
  renderFigureTable,
  summarizeRun,
  type RunSummary,
} from './figures.js';

const positive = (name: string, fallback: number): number => {
  const raw = process.env[name];
  const value = raw === undefined || raw === '' ? fallback : Number(raw);
  if (!(Number.isFinite(value) && value > 0))
    throw new Error(`${name} must be a positive number, got "${raw}"`);
  return value;
};
const CONNECTIONS = Math.floor(positive('BENCH_CONNECTIONS', 50));
/**
 * BENCH_PROCESSES=N (N > 1): the multi-process answer, N ingest workers behind one port (INGEST_WORKERS=N) against
 * N bare fastify workers behind one port (the same node:cluster model); RSS and CPU are summed over each side's
 * processes (the cluster's primary included).
 */
const PROCESSES = Math.floor(positive('BENCH_PROCESSES', 1));
/**
 * BENCH_RUN_FROM: how the ingest process is run. `tsx` (default, as `npm start` runs it today:
 * `node --import tsx src/main.ts`) or `dist` (the bundle of `pnpm --filter @livechat-pipeline/ingest build`,
 * `node dist/main.js`, built by the bench first).
 */
const RUN_FROM = ((): 'tsx' | 'dist' => {
  const value = process.env['BENCH_RUN_FROM'] ?? 'tsx';
  if (value === 'tsx' || value === 'dist') return value;
  throw new Error(`BENCH_RUN_FROM must be tsx or dist, got "${value}"`);
})();
/** Seconds per measured run (BENCH_DURATION_S=2 checks that a run completes; its figures mean little). */
const DURATION_S = positive('BENCH_DURATION_S', 8);
const PRODUCERS = process.env['BENCH_PRODUCERS'];
const LINGER_MS = process.env['BENCH_LINGER_MS'];
const SPOOL_RUNS = process.env['BENCH_SPOOL'] !== '0';
/**
 * LiveChat waits about 10 s for an answer: the p99 while spooling and draining must stay well inside it, and a
 * request that failed or got no answer counts at this deadline in every percentile.
 */
const LIVECHAT_TIMEOUT_MS = 10_000;
/** `BENCH_NODE_FLAGS=` for none: an experiment, whose figures the table marks INVALID. */
const NODE_FLAGS = (process.env['BENCH_NODE_FLAGS'] ?? NPM_START_NODE_FLAGS.join(' '))
  .split(' ')
  .filter((f) => f !== '');
/**
 * BENCH_PRIVACY: on (default: `npm start` runs with encryption of personal data on), off, or both (the main figures
 * with it on, plus a second ingest with it off for the on/off ratio, measured right before it).
 */
const PRIVACY = ((): 'off' | 'on' | 'both' => {
  const value = process.env['BENCH_PRIVACY'] ?? 'on';
  if (value === 'off' || value === 'on' || value === 'both') return value;
  throw new Error(`BENCH_PRIVACY must be off, on or both, got "${value}"`);
})();
/** How this run's ingest differs from the one `npm start` runs (any difference makes the figures INVALID). */
const CONFIG_DIFFERENCES = [
  ...configDifferences({
    producers: PRODUCERS,
    lingerMs: LINGER_MS,
    nodeFlags: NODE_FLAGS,
    cpuProfDir: process.env['BENCH_CPU_PROF_DIR'],
  }),
  ...(PRIVACY === 'off' ? ['encryption off (BENCH_PRIVACY=off)'] : []),
  // npm start runs the ingest with tsx: the bundle is an experiment until it does.
  ...(RUN_FROM === 'dist' ? ['run from the bundle dist/main.js (BENCH_RUN_FROM=dist)'] : []),
];
/** The target of the on/off ratio (issue 19: encryption costs at most 10 % of the throughput). */
const PRIVACY_TARGET_RATIO = 0.9;
const PRIVACY_DATABASE_URL = process.env['DATABASE_URL'] ?? stackEndpoints(loadStackSettings()).databaseUrl;
const PRIVACY_SCHEMA = `bench_pv_${Date.now().toString(36)}`;
/** Encryption on: master key and e-mail hash key made for this run (never stored), a key store schema of its own. */
const PRIVACY_ENV: Readonly<Record<string, string>> = {
  PRIVACY_KEYS: `bench:${randomBytes(32).toString('base64')}`,
  PRIVACY_EMAIL_HASH_KEY: randomBytes(32).toString('base64'),
  PRIVACY_DATABASE_URL,
  PRIVACY_SCHEMA,
};
const HEADERS = { 'content-type': 'application/json', 'user-agent': 'LiveChat-Webhooks/bench' } as const;
const SECRET = `bench-${randomBytes(8).toString('hex')}`;
const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

/** A realistic v3.6 incoming_event delivery of about 2.5 KB; the chat and event ids vary per request. */
function webhookBody(n: number): string {
  const chat = `BENCH${(n % 5000).toString(36).toUpperCase().padStart(5, '0')}`;
  return JSON.stringify({
    webhook_id: '9f2a6c1e5b7d4e0f8a3c2b1d0e9f8a7b',
    secret_key: SECRET,
    action: 'incoming_event',
    organization_id: 'f9c7cc55-b35a-4e76-b0d5-ae9fce362314',
    payload: {
      chat_id: chat,
      thread_id: `${chat}T1`,
      event: {
        id: `${chat}T1_${n}`,
        custom_id: '31-0C-1C-07-DB-16',
        type: 'message',
        author_id: 'b7eff798-f8df-4364-8059-649c35c9ed0c',
        created_at: '2026-11-09T12:02:01.010200Z',
        visibility: 'all',
        text:
          'Hello, I ordered a pair of running shoes last week (order #A-1029-7731) and the tracking page still says ' +
          '"label created". Could you check whether the parcel has left the warehouse? I also wanted to ask whether ' +
          'I can still change the size from 42 to 42.5, and whether the discount code SPRING-15 applies to the second ' +
          'pair I am about to order. Thanks a lot — Żaneta.',
        properties: {
          lc2: { welcome_message: false },
          routing: { continuous: false, pinned: false },
          source: {
            client_id: 'c6e4f62e2a2dab12531235b12c5a2a6b',
            customer_client_id: 'c6e4f62e2a2dab12531235b12c5a2a6b',
          },
        },
      },
    },
    additional_data: {
      chat_properties: {
        routing: {
          continuous: false,
          pinned: false,
          email_follow_up: false,
          idle: false,
          unassigned: false,
          start_url: 'https://shop.example/checkout/step-2?utm_source=newsletter&utm_medium=email',
        },
        source: {
          client_id: 'c6e4f62e2a2dab12531235b12c5a2a6b',
          customer_client_id: 'c6e4f62e2a2dab12531235b12c5a2a6b',
        },
        rating: { score: null, comment: null },
        supervising: { agent_ids: '' },
      },
      chat_presence_user_ids: [
        'smith@example.com',
        'b7eff798-f8df-4364-8059-649c35c9ed0c',
        'jones@example.com',
      ],
      customer: {
        id: 'b7eff798-f8df-4364-8059-649c35c9ed0c',
        name: 'Żaneta Kowalska',
        email: 'zaneta.k@example.com',
        session_fields: [{ plan: 'pro' }, { cart_value: '129.00' }, { locale: 'pl-PL' }],
        visit: {
          ip: '203.0.113.7',
          user_agent:
            'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36',
          geolocation: {
            country: 'Poland',
            country_code: 'PL',
            region: 'Lower Silesia',
            city: 'Wroclaw',
            timezone: 'Europe/Warsaw',
          },
          last_pages: [
            {
              opened_at: '2026-11-09T11:58:40.071345Z',
              url: 'https://shop.example/running/shoes-x2',
              title: 'Runner X2 — Shop',
            },
            {
              opened_at: '2026-11-09T12:00:12.071345Z',
              url: 'https://shop.example/checkout/step-2',
              title: 'Checkout — Shop',
            },
          ],
        },
      },
    },
  });
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

/** Lines each child wrote to stdout (the ingest's pino log: at info, one per accepted webhook). */
const stdoutLines = new Map<ChildProcess, number>();

function startChild(script: string, env: Readonly<Record<string, string>>): ChildProcess {
  const isIngest = script.endsWith('main.ts');
  const profDir = process.env['BENCH_CPU_PROF_DIR'];
  const flags = isIngest
    ? [...NODE_FLAGS, ...(profDir === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', profDir])]
    : [];
  // As `pnpm --filter @livechat-pipeline/ingest start` runs it (tsx; BENCH_RUN_FROM=dist: start:dist).
  const childEnv = isIngest ? benchIngestEnv(process.env, env) : { ...process.env, ...env };
  const entry = isIngest && RUN_FROM === 'dist' ? [here('../dist/main.js')] : ['--import', 'tsx', script];
  const child = spawn(process.execPath, [...flags, ...entry], {
    cwd: here('..'),
    env: childEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stderr?.on('data', (chunk: Buffer) =>
    process.stderr.write(`[${script.split('/').pop()}] ${chunk.toString()}`),
  );
  // The log lines are read and dropped here, as a log shipper would read them (npm start hands them to its stdout).
  child.stdout?.on('data', (chunk: Buffer) => {
    for (let i = chunk.indexOf(10); i >= 0; i = chunk.indexOf(10, i + 1))
      stdoutLines.set(child, (stdoutLines.get(child) ?? 0) + 1);
  });
  return child;
}

async function waitReady(
  url: string,
  child: ChildProcess,
  anyStatus = false,
  timeoutMs = 90_000,
): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (child.exitCode !== null) throw new Error(`${url}: process exited with ${child.exitCode}`);
    try {
      const res = await fetch(url);
      if (res.ok || anyStatus) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${url} not ready within ${timeoutMs} ms`);
}

/** The process and its descendants (BENCH_PROCESSES > 1: the cluster's primary and its workers), from /proc. */
function processTree(pid: number): number[] {
  const parents = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const ppid = Number(readFileSync(`/proc/${entry}/stat`, 'utf8').split(') ')[1]?.split(' ')[1]);
      parents.set(ppid, [...(parents.get(ppid) ?? []), Number(entry)]);
    } catch {
      // exited meanwhile
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    out.push(p);
    for (const c of parents.get(p) ?? []) walk(c);
  };
  walk(pid);
  return out;
}

/** VmHWM or VmRSS summed over the process tree (one process: its own). */
function treeVm(pid: number, field: 'VmHWM' | 'VmRSS'): number {
  return processTree(pid).reduce((sum, p) => sum + vm(p, field), 0);
}

/** CPU seconds (user + system) of the process tree so far (children that exited are not counted). */
function treeCpuSeconds(pid: number): number {
  return processTree(pid).reduce((sum, p) => sum + cpuSeconds(p), 0);
}

function vm(pid: number, field: 'VmHWM' | 'VmRSS'): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1];
  return kb === undefined ? Number.NaN : Number(kb) / 1024;
}

/** CPU seconds (user + system) used by a process so far. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
}

/** A closed-loop autocannon run; every answer's status and latency is taken from autocannon's `response` events. */
async function load(url: string, offset = 0): Promise<RunSummary> {
  let n = offset;
  const okLatenciesMs: number[] = [];
  let non2xx = 0;
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url,
        connections: CONNECTIONS,
        duration: DURATION_S,
        timeout: LIVECHAT_TIMEOUT_MS / 1000,
        method: 'POST',
        headers: HEADERS,
        requests: [{ setupRequest: (req) => ({ ...req, body: webhookBody(n++) }) }],
      },
      (error, done) => (error ? reject(error) : resolve(done)),
    );
    instance.on('response', (_client, statusCode, _bytes, responseTime) => {
      if (statusCode >= 200 && statusCode < 300) okLatenciesMs.push(responseTime);
      else non2xx++;
    });
  });
  return summarizeRun(
    {
      okLatenciesMs,
      non2xx,
      errors: result.errors - result.timeouts, // autocannon's errors include its timeouts
      timeouts: result.timeouts,
      seconds: result.duration,
    },
    LIVECHAT_TIMEOUT_MS,
  );
}

const fmt = (r: RunSummary) =>
  `${r.rps.toFixed(0).padStart(7)} 2xx req/s  p50 ${r.p50.toFixed(1).padStart(5)} ms  p99 ${r.p99.toFixed(1).padStart(5)} ms  (${r.ok} 2xx; non-2xx ${r.non2xx}, errors ${r.errors}, timeouts ${r.timeouts}: counted at ${LIVECHAT_TIMEOUT_MS} ms)`;

const load1 = () => loadavg()[0]?.toFixed(2) ?? '?';

/** Returns the exit code: 1 when a figure of the closing table is INVALID. */
async function main(): Promise<number> {
  const ingestPort = await freePort();
  const operationsPort = await freePort();
  const barePort = await freePort();
  const topic = `bench-raw-${Date.now().toString(36)}`;
  const bodyBytes = Buffer.byteLength(webhookBody(0));
  const loadBefore = load1();
  const machineBefore = machineLoad();
  console.log(
    `body ≈ ${bodyBytes} bytes, ${CONNECTIONS} connections, ${DURATION_S} s per run, topic ${topic}, load average ${loadBefore}`,
  );
  if (process.env['INGEST_LOG_LEVEL'] !== undefined)
    console.log(
      `INGEST_LOG_LEVEL=${process.env['INGEST_LOG_LEVEL']} ignored: the ingest runs at npm start's default, info`,
    );

  if (RUN_FROM === 'dist') {
    const built = spawnSync(process.execPath, ['--import', 'tsx', here('../build.ts')], { stdio: 'inherit' });
    if (built.status !== 0) throw new Error(`the ingest build failed (exit ${built.status})`);
  }
  const spoolDir = mkdtempSync(join(tmpdir(), 'bench-ingest-spool-'));
  const ingest = startChild(here('../src/main.ts'), {
    INGEST_SPOOL_DIR: spoolDir,
    INGEST_HOST: '127.0.0.1',
    INGEST_PORT: String(ingestPort),
    INGEST_OPERATIONS_PORT: String(operationsPort),
    LIVECHAT_SECRET_KEYS: SECRET,
    RAW_WEBHOOK_TOPIC: topic,
    ...(PRODUCERS === undefined ? {} : { INGEST_PRODUCERS: PRODUCERS }),
    ...(LINGER_MS === undefined ? {} : { INGEST_BATCH_LINGER_MS: LINGER_MS }),
    ...(PROCESSES > 1 ? { INGEST_WORKERS: String(PROCESSES) } : {}),
    ...(PRIVACY === 'off' ? {} : PRIVACY_ENV),
  });
  // BENCH_PRIVACY=both: the same ingest with encryption off, on ports, a spool and a topic of its own.
  const offPorts =
    PRIVACY === 'both' ? { ingest: await freePort(), operations: await freePort() } : undefined;
  const offSpoolDir = offPorts ? mkdtempSync(join(tmpdir(), 'bench-ingest-spool-off-')) : undefined;
  let ingestOff: ChildProcess | undefined =
    offPorts && offSpoolDir
      ? startChild(here('../src/main.ts'), {
          INGEST_SPOOL_DIR: offSpoolDir,
          INGEST_HOST: '127.0.0.1',
          INGEST_PORT: String(offPorts.ingest),
          INGEST_OPERATIONS_PORT: String(offPorts.operations),
          LIVECHAT_SECRET_KEYS: SECRET,
          RAW_WEBHOOK_TOPIC: `${topic}-off`,
          ...(PRODUCERS === undefined ? {} : { INGEST_PRODUCERS: PRODUCERS }),
          ...(LINGER_MS === undefined ? {} : { INGEST_BATCH_LINGER_MS: LINGER_MS }),
          ...(PROCESSES > 1 ? { INGEST_WORKERS: String(PROCESSES) } : {}),
        })
      : undefined;
  const stopIngestOff = async (): Promise<void> => {
    const child = ingestOff;
    ingestOff = undefined;
    if (child === undefined || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  };
  const bare = startChild(here('./bare-server.ts'), {
    BARE_PORT: String(barePort),
    ...(PROCESSES > 1 ? { BARE_WORKERS: String(PROCESSES) } : {}),
  });
  try {
    await Promise.all([
      waitReady(`http://127.0.0.1:${operationsPort}/readyz`, ingest),
      waitReady(`http://127.0.0.1:${barePort}/`, bare, true), // any answer (404) means listening
      ...(ingestOff && offPorts
        ? [waitReady(`http://127.0.0.1:${offPorts.operations}/readyz`, ingestOff)]
        : []),
    ]);

    const ingestUrl = `http://127.0.0.1:${ingestPort}/webhooks/livechat`;
    const bareUrl = `http://127.0.0.1:${barePort}/webhooks/livechat`;
    const ingestOffUrl = offPorts ? `http://127.0.0.1:${offPorts.ingest}/webhooks/livechat` : undefined;
    // Warm-up of each (JIT, connections, producer metadata; with encryption on, the chats' keys too).
    for (const url of [ingestUrl, bareUrl, ...(ingestOffUrl === undefined ? [] : [ingestOffUrl])]) {
      let n = 0;
      await autocannon({
        url,
        connections: 10,
        duration: 2,
        method: 'POST',
        headers: HEADERS,
        requests: [{ setupRequest: (req) => ({ ...req, body: webhookBody(1_000_000 + n++) }) }],
      });
    }

    const bareRun = await load(bareUrl);
    const loadPeak = load1();
    const cpuBefore = treeCpuSeconds(ingest.pid ?? 0);
    const peakStartMicros = Number(process.hrtime.bigint() / 1000n);
    const ingestRun = await load(ingestUrl);
    const peakEndMicros = Number(process.hrtime.bigint() / 1000n);
    const cpuPeak = treeCpuSeconds(ingest.pid ?? 0) - cpuBefore;
    // The peak run's window on the monotonic clock of the profile's timestamps (bench/profile-summary.ts reads it).
    const profDir = process.env['BENCH_CPU_PROF_DIR'];
    if (profDir !== undefined)
      writeFileSync(
        join(profDir, 'peak-window.json'),
        JSON.stringify({ start: peakStartMicros, end: peakEndMicros }),
      );
    // Proof that the ingest sealed what it stored (encryption on): its seal histogram counted the batches.
    const sealBatches =
      PRIVACY === 'off'
        ? 0
        : await metric(`http://127.0.0.1:${operationsPort}`, 'ingest_privacy_seal_seconds_count');
    // BENCH_PRIVACY=both: right after the peak with encryption on, under the same load, the peak with it off; then
    // that process stops.
    let ingestOffRun: RunSummary | undefined;
    let cpuPeakOff = 0;
    if (ingestOffUrl !== undefined && ingestOff !== undefined) {
      const cpuOffBefore = treeCpuSeconds(ingestOff.pid ?? 0);
      ingestOffRun = await load(ingestOffUrl);
      cpuPeakOff = treeCpuSeconds(ingestOff.pid ?? 0) - cpuOffBefore;
      await stopIngestOff();
    }
    const halfRate = Math.max(1, Math.floor(ingestRun.rps / 2));
    const paced = await pacedLoad({
      host: '127.0.0.1',
      port: ingestPort,
      path: '/webhooks/livechat',
      rate: halfRate,
      durationS: DURATION_S,
      connections: CONNECTIONS,
      headers: HEADERS,
      body: (n) => webhookBody(2_000_000 + n),
    });
    const halfRun = summarizeRun(paced.sample, LIVECHAT_TIMEOUT_MS);
    const peakRssMb = treeVm(ingest.pid ?? 0, 'VmHWM');
    const bareRssMb = treeVm(bare.pid ?? 0, 'VmHWM');
    const rssMb = treeVm(ingest.pid ?? 0, 'VmRSS');
    const metrics = await (await fetch(`http://127.0.0.1:${operationsPort}/metrics`)).text();
    const batches = /^ingest_batch_records_count (\d+)/m.exec(metrics)?.[1];
    const records = /^ingest_batch_records_sum (\d+)/m.exec(metrics)?.[1];
    const producers = /^ingest_producers (\d+)/m.exec(metrics)?.[1] ?? PRODUCERS ?? 'default';
    // Where the RSS is (after the peak and half-rate runs): V8's heap and the memory outside it that V8 knows of.
    const mb = (name: string) =>
      (Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(metrics)?.[1] ?? Number.NaN) / 1024 / 1024).toFixed(1);
    const memoryLine = `heap total ${mb('ingest_nodejs_heap_size_total_bytes')} MB (used ${mb('ingest_nodejs_heap_size_used_bytes')} MB), external ${mb('ingest_nodejs_external_memory_bytes')} MB, resident ${mb('ingest_process_resident_memory_bytes')} MB${PROCESSES > 1 ? ' (summed over the workers)' : ''}`;

    const spoolRunLines: string[] = [];
    let spoolSummary: string[] = [];
    if (SPOOL_RUNS) {
      spoolSummary = await spoolRuns({
        ingestUrl,
        operationsUrl: `http://127.0.0.1:${operationsPort}`,
        normal: ingestRun,
        print: (line) => spoolRunLines.push(line),
      });
    }
    const ms = (v: number) => `${v.toFixed(1)} ms`;
    console.log('');
    console.log(`bare fastify route : ${fmt(bareRun)}`);
    console.log(`ingest (peak)      : ${fmt(ingestRun)}`);
    if (ingestOffRun) console.log(`ingest unencrypted : ${fmt(ingestOffRun)}`);
    console.log(
      `ingest @ ${String(halfRate).padStart(5)} req/s: ${halfRun.rps.toFixed(0).padStart(7)} 2xx req/s  p50 ${ms(halfRun.p50)}  p99 ${ms(halfRun.p99)}  p99.9 ${ms(halfRun.p999)}  max ${ms(halfRun.max)}  (${halfRun.ok} 2xx; non-2xx ${halfRun.non2xx}, errors ${halfRun.errors}, unanswered ${halfRun.timeouts}: counted at ${LIVECHAT_TIMEOUT_MS} ms; waited for a connection ${paced.queued})`,
    );
    for (const line of spoolRunLines) console.log(line);
    console.log('');
    console.log('==================== ingest benchmark summary ====================');
    console.log(
      `settings           : ingest run ${RUN_FROM === 'dist' ? 'from the bundle, node dist/main.js (start:dist)' : 'with node --import tsx src/main.ts (start)'}, ${PROCESSES > 1 ? `${PROCESSES} processes each side (node:cluster, INGEST_WORKERS / BARE_WORKERS), ` : ''}body ${bodyBytes} B, ${CONNECTIONS} connections, ${DURATION_S} s per run, producers ${producers}, linger ${LINGER_MS ?? 'default (2)'} ms${NODE_FLAGS.length > 0 ? `, node ${NODE_FLAGS.join(' ')}` : ''}, log level info`,
    );
    console.log(
      `configuration      : ${CONFIG_DIFFERENCES.length === 0 ? "npm start's (log level info, spool on, node --max-semi-space-size=4, every other default)" : `NOT npm start's: ${CONFIG_DIFFERENCES.join(', ')}`}`,
    );
    console.log(
      `load average (1m)  : ${loadBefore} before, ${loadPeak} after the bare run, ${load1()} at the end (2 cores incl. broker, registry, Postgres, load generator)`,
    );
    console.log(`bare route         : ${fmt(bareRun)}`);
    console.log(
      `encryption         : ${PRIVACY === 'both' ? "on for the figures above (npm start's); a second ingest with it off for the on/off ratio" : PRIVACY === 'on' ? "on (npm start's)" : "off (not npm start's)"}`,
    );
    console.log(`ingest peak        : ${fmt(ingestRun)}`);
    if (PRIVACY !== 'off')
      console.log(
        `ingest seals       : ${sealBatches} produce batches sealed (ingest_privacy_seal_seconds_count)`,
      );
    if (ingestOffRun) {
      console.log(`ingest peak (off)  : ${fmt(ingestOffRun)}`);
      console.log(
        `ingest CPU (off)   : ${((cpuPeakOff / DURATION_S) * 100).toFixed(0)}% of a core, ${((cpuPeakOff * 1e6) / Math.max(1, ingestOffRun.ok)).toFixed(0)} µs per 2xx request`,
      );
    }
    console.log(
      `ingest CPU at peak : ${((cpuPeak / DURATION_S) * 100).toFixed(0)}% of a core, ${((cpuPeak * 1e6) / Math.max(1, ingestRun.ok)).toFixed(0)} µs per 2xx request`,
    );
    console.log(
      `ingest RSS         : ${peakRssMb.toFixed(1)} MB peak (VmHWM${PROCESSES > 1 ? `, summed over the primary and ${PROCESSES} workers` : ''}), now ${rssMb.toFixed(1)} MB; bare route ${bareRssMb.toFixed(1)} MB peak`,
    );
    console.log(`ingest memory      : ${memoryLine}`);
    console.log(
      `ingest log         : ${stdoutLines.get(ingest) ?? 0} lines on stdout (level info: one per accepted webhook)`,
    );
    if (batches !== undefined && records !== undefined) {
      console.log(
        `batches            : ${batches} batches, ${(Number(records) / Number(batches)).toFixed(1)} records per batch on average`,
      );
    }
    for (const line of spoolSummary) console.log(line);
    const rows = ingestFigureRows({
      bare: bareRun,
      peak: ingestRun,
      half: halfRun,
      halfRate,
      peakRssMb,
      deadlineMs: LIVECHAT_TIMEOUT_MS,
      configDifferences: CONFIG_DIFFERENCES,
      processes: PROCESSES,
      targets: { ratio: 0.5, p99Ms: 20, rssMb: 150 * PROCESSES },
    });
    if (ingestOffRun)
      rows.push(
        privacyFigureRow(ingestOffRun, ingestRun, PRIVACY_TARGET_RATIO, CONFIG_DIFFERENCES, sealBatches),
      );
    console.log('');
    for (const line of renderFigureTable(rows, machineBefore, machineLoad())) console.log(line);
    console.log('==================================================================');
    return exitCodeOf(rows);
  } finally {
    await stopIngestOff();
    ingest.kill('SIGTERM');
    bare.kill('SIGTERM');
    await new Promise((resolve) => ingest.once('exit', resolve));
    rmSync(spoolDir, { recursive: true, force: true });
    if (offSpoolDir !== undefined) rmSync(offSpoolDir, { recursive: true, force: true });
    if (PRIVACY !== 'off') await dropPrivacySchema();
  }
}

/** The run's key store schema (its keys are useless once the run's master key is gone). */
async function dropPrivacySchema(): Promise<void> {
  const client = new pg.Client({ connectionString: PRIVACY_DATABASE_URL });
  try {
    await client.connect();
    await client.query(`drop schema if exists "${PRIVACY_SCHEMA}" cascade`);
  } catch (error) {
    console.error(`could not drop the key store schema ${PRIVACY_SCHEMA}: ${String(error)}`);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** A metric's value from a Prometheus text exposition. */
async function metric(operationsUrl: string, name: string): Promise<number> {
  const text = await (await fetch(`${operationsUrl}/metrics`)).text();
  return Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? Number.NaN);
}

async function until(what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<number> {
  const started = performance.now();
  while (!(await check())) {
    if (performance.now() - started > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return performance.now() - started;
}

/** The spool runs (broker stopped, then started); returns the summary lines. */
async function spoolRuns(o: {
  ingestUrl: string;
  operationsUrl: string;
  normal: RunSummary;
  print: (line: string) => void;
}): Promise<string[]> {
  const settings = loadStackSettings();
  const local = stackEndpoints(settings).kafkaBrokers;
  const brokers = process.env['KAFKA_BROKERS'];
  if (brokers !== undefined && brokers !== local) {
    return [
      `spool runs         : skipped (KAFKA_BROKERS=${brokers} is not the managed local stack's ${local})`,
    ];
  }
  const ok = (pass: boolean) => (pass ? 'MET' : 'MISSED');
  await stopComponent('kafka', settings);
  let kafkaStopped = true;
  try {
    // The first webhook waits INGEST_SPOOL_AFTER_MS for Kafka, then the ingest spools: measure from then on.
    await fetch(o.ingestUrl, { method: 'POST', headers: HEADERS, body: webhookBody(3_000_000) });
    await until('spooling', 30_000, async () => (await metric(o.operationsUrl, 'ingest_spool_active')) === 1);
    const spooling = await load(o.ingestUrl, 4_000_000);
    o.print(`ingest spooling    : ${fmt(spooling)}`);
    const spooled = await metric(o.operationsUrl, 'ingest_spool_records');
    const spoolBytes = await metric(o.operationsUrl, 'ingest_spool_bytes');
    const commits = await metric(o.operationsUrl, 'ingest_spool_commit_records_count');
    const committed = await metric(o.operationsUrl, 'ingest_spool_commit_records_sum');

    const restartStarted = performance.now();
    await stackUp(settings);
    kafkaStopped = false;
    const restartMs = performance.now() - restartStarted;
    const drainedBefore = await metric(o.operationsUrl, 'ingest_spool_drained_records_total');
    const drainStarted = performance.now();
    const draining = await load(o.ingestUrl, 5_000_000);
    o.print(`ingest draining    : ${fmt(draining)}`);
    const drainedUnderLoad =
      (await metric(o.operationsUrl, 'ingest_spool_drained_records_total')) - drainedBefore;
    const underLoadS = (performance.now() - drainStarted) / 1000;
    const left = await metric(o.operationsUrl, 'ingest_spool_records');
    const restStarted = performance.now();
    await until(
      'spool drained',
      600_000,
      async () => (await metric(o.operationsUrl, 'ingest_spool_active')) === 0,
    );
    const restS = (performance.now() - restStarted) / 1000;
    const drainRate = left / restS;

    const spoolRatio = spooling.rps / o.normal.rps;
    const drainRatio = draining.rps / o.normal.rps;
    return [
      `spooling (Kafka down): ${spooling.rps.toFixed(0)} req/s = ${spoolRatio.toFixed(2)}x the normal peak   p50 ${spooling.p50.toFixed(1)} ms   p99 ${spooling.p99.toFixed(1)} ms   (failed ${spooling.failed}: non-2xx ${spooling.non2xx}, errors ${spooling.errors}, timeouts ${spooling.timeouts})`,
      `  p99 while spooling: ${spooling.p99.toFixed(1)} ms   (target < ${LIVECHAT_TIMEOUT_MS} ms, LiveChat's timeout, at which failures count)  ${ok(spooling.p99 < LIVECHAT_TIMEOUT_MS)}`,
      `  rate while spooling: ${spoolRatio.toFixed(2)}x the normal peak   (target >= 0.5x)  ${spooling.failed > 0 ? 'INVALID (failed requests)' : ok(spoolRatio >= 0.5)}`,
      `  group commit      : ${(committed / commits).toFixed(1)} records per fdatasync on average (${commits} commits); spool ${spooled} records, ${(spoolBytes / 1e6).toFixed(1)} MB`,
      `draining (under load): ${draining.rps.toFixed(0)} req/s = ${drainRatio.toFixed(2)}x the normal peak   p50 ${draining.p50.toFixed(1)} ms   p99 ${draining.p99.toFixed(1)} ms   (failed ${draining.failed}; broker restart took ${(restartMs / 1000).toFixed(1)} s before it)`,
      `  p99 while draining: ${draining.p99.toFixed(1)} ms   (target < ${LIVECHAT_TIMEOUT_MS} ms)  ${ok(draining.p99 < LIVECHAT_TIMEOUT_MS)}`,
      `  drained under load: ${drainedUnderLoad} records in ${underLoadS.toFixed(1)} s (${(drainedUnderLoad / underLoadS).toFixed(0)} records/s while new webhooks kept being spooled)`,
      left < 1000
        ? `drain without load   : only ${left} records were left after the load run (too few to measure a rate)`
        : `drain without load   : ${left} records in ${restS.toFixed(1)} s = ${drainRate.toFixed(0)} records/s = ${(drainRate / o.normal.rps).toFixed(2)}x the normal peak   (target >= the spooling rate, ${spooling.rps.toFixed(0)}/s)  ${ok(drainRate >= spooling.rps)}`,
    ];
  } finally {
    if (kafkaStopped) await stackUp(settings);
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    console.error('Is the local stack up? `pnpm stack up`');
    process.exit(1);
  },
);
