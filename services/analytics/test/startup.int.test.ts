import { Writable } from 'node:stream';
import pg from 'pg';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { stackEndpoints, uniqueName, waitFor } from '@livechat-pipeline/testkit';
import { loadAnalyticsConfig } from '../src/config.js';
import { startAnalytics } from '../src/start.js';

/** A logger whose lines the test can read. */
function capture() {
  const lines: { msg?: string; step?: string; level?: number }[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString('utf8')) as { msg?: string; step?: string });
      done();
    },
  });
  return { lines, logger: pino({ level: 'info' }, stream) };
}

/** Endpoints of a database that does not exist yet (an empty Postgres, or one still being provisioned). */
function missingDatabase() {
  const name = uniqueName('late_db').replace(/[^a-z0-9_]/g, '_');
  const url = new URL(stackEndpoints().databaseUrl);
  url.pathname = `/${name}`;
  return { name, url: url.toString() };
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

const configFor = (databaseUrl: string, extra: Record<string, string> = {}) => {
  const name = uniqueName('startup-analytics');
  return loadAnalyticsConfig({
    KAFKA_BROKERS: stackEndpoints().kafkaBrokers.join(','),
    SCHEMA_REGISTRY_URL: stackEndpoints().schemaRegistryUrl,
    DATABASE_URL: databaseUrl,
    CHAT_EVENTS_TOPIC: uniqueName('startup-chat-events'),
    CHAT_EVENTS_TOPIC_PARTITIONS: '2',
    ANALYTICS_CONSUMER_NAME: name,
    ...extra,
  });
};

describe('analytics start-up', () => {
  it('retries "connect to Postgres" until the database is there, then migrates and starts', async () => {
    const db = missingDatabase();
    const { lines, logger } = capture();
    const starting = startAnalytics(
      configFor(db.url, { ANALYTICS_TENANT_TIME_ZONES: 'org-1=Europe/Warsaw, 12345678=America/New_York' }),
      logger,
    );
    try {
      await waitFor(
        () => lines.some((l) => l.msg === 'start-up step "connect to Postgres" failed; retrying'),
        {
          timeoutMs: 30_000,
          message: 'a logged retry of "connect to Postgres"',
        },
      );
      await admin((c) => c.query(`create database "${db.name}"`));
      const consumer = await starting;
      try {
        await waitFor(async () => (await consumer.ready()).ok, {
          timeoutMs: 30_000,
          message: 'consumer ready',
        });
        const tables = new pg.Client({ connectionString: db.url });
        await tables.connect();
        const { rows } = await tables.query<{ n: number }>(
          `select count(*)::int as n from information_schema.tables where table_schema = 'analytics'`,
        );
        // ANALYTICS_TENANT_TIME_ZONES is applied once the schema exists.
        const zones = await tables.query(
          `select tenant, time_zone from analytics.tenant_settings order by tenant`,
        );
        await tables.end();
        expect(rows[0]!.n).toBeGreaterThan(0);
        expect(zones.rows).toEqual([
          { tenant: '12345678', time_zone: 'America/New_York' },
          { tenant: 'org-1', time_zone: 'Europe/Warsaw' },
        ]);
      } finally {
        await consumer.stop();
      }
      // Each retry is a warn line naming the step; the secret-bearing URL is never logged.
      const retries = lines.filter((l) => l.msg?.startsWith('start-up step') && l.msg.endsWith('retrying'));
      expect(retries.length).toBeGreaterThan(0);
      expect(retries.every((l) => l.level === 40 && l.step === 'connect to Postgres')).toBe(true);
      expect(JSON.stringify(lines)).not.toContain('postgres:postgres@');
    } finally {
      await starting.catch(() => undefined);
      await admin((c) => c.query(`drop database if exists "${db.name}" with (force)`));
    }
  });

  it('gives up at ANALYTICS_STARTUP_TIMEOUT_MS with an error naming the step', async () => {
    const db = missingDatabase();
    const started = Date.now();
    const error = await startAnalytics(
      configFor(db.url, { ANALYTICS_STARTUP_TIMEOUT_MS: '2000' }),
      pino({ level: 'silent' }),
    ).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'SERVICE_STARTUP_TIMEOUT', step: 'connect to Postgres' });
    expect((error as Error).message).toMatch(
      /^start-up step "connect to Postgres" still failing after \d+ attempts when the start-up deadline \(2000 ms\) passed: /,
    );
    expect(Date.now() - started).toBeLessThan(15_000);
  });

  it('stops at "apply tenant time zones" on a zone Node accepts but Postgres does not know (US/Pacific-New)', async () => {
    const db = missingDatabase();
    await admin((c) => c.query(`create database "${db.name}"`));
    try {
      const result = await startAnalytics(
        configFor(db.url, {
          ANALYTICS_TENANT_TIME_ZONES: 'org-1=US/Pacific-New',
          ANALYTICS_STARTUP_TIMEOUT_MS: '20000',
        }),
        pino({ level: 'silent' }),
      ).catch((e: unknown) => e);
      if (!(result instanceof Error)) await (result as { stop(): Promise<void> }).stop();
      expect(result).toMatchObject({ code: 'SERVICE_STARTUP_FAILED', step: 'apply tenant time zones' });
      expect((result as Error).message).toContain('US/Pacific-New');
      // and written by SQL, it is refused too: no row can break the views of every tenant
      const client = new pg.Client({ connectionString: db.url });
      await client.connect();
      try {
        await expect(
          client.query(`insert into analytics.tenant_settings values ('org-2', 'US/Pacific-New')`),
        ).rejects.toThrow(/time zone/);
        const { rows } = await client.query(`select count(*)::int as n from analytics.daily`);
        expect(rows[0].n).toBe(0);
      } finally {
        await client.end();
      }
    } finally {
      await admin((c) => c.query(`drop database if exists "${db.name}" with (force)`));
    }
  });
});
