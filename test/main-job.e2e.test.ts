import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import {
  createTestDatabase,
  stackEndpoints,
  testKafka,
  uniqueName,
  waitFor,
} from '@livechat-pipeline/testkit';

/**
 * The main job (`npm start`: scripts/main.ts) started several times in a row on an "empty stack": fresh topic
 * names, consumer groups, registry subjects and a fresh Postgres database per run (the shared stack itself is
 * never wiped). All services create their topics, register their schemas and migrate at the same moment, which
 * is the race a newcomer's first start lost (issue 10, item 10). Each run: every service ready, a webhook
 * reaches Postgres, Ctrl-C (SIGINT) exits 0 with no child left and the ports free again.
 */
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const RUNS = 3;
/** The local secret `npm start` gives an unconfigured ingest. */
const LOCAL_SECRET_KEY = 'local-dev-secret';

/** Variables of the caller's environment that would change what the job does (secrets, names, ports). */
const PASSED_THROUGH = /^(PATH|HOME|USER|TMPDIR|LANG|LC_.*|TZ|NODE_OPTIONS|STACK_HOME|JAVA_HOME)$/;

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address !== null
          ? resolve(address.port)
          : reject(new Error('no port')),
      );
    });
  });
}

async function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** max.message.bytes and retention.ms of each topic, as the broker reports them. */
async function topicSettings(topics: string[]): Promise<Record<string, string>> {
  const admin = testKafka('main-job-test').admin();
  await admin.connect();
  try {
    const { resources } = await admin.describeConfigs({
      includeSynonyms: false,
      resources: topics.map((name) => ({
        type: 2,
        name,
        configNames: ['max.message.bytes', 'retention.ms'],
      })),
    });
    const settings: Record<string, string> = {};
    for (const r of resources)
      for (const e of r.configEntries) settings[`${r.resourceName} ${e.configName}`] = e.configValue;
    return settings;
  } finally {
    await admin.disconnect();
  }
}

interface Job {
  readonly child: ChildProcess;
  readonly output: string[];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function startJob(env: NodeJS.ProcessEnv): Job {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'scripts', 'main.ts')], {
    cwd: root,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  let partial = '';
  const collect = (chunk: Buffer) => {
    const lines = (partial + chunk.toString('utf8')).split('\n');
    partial = lines.pop() ?? '';
    output.push(...lines);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, output, exited };
}

/** The job's own lines and every error or warning line of the services, for a failure message. */
const digest = (output: readonly string[]) =>
  output
    .filter((l) => !/"level":(10|20|30)/.test(l))
    .slice(-40)
    .join('\n');

