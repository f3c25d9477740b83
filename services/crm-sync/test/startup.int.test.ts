import pg from 'pg';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { stackEndpoints, uniqueName, waitFor } from '@livechat-pipeline/testkit';
import { startCrmSync } from '../src/start.js';
import { captureLogs, crmConfig, crmEnv } from './support/harness.js';

/** A database that does not exist yet (an empty Postgres, or one still being provisioned). */
function missingDatabase() {
  const name = uniqueName('crm_late_db').replace(/[^a-z0-9_]/g, '_');
  const url = new URL(stackEndpoints().databaseUrl);
  url.pathname = `/${name}`;
  return { name, url: url.toString() };
}

async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: stackEndpoints().databaseUrl });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

const configFor = (databaseUrl: string, extra: Record<string, string> = {}) =>
  crmConfig(
    crmEnv(
      { databaseUrl, topic: uniqueName('crm-startup-events'), apiUrl: 'http://127.0.0.1:9', token: 'unused' },
      extra,
    ),
  );

describe('crm-sync start-up', () => {
  it('retries "connect to Postgres" until the database is there, then migrates, starts the worker and joins', async () => {
    const db = missingDatabase();
    const { lines, logger } = captureLogs('info');
    const starting = startCrmSync(configFor(db.url), logger);
    try {
      await waitFor(
        () => lines.some((l) => l.includes('start-up step \\"connect to Postgres\\" failed; retrying')),
        {
          timeoutMs: 30_000,
          message: 'a logged retry of "connect to Postgres"',
        },
      );
      await admin(`create database "${db.name}"`);
      const crm = await starting;
      try {
        await waitFor(async () => (await crm.ready()).ok, { timeoutMs: 30_000, message: 'ready' });
        const client = new pg.Client({ connectionString: db.url });
        await client.connect();
        const { rows } = await client.query<{ n: number }>(
          `select count(*)::int as n from information_schema.tables where table_schema = 'crm' and table_name = 'outbox'`,
        );
        await client.end();
        expect(rows[0]!.n).toBe(1);
      } finally {
        await crm.stop();
      }
      expect(lines.join('')).not.toContain('postgres:postgres@');
    } finally {
      await starting.catch(() => undefined);
      await admin(`drop database if exists "${db.name}" with (force)`);
    }
  });

  it('gives up at CRM_STARTUP_TIMEOUT_MS with an error naming the step', async () => {
    const db = missingDatabase();
    const started = Date.now();
    const error = await startCrmSync(
      configFor(db.url, { CRM_STARTUP_TIMEOUT_MS: '2000' }),
      pino({ level: 'silent' }),
    ).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'SERVICE_STARTUP_TIMEOUT', step: 'connect to Postgres' });
    expect(Date.now() - started).toBeLessThan(15_000);
  });
});
