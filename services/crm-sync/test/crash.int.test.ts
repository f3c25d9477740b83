import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { startFakeHubSpot, type FakeHubSpot } from '@livechat-pipeline/hubspot-fake';
import { createTestDatabase, uniqueName, waitFor, type TestDatabase } from '@livechat-pipeline/testkit';
import { syncKey } from '../src/sync/note.js';
import { ORG, smallChat } from './support/chats.js';
import { allRowsText, chatEventsTopic, crmEnv, eventsOf } from './support/harness.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const fixture = path.join(here, 'fixtures', 'crm-sync-process.ts');
const mainTs = path.join(here, '..', 'src', 'main.ts');
const TOKEN = 'pat-na1-CANARY-crash';

let db: TestDatabase;
let pool: pg.Pool;
let fake: FakeHubSpot;
const children: ChildProcess[] = [];
beforeAll(async () => {
  db = await createTestDatabase('crm_crash');
  pool = new pg.Pool({ connectionString: db.url, max: 2 });
  fake = await startFakeHubSpot({ tokens: { [TOKEN]: 9 } });
});
afterEach(() => {
  // Only the processes this test started, by their own handle.
  for (const child of children.splice(0))
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});
afterAll(async () => {
  await fake.close();
  await pool.end();
  await db.drop();
});

/** Runs a script as the service's process, with its output kept for the secret check. */
function run(script: string, env: Record<string, string>, output: string[]) {
  const child = spawn(process.execPath, ['--import', 'tsx', script], {
    env: { ...process.env, ...env, LOG_LEVEL: 'debug' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  child.stdout.on('data', (chunk: Buffer) => output.push(chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => output.push(chunk.toString('utf8')));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, exited };
}

/** Kill at one crash point, restart main.ts, check: no duplicate, no secret. */
async function crashAndRestart(killAt: 'before-note-create' | 'after-note-create'): Promise<void> {
  {
    {
      const { topic, publish } = await chatEventsTopic(1);
      const schema = uniqueName('crm_crash').replace(/[^a-z0-9_]/g, '_');
      const env = crmEnv(
        { databaseUrl: db.url, topic, apiUrl: fake.url, token: TOKEN },
        // One note at a time, so the kill comes at the first create; a short lease gives its rows back soon.
        {
          CRM_SCHEMA: schema,
          CRM_WORKER_CONCURRENCY: '1',
          CRM_WORKER_LEASE_MS: '1500',
          // the restarted member joins once the killed one's session ended
          CRM_SESSION_TIMEOUT_MS: '6000',
        },
      );
      const base = 700 + (killAt === 'before-note-create' ? 0 : 10);
      const chats = [smallChat(base), smallChat(base + 1), smallChat(base + 2)];
      await publish(eventsOf(chats.flatMap((c) => c.deliveries)));
      const notesOf = () =>
        chats.map(
          (c) =>
            fake
              .notes()
              .filter((n) => n.properties['hs_note_body']?.includes(syncKey(ORG, c.chatId, c.threadId)))
              .length,
        );

      const output: string[] = [];
      const victim = run(fixture, { ...env, CRM_TEST_KILL_AT: killAt }, output);
      expect(await victim.exited).toEqual({ code: null, signal: 'SIGKILL' });
      const started = await pool.query<{ n: string }>(
        `select count(*)::text as n from "${schema}".notes where create_started_at is not null and note_id is null`,
      );
      expect(started.rows[0]!.n).toBe('1');
      expect(notesOf().reduce((a, b) => a + b, 0)).toBe(killAt === 'after-note-create' ? 1 : 0);

      const service = run(mainTs, env, output);
      await waitFor(
        async () =>
          (await pool.query(`select 1 from "${schema}".outbox where status = 'done'`)).rowCount === 3,
        { timeoutMs: 30_000, message: 'every thread synced after the restart' },
      );
      expect(notesOf()).toEqual([1, 1, 1]);
      await waitFor(() => output.join('').includes('crm-sync running'), {
        timeoutMs: 30_000,
        message: 'running',
      });
      service.child.kill('SIGTERM');
      expect((await service.exited).code).toBe(0);
      expect(output.filter((l) => l.includes('CANARY'))).toEqual([]);
      expect(await allRowsText(pool, schema)).not.toContain('CANARY');
    }
  }
}

describe('crm-sync killed with SIGKILL around a note create', () => {
  // Both crash points at once (own topics, schemas, groups): each waits out a killed member's 6 s session
  // (Kafka's minimum) before its restarted service runs, and the waits overlap.
  it('before and after the note create: the restarted service creates no duplicate', async () => {
    await Promise.all([crashAndRestart('before-note-create'), crashAndRestart('after-note-create')]);
  });
});
