/**
 * The three services of the measured path as `npm start` runs them (scripts/main.ts), and the analytics projection
 * beside them on the same chat events (npm start runs it too: it competes for the same cores): each its own node process,
 * `node [flags] --import tsx services/<name>/src/main.ts`, the ingest with npm start's `--max-semi-space-size=4`;
 * the shell's environment plus what npm start adds: the stack's endpoints, the ingest's local secrets
 * (INGEST_LOCAL_DEV_SECRETS=true) and spool directory, encryption of personal data on (PRIVACY_KEYS and
 * PRIVACY_EMAIL_HASH_KEY, one key store for all: PRIVACY_DATABASE_URL = DATABASE_URL). No log level is set, so
 * each logs at its default, info; npm start lets them write to its terminal, here each writes to a log file.
 * What differs, so that a run is isolated from any other on the same stack: ports, topic, group and schema names
 * of the run's own, the key store in a schema of the run's own with keys made for the run (never stored).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { progress } from './settings.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** scripts/main.ts `nodeFlags`. */
const NODE_FLAGS: Readonly<Record<string, readonly string[]>> = { ingest: ['--max-semi-space-size=4'] };

export interface Endpoints {
  readonly kafkaBrokers: string;
  readonly schemaRegistryUrl: string;
  readonly databaseUrl: string;
}

export interface RunNames {
  readonly rawTopic: string;
  readonly chatEventsTopic: string;
  readonly normalizerDlqTopic: string;
  readonly normalizerGroup: string;
  readonly transcriptsName: string;
  readonly transcriptsSchema: string;
  readonly analyticsName: string;
  readonly analyticsSchema: string;
  readonly privacySchema: string;
}

export function runNames(suffix: string): RunNames {
  return {
    rawTopic: `bench.latency.raw.${suffix}`,
    chatEventsTopic: `bench.latency.chat-events.${suffix}`,
    normalizerDlqTopic: `bench.latency.raw.dlq.${suffix}`,
    normalizerGroup: `bench-latency-normalizer-${suffix}`,
    transcriptsName: `bench-latency-transcripts-${suffix}`,
    transcriptsSchema: `bench_latency_${suffix}`,
    analyticsName: `bench-latency-analytics-${suffix}`,
    analyticsSchema: `bench_latency_an_${suffix}`,
    privacySchema: `bench_latency_pv_${suffix}`,
  };
}

/**
 * Service settings from the shell that change the measured path away from npm start's defaults (they reach the
 * services as they would under npm start): printed with the figures, so a tuning experiment is never mistaken for
 * the default configuration.
 */
export function tuningFromShell(env: NodeJS.ProcessEnv = process.env): string[] {
  return Object.keys(env)
    .filter((name) =>
      /^(INGEST_(BATCH_|PRODUCERS|REQUEST_DEADLINE|SPOOL_AFTER|PRIVACY_|PG_)|NORMALIZER_(PARTITIONS|PRIVACY_)|TRANSCRIPTS_(PARTITIONS|FETCH|POOL|PRIVACY_|PG_)|ANALYTICS_(PARTITIONS|FETCH|POOL|PRIVACY_|PG_)|PRIVACY_KEY_CACHE)/.test(
        name,
      ),
    )
    .sort()
    .map((name) => `${name}=${env[name] ?? ''}`);
}

export interface RunningServices {
  readonly ingestPort: number;
  readonly logDir: string;
  readonly pids: Readonly<Record<string, number>>;
  /** Each service's Prometheus endpoint. */
  readonly metricsUrls: Readonly<Record<'ingest' | 'normalizer' | 'transcripts', string>>;
  /** A service that exited on its own (it crashed), or undefined. */
  exited(): string | undefined;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

async function isReady(url: string): Promise<boolean> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
    await response.body?.cancel();
    return response.status === 200;
  } catch {
    return false;
  }
}

