import { Writable } from 'node:stream';
import pg from 'pg';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { stackEndpoints, uniqueName, waitFor } from '@livechat-pipeline/testkit';
import { loadAppConfig } from '../src/config.js';
import { createAppDeps } from '../src/deps.js';

/** A logger whose lines the test can read. */
function capture() {
  const lines: { msg?: string; step?: string }[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString('utf8')) as { msg?: string; step?: string });
      done();
    },
  });
  return { lines, logger: pino({ level: 'info' }, stream) };
}

async function admin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: stackEndpoints().databaseUrl });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

describe('app start-up', () => {
  it("retries the registry migrations until its database is there (a newcomer's first start), then starts", async () => {
    const name = uniqueName('app_late_db').replace(/[^a-z0-9_]/g, '_');
    const url = new URL(stackEndpoints().databaseUrl);
    url.pathname = `/${name}`;
    const { lines, logger } = capture();
    const config = loadAppConfig({ DATABASE_URL: url.toString(), APP_DB_INGEST_ROLE: 'none' });
    const starting = createAppDeps(config, logger);
    try {
      await waitFor(() => lines.some((l) => l.step === `migrate schema ${config.database.schema}`), {
        timeoutMs: 30_000,
        message: 'a logged retry of the migration step',
      });
      await admin((client) => client.query(`create database "${name}"`));
      const deps = await starting;
      await deps.close();
      expect(lines.some((l) => l.msg === 'registry schema migrated')).toBe(true);
    } finally {
      await starting.then((deps) => deps.close()).catch(() => undefined);
      await admin((client) => client.query(`drop database if exists "${name}" with (force)`));
    }
  });

  it('gives up at APP_STARTUP_TIMEOUT_MS with an error naming the step', async () => {
    const url = new URL(stackEndpoints().databaseUrl);
    url.pathname = `/${uniqueName('app_never_db').replace(/[^a-z0-9_]/g, '_')}`;
    const config = loadAppConfig({
      DATABASE_URL: url.toString(),
      APP_DB_INGEST_ROLE: 'none',
      APP_STARTUP_TIMEOUT_MS: '1500',
    });
    await expect(createAppDeps(config, pino({ level: 'silent' }))).rejects.toMatchObject({
      code: 'SERVICE_STARTUP_TIMEOUT',
      step: `migrate schema ${config.database.schema}`,
    });
  });
});
