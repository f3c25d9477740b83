import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stackEndpoints, uniqueName } from '@livechat-pipeline/testkit';
import { afterAll, describe, expect, it } from 'vitest';
import { FIXTURE_V3_SECRET, fixture } from './support/fixtures.js';
import { readRawRecords } from './support/harness.js';

const main = fileURLToPath(new URL('../src/main.ts', import.meta.url));

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      srv.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0));
    });
    srv.on('error', reject);
  });
}

/** One POST on a connection of its own (the cluster's primary hands each new connection to the next worker). */
function post(port: number, body: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: '/webhooks/livechat',
        method: 'POST',
        agent: false,
        headers: { 'content-type': 'application/json', connection: 'close' },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

async function until<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined>): Promise<T> {
  const started = Date.now();
  for (;;) {
    const value = await check().catch((error: unknown) => {
      if (error instanceof Error && error.message.startsWith('the ingest exited')) throw error;
      return undefined;
    });
    if (value !== undefined) return value;
    if (Date.now() - started > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('INGEST_WORKERS=2: two ingest processes behind one port', () => {
  const stdout: string[] = [];
  let child: ReturnType<typeof spawn> | undefined;
  const spoolDirs: string[] = [];
  afterAll(async () => {
    if (child?.exitCode === null) child.kill('SIGKILL');
    for (const dir of spoolDirs) await rm(dir, { recursive: true, force: true });
  });

  it(
    'answers 200 from both workers, both produce to Kafka, /metrics sums the counters (not the partition count), SIGTERM stops the group with 0',
    { timeout: 120_000 },
    async () => {
      const endpoints = stackEndpoints();
      const topic = uniqueName('ingest-workers');
      const [port, operationsPort] = [await freePort(), await freePort()];
      const spoolDir = await mkdtemp(join(tmpdir(), 'ingest-workers-'));
      spoolDirs.push(spoolDir);
      child = spawn(process.execPath, ['--import', 'tsx', main], {
        cwd: fileURLToPath(new URL('..', import.meta.url)),
        env: {
          PATH: process.env.PATH ?? '',
          KAFKA_BROKERS: endpoints.kafkaBrokers.join(','),
          SCHEMA_REGISTRY_URL: endpoints.schemaRegistryUrl,
          RAW_WEBHOOK_TOPIC: topic,
          RAW_WEBHOOK_TOPIC_PARTITIONS: '3',
          LIVECHAT_SECRET_KEYS: FIXTURE_V3_SECRET,
          INGEST_PORT: String(port),
          INGEST_OPERATIONS_PORT: String(operationsPort),
          INGEST_WORKERS: '2',
          INGEST_SPOOL_DIR: spoolDir,
        },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let partial = '';
      child.stdout?.on('data', (chunk: Buffer) => {
        const lines = (partial + chunk.toString('utf8')).split('\n');
        partial = lines.pop() ?? '';
        stdout.push(...lines);
      });
      const exited = new Promise<number | null>((resolve) => child?.once('exit', (code) => resolve(code)));

      // Ready only when both workers are (the primary asks each).
      const ready = await until('the group ready', 90_000, async () => {
        if (child?.exitCode !== null) throw new Error(`the ingest exited with ${child?.exitCode}`);
        const res = await fetch(`http://127.0.0.1:${operationsPort}/readyz`);
        return res.status === 200
          ? ((await res.json()) as { workers: { worker: number; ok: boolean }[] })
          : undefined;
      });
      expect(ready.workers).toEqual([
        expect.objectContaining({ worker: 0, ok: true }),
        expect.objectContaining({ worker: 1, ok: true }),
      ]);

      const base = fixture('v3.6-incoming_event-file') as { payload: { event: Record<string, unknown> } };
      const sent: string[] = [];
      for (let i = 0; i < 12; i++) {
        const body = {
          ...base,
          payload: { ...base.payload, event: { ...base.payload.event, id: `WORKERS_${i}` } },
        };
        const res = await post(port, JSON.stringify(body));
        expect(res.status).toBe(200);
        sent.push((JSON.parse(res.body) as { event_id: string }).event_id);
      }

      // Which worker stored which webhook: its log line carries the worker's index.
      const stored = await until('12 "webhook stored" lines', 10_000, async () => {
        const lines = stdout
          .filter((l) => l.includes('"webhook stored"'))
          .map((l) => JSON.parse(l) as { worker: number; event_id: string });
        return lines.length >= 12 ? lines : undefined;
      });
      const byWorker = new Map<number, string[]>();
      for (const l of stored) byWorker.set(l.worker, [...(byWorker.get(l.worker) ?? []), l.event_id]);
      expect([...byWorker.keys()].sort()).toEqual([0, 1]);

      // Every 200 is a record on the topic, those of each worker included.
      const records = await readRawRecords(topic, 12);
      const onTopic = new Set(records.map((r) => r.value.event_id));
      expect(onTopic).toEqual(new Set(sent));
      for (const ids of byWorker.values()) for (const id of ids) expect(onTopic.has(id)).toBe(true);

      // The primary's /metrics sums the workers' counters.
      const metrics = await (await fetch(`http://127.0.0.1:${operationsPort}/metrics`)).text();
      expect(metrics).toMatch(/^ingest_webhooks_accepted_total\{format="v3"\} 12$/m);
      // ... but not the gauges a sum makes wrong: the topic has 3 partitions, whichever number of workers reads it.
      expect(metrics).toMatch(/^ingest_raw_topic_partitions 3$/m);
      expect(metrics).toMatch(/^ingest_spool_active 0$/m);

      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(stdout.filter((l) => l.includes('"shut down cleanly"'))).toHaveLength(2);
    },
  );
});

describe('INGEST_WORKERS changed while a spool holds undrained webhooks', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  /** Starts the ingest with INGEST_WORKERS=workers on `spoolDir`; resolves with its exit code and stderr. */
  async function start(workers: number, spoolDir: string): Promise<{ code: number | null; stderr: string }> {
    const endpoints = stackEndpoints();
    const child = spawn(process.execPath, ['--import', 'tsx', main], {
      cwd: fileURLToPath(new URL('..', import.meta.url)),
      env: {
        PATH: process.env.PATH ?? '',
        KAFKA_BROKERS: endpoints.kafkaBrokers.join(','),
        SCHEMA_REGISTRY_URL: endpoints.schemaRegistryUrl,
        RAW_WEBHOOK_TOPIC: uniqueName('ingest-stranded'),
        LIVECHAT_SECRET_KEYS: FIXTURE_V3_SECRET,
        INGEST_PORT: String(await freePort()),
        INGEST_OPERATIONS_PORT: String(await freePort()),
        INGEST_WORKERS: String(workers),
        INGEST_SPOOL_DIR: spoolDir,
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    // A start that was not refused serves on: stop it (it is a failure of the test, not a hang).
    const backstop = setTimeout(() => child.kill('SIGKILL'), 20_000);
    const [code] = (await once(child, 'exit')) as [number | null];
    clearTimeout(backstop);
    return { code, stderr };
  }

  /** A spool directory whose drain cursor is before one written segment (what a spool holds while Kafka is down). */
  async function undrainedSpool(dir: string): Promise<void> {
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, `${'1'.padStart(20, '0')}.seg`), Buffer.alloc(64, 1));
    await writeFile(join(dir, 'drain-cursor.json'), JSON.stringify({ segment: 1, offset: 0 }));
  }

  it(
    'refuses to start (exit 2, naming the directories): 2 -> 1 with worker-1 undrained, 1 -> 2 with the top-level spool undrained',
    { timeout: 60_000 },
    async () => {
      const root = await mkdtemp(join(tmpdir(), 'ingest-stranded-'));
      dirs.push(root);
      await undrainedSpool(join(root, 'worker-1'));
      const toOne = await start(1, root);
      expect(toOne.code).toBe(2);
      expect(toOne.stderr).toContain('INGEST_WORKERS=1');
      expect(toOne.stderr).toContain(join(root, 'worker-1'));

      const top = await mkdtemp(join(tmpdir(), 'ingest-stranded-'));
      dirs.push(top);
      await undrainedSpool(top);
      // A drained one (the cursor past its only segment) is not stranded and is not named.
      await mkdir(join(top, 'worker-3'));
      await writeFile(join(top, 'worker-3', `${'1'.padStart(20, '0')}.seg`), Buffer.alloc(64, 1));
      await writeFile(join(top, 'worker-3', 'drain-cursor.json'), JSON.stringify({ segment: 2, offset: 0 }));
      const toTwo = await start(2, top);
      expect(toTwo.code).toBe(2);
      expect(toTwo.stderr).toContain(`spool directory ${top},`);
      expect(toTwo.stderr).not.toContain('worker-3');
    },
  );
});

describe('INGEST_WORKERS=2: a stop that is not clean', () => {
  let child: ReturnType<typeof spawn> | undefined;
  const stopped: number[] = [];
  afterAll(() => {
    for (const pid of stopped) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone (the primary's backstop killed it)
      }
    }
    if (child?.exitCode === null) child.kill('SIGKILL');
  });

  it(
    'a stuck worker (SIGSTOP): /healthz 503 naming it after 10 s of silence; killed by the SIGKILL backstop at stop, the group exits 1',
    { timeout: 120_000 },
    async () => {
      const endpoints = stackEndpoints();
      const operationsPort = await freePort();
      child = spawn(process.execPath, ['--import', 'tsx', main], {
        cwd: fileURLToPath(new URL('..', import.meta.url)),
        env: {
          PATH: process.env.PATH ?? '',
          KAFKA_BROKERS: endpoints.kafkaBrokers.join(','),
          SCHEMA_REGISTRY_URL: endpoints.schemaRegistryUrl,
          RAW_WEBHOOK_TOPIC: uniqueName('ingest-workers-kill'),
          LIVECHAT_SECRET_KEYS: FIXTURE_V3_SECRET,
          INGEST_PORT: String(await freePort()),
          INGEST_OPERATIONS_PORT: String(operationsPort),
          INGEST_WORKERS: '2',
          // The primary's backstop kills a worker still there this + 5 s after the SIGTERM.
          INGEST_SHUTDOWN_TIMEOUT_MS: '1000',
        },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      const lines: string[] = [];
      let partial = '';
      child.stdout?.on('data', (chunk: Buffer) => {
        const parts = (partial + chunk.toString('utf8')).split('\n');
        partial = parts.pop() ?? '';
        lines.push(...parts);
      });
      const exited = new Promise<number | null>((resolve) => child?.once('exit', (code) => resolve(code)));
      await until('the group ready', 90_000, async () => {
        if (child?.exitCode !== null) throw new Error(`the ingest exited with ${child?.exitCode}`);
        const res = await fetch(`http://127.0.0.1:${operationsPort}/readyz`);
        return res.status === 200 ? true : undefined;
      });
      const forked = lines
        .filter((l) => l.includes('"ingest worker forked"'))
        .map((l) => JSON.parse(l) as { worker: number; pid: number });
      const worker1 = forked.find((f) => f.worker === 1)?.pid;
      expect(worker1).toBeTypeOf('number');

      const healthz = async () => {
        const res = await fetch(`http://127.0.0.1:${operationsPort}/healthz`);
        return { status: res.status, body: (await res.json()) as { silentWorkers?: number[] } };
      };
      expect((await healthz()).status).toBe(200);

      // Worker 1's event loop stops (as a stuck one would): it sends no heartbeat, and cannot run its shutdown.
      process.kill(worker1 as number, 'SIGSTOP');
      stopped.push(worker1 as number);
      const stoppedAt = Date.now();
      const unhealthy = await until('/healthz 503', 20_000, async () => {
        const answer = await healthz();
        return answer.status === 503 ? answer : undefined;
      });
      expect(Date.now() - stoppedAt).toBeGreaterThanOrEqual(9_000);
      expect(unhealthy.body.silentWorkers).toEqual([1]);

      // Only the backstop's SIGKILL ends worker 1.
      child.kill('SIGTERM');
      expect(await exited).toBe(1);
      const unclean = lines
        .filter((l) => l.includes('"an ingest worker did not stop cleanly"'))
        .map((l) => JSON.parse(l) as { worker: number; signal: string | null });
      expect(unclean).toEqual([expect.objectContaining({ worker: 1, signal: 'SIGKILL' })]);
      expect(lines.filter((l) => l.includes('"shut down cleanly"'))).toHaveLength(1);
    },
  );
});