describe('the main job (npm start) on an empty stack', () => {
  it(`starts, serves and stops cleanly ${RUNS} times in a row`, { timeout: 420_000 }, async () => {
    const endpoints = stackEndpoints();
    const ports = {
      INGEST_PORT: await freePort(),
      INGEST_OPERATIONS_PORT: await freePort(),
      NORMALIZER_PORT: await freePort(),
      TRANSCRIPTS_PORT: await freePort(),
      ANALYTICS_PORT: await freePort(),
      APP_PORT: await freePort(),
      APP_OPERATIONS_PORT: await freePort(),
      API_PORT: await freePort(),
      API_OPERATIONS_PORT: await freePort(),
      PRIVACY_OPERATIONS_PORT: await freePort(),
    };
    const durations: number[] = [];
    for (let run = 1; run <= RUNS; run++) {
      const t0 = Date.now();
      // The same ports every run: the previous run must have let go of them.
      for (const port of Object.values(ports))
        await waitFor(() => portIsFree(port), {
          timeoutMs: 15_000,
          message: `port ${port} free before run ${run}`,
        });
      const database = await createTestDatabase('main_job');
      const consumerName = uniqueName('mainjob-transcripts');
      const env: NodeJS.ProcessEnv = {
        ...Object.fromEntries(Object.entries(process.env).filter(([name]) => PASSED_THROUGH.test(name))),
        KAFKA_BROKERS: endpoints.kafkaBrokers.join(','),
        SCHEMA_REGISTRY_URL: endpoints.schemaRegistryUrl,
        DATABASE_URL: database.url,
        RAW_WEBHOOK_TOPIC: uniqueName('mainjob-raw'),
        CHAT_EVENTS_TOPIC: uniqueName('mainjob-chat-events'),
        NORMALIZER_DLQ_TOPIC: uniqueName('mainjob-raw-dlq'),
        NORMALIZER_GROUP_ID: uniqueName('mainjob-normalizer'),
        // Also its group id and its dead-letter topic (`<name>.dlq`).
        TRANSCRIPTS_CONSUMER_NAME: consumerName,
        ANALYTICS_CONSUMER_NAME: uniqueName('mainjob-analytics'),
        ...Object.fromEntries(Object.entries(ports).map(([name, port]) => [name, String(port)])),
        LOG_LEVEL: 'info',
      };
      const job = startJob(env);
      const children = new Map<string, number>();
      try {
        await waitFor(() => job.output.some((l) => /^main: ready: /.test(l)) || job.child.exitCode !== null, {
          timeoutMs: 60_000,
          message: `run ${run}: "main: ready" line`,
        }).catch((error: unknown) => {
          throw new Error(`${error instanceof Error ? error.message : String(error)}\n${digest(job.output)}`);
        });
        expect(job.child.exitCode, `run ${run} exited early:\n${digest(job.output)}`).toBeNull();
        const pids = job.output.flatMap(
          (l) => /^main: (\w+) started \(pid (\d+)\)$/.exec(l)?.slice(1, 3) ?? [],
        );
        for (let i = 0; i < pids.length; i += 2) children.set(pids[i]!, Number(pids[i + 1]));
        expect([...children.keys()].sort()).toEqual([
          'analytics',
          'api',
          'app',
          'ingest',
          'normalizer',
          'privacy',
          'transcripts',
        ]);
        for (const port of [
          ports.INGEST_OPERATIONS_PORT,
          ports.NORMALIZER_PORT,
          ports.TRANSCRIPTS_PORT,
          ports.ANALYTICS_PORT,
          ports.APP_OPERATIONS_PORT,
          ports.API_OPERATIONS_PORT,
          ports.PRIVACY_OPERATIONS_PORT,
        ])
          expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(200);
        // Whoever won the race to create chat-events (normalizer or transcripts), it has the writer's settings.
        const chatEvents = env['CHAT_EVENTS_TOPIC']!;
        const dlqs = [env['NORMALIZER_DLQ_TOPIC']!, `${consumerName}.dlq`];
        expect(await topicSettings([chatEvents, ...dlqs])).toEqual({
          [`${chatEvents} max.message.bytes`]: '8388608',
          [`${chatEvents} retention.ms`]: '-1',
          ...Object.fromEntries(
            dlqs.flatMap((t) => [
              [`${t} max.message.bytes`, '8388608'],
              [`${t} retention.ms`, '-1'],
            ]),
          ),
        });

        // One webhook through ingest → normalizer → transcripts into the run's own database.
        const chatId = `MAINJOB${run}`;
        const response = await fetch(`http://127.0.0.1:${ports.INGEST_PORT}/webhooks/livechat`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            webhook_id: 'wh-main-job',
            secret_key: LOCAL_SECRET_KEY,
            action: 'incoming_event',
            organization_id: 'org-main-job',
            payload: {
              chat_id: chatId,
              thread_id: `T${run}`,
              event: {
                id: `E${run}`,
                type: 'message',
                text: `hello from run ${run}`,
                author_id: 'a@example.com',
                created_at: '2026-11-25T10:00:00.123456Z',
              },
            },
          }),
        });
        expect(response.status, await response.text()).toBe(200);
        const db = new pg.Client({ connectionString: database.url });
        await db.connect();
        try {
          const text = await waitFor(
            async () =>
              (
                await db.query<{ text: string }>(
                  'select text from transcripts.chat_transcript where chat_id = $1',
                  [chatId],
                )
              ).rows[0]?.text,
            { timeoutMs: 30_000, message: `run ${run}: the webhook's row in transcripts.chat_transcript` },
          );
          expect(text).toBe(`hello from run ${run}`);
        } finally {
          await db.end();
        }

        job.child.kill('SIGINT');
        const exit = await job.exited;
        expect(exit, digest(job.output)).toEqual({ code: 0, signal: null });
        for (const [name, pid] of children)
          expect(isAlive(pid), `${name} (pid ${pid}) still running`).toBe(false);
        expect(job.output.filter((l) => /^main: .* stopped$/.test(l))).toHaveLength(7);
        expect(job.output.filter((l) => /exited \(/.test(l))).toEqual([]);
      } finally {
        if (job.child.exitCode === null && job.child.signalCode === null) {
          job.child.kill('SIGKILL');
          await job.exited;
        }
        // After a failure: the services this run started, by their ids.
        for (const pid of children.values()) if (isAlive(pid)) process.kill(pid, 'SIGKILL');
        await database.drop().catch(() => undefined);
      }
      for (const port of Object.values(ports))
        await waitFor(() => portIsFree(port), {
          timeoutMs: 15_000,
          message: `port ${port} free after run ${run}`,
        });
      durations.push(Date.now() - t0);
    }
    process.stderr.write(
      `main job: ${RUNS} runs in ${durations.map((d) => `${(d / 1000).toFixed(1)} s`).join(', ')}\n`,
    );
  });
});