export async function startServices(e: Endpoints, names: RunNames): Promise<RunningServices> {
  const ports = {
    ingest: await freePort(),
    ingestOperations: await freePort(),
    normalizer: await freePort(),
    transcripts: await freePort(),
    analytics: await freePort(),
  };
  const logDir = mkdtempSync(path.join(tmpdir(), 'bench-latency-'));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    KAFKA_BROKERS: e.kafkaBrokers,
    SCHEMA_REGISTRY_URL: e.schemaRegistryUrl,
    DATABASE_URL: e.databaseUrl,
    // npm start: local mode (no secret configured), a spool directory, privacy on with one key store
    INGEST_LOCAL_DEV_SECRETS: 'true',
    INGEST_SPOOL_DIR: path.join(logDir, 'ingest-spool'),
    PRIVACY_KEYS: `bench:${randomBytes(32).toString('base64')}`,
    PRIVACY_EMAIL_HASH_KEY: randomBytes(32).toString('base64'),
    PRIVACY_DATABASE_URL: e.databaseUrl,
    PRIVACY_SCHEMA: names.privacySchema,
    // the run's own names and ports
    RAW_WEBHOOK_TOPIC: names.rawTopic,
    CHAT_EVENTS_TOPIC: names.chatEventsTopic,
    NORMALIZER_DLQ_TOPIC: names.normalizerDlqTopic,
    NORMALIZER_GROUP_ID: names.normalizerGroup,
    TRANSCRIPTS_CONSUMER_NAME: names.transcriptsName,
    TRANSCRIPTS_SCHEMA: names.transcriptsSchema,
    ANALYTICS_CONSUMER_NAME: names.analyticsName,
    ANALYTICS_SCHEMA: names.analyticsSchema,
    INGEST_HOST: '127.0.0.1',
    INGEST_PORT: String(ports.ingest),
    INGEST_OPERATIONS_PORT: String(ports.ingestOperations),
    NORMALIZER_PORT: String(ports.normalizer),
    TRANSCRIPTS_PORT: String(ports.transcripts),
    ANALYTICS_HOST: '127.0.0.1',
    ANALYTICS_PORT: String(ports.analytics),
  };
  // npm start's default log level (info): a level set in the shell would change what the services pay for logging
  for (const name of ['LOG_LEVEL', 'INGEST_LOG_LEVEL']) delete env[name];

  const children = new Map<string, ChildProcess>();
  const exitedOnItsOwn: string[] = [];
  let stopping = false;
  for (const name of ['ingest', 'normalizer', 'transcripts', 'analytics']) {
    const log = openSync(path.join(logDir, `${name}.log`), 'a');
    const child = spawn(
      process.execPath,
      [...(NODE_FLAGS[name] ?? []), '--import', 'tsx', path.join(root, 'services', name, 'src', 'main.ts')],
      { cwd: root, env, stdio: ['ignore', log, log] },
    );
    closeSync(log);
    children.set(name, child);
    child.once('exit', (code, signal) => {
      if (!stopping) {
        exitedOnItsOwn.push(`${name} (${signal ?? code})`);
        progress(
          `${name} exited on its own (${signal ?? code}); its log: ${path.join(logDir, `${name}.log`)}`,
        );
      }
    });
  }
  const stop = async (): Promise<void> => {
    stopping = true;
    await Promise.all(
      [...children.values()].reverse().map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            const force = setTimeout(() => child.kill('SIGKILL'), 20_000);
            child.once('exit', () => {
              clearTimeout(force);
              resolve();
            });
            child.kill('SIGTERM');
          }),
      ),
    );
  };
  const readiness = {
    ingest: `http://127.0.0.1:${ports.ingestOperations}/readyz`,
    normalizer: `http://127.0.0.1:${ports.normalizer}/readyz`,
    transcripts: `http://127.0.0.1:${ports.transcripts}/readyz`,
    analytics: `http://127.0.0.1:${ports.analytics}/readyz`,
  };
  const pending = new Map(Object.entries(readiness));
  const deadline = performance.now() + 120_000;
  while (pending.size > 0) {
    if (exitedOnItsOwn.length > 0 || performance.now() > deadline) {
      await stop();
      throw new Error(
        `${exitedOnItsOwn.length > 0 ? `${exitedOnItsOwn.join(', ')} exited` : `not ready within 120 s: ${[...pending.keys()].join(', ')}`}; logs in ${logDir}`,
      );
    }
    for (const [name, url] of [...pending]) if (await isReady(url)) pending.delete(name);
    if (pending.size > 0) await sleep(250);
  }
  return {
    ingestPort: ports.ingest,
    logDir,
    metricsUrls: {
      ingest: `http://127.0.0.1:${ports.ingestOperations}/metrics`,
      normalizer: `http://127.0.0.1:${ports.normalizer}/metrics`,
      transcripts: `http://127.0.0.1:${ports.transcripts}/metrics`,
    },
    pids: Object.fromEntries([...children].map(([name, child]) => [name, child.pid ?? 0])),
    exited: () => (exitedOnItsOwn.length > 0 ? exitedOnItsOwn.join(', ') : undefined),
    stop,
  };
}
