import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { createTestDatabase, type TestDatabase } from '@livechat-pipeline/testkit';
import { simulateTraffic } from '@livechat-pipeline/traffic-simulator';
import { applyInTransaction, createProjectionSchema, eventsFromDeliveries } from './support/projection-db.js';

// Docs cannot rot: the README's example queries run against a projection of simulated traffic.
const readme = readFileSync(fileURLToPath(new URL('../README.md', import.meta.url)), 'utf8');
const queries = [...readme.matchAll(/```sql\n([\s\S]*?)```/g)]
  .flatMap((m) => m[1]!.split(/;\s*\n/))
  .map((q) => q.trim())
  .filter((q) => q.replace(/--.*$/gm, '').trim() !== '');

let db: TestDatabase;
let pool: pg.Pool;
const traffic = simulateTraffic({ seed: 5, chats: 20, format: 'v3', reportFacts: true });

beforeAll(async () => {
  db = await createTestDatabase('analytics_readme');
  pool = new pg.Pool({ connectionString: db.url, max: 2 });
  await createProjectionSchema(pool, 'analytics');
  await applyInTransaction(pool, 'analytics', eventsFromDeliveries(traffic.deliveries));
});
afterAll(async () => {
  await pool.end();
  await db.drop();
});

describe('README example queries', () => {
  it('finds them', () => expect(queries.length).toBeGreaterThanOrEqual(5));

  it('all run and return rows', async () => {
    for (const query of queries) {
      // The simulated chats are in the past: "this week" becomes "since 2000".
      const { rows } = await pool.query(
        query.replaceAll(/now\(\) - interval '7 days'/g, "timestamptz '2000-01-01'"),
      );
      expect(rows.length, query).toBeGreaterThan(0);
    }
  });
});
