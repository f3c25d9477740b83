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
const traffic = simulateTraffic({ seed: 5, chats: 4, format: 'v3' });

beforeAll(async () => {
  db = await createTestDatabase('readme');
  pool = new pg.Pool({ connectionString: db.url, max: 2 });
  await createProjectionSchema(pool, 'transcripts');
  await applyInTransaction(pool, 'transcripts', eventsFromDeliveries(traffic.deliveries));
});
afterAll(async () => {
  await pool.end();
  await db.drop();
});

describe('README example queries', () => {
  it('finds them', () => expect(queries.length).toBeGreaterThanOrEqual(3));

  it('all run and return rows', async () => {
    const chat = traffic.expected[0]!;
    for (const query of queries) {
      const params = query.includes('$2') ? [chat.tenant.organizationId, chat.chatId] : [];
      const { rows } = await pool.query(
        query.replace(/now\(\) - interval '7 days'/, "timestamptz '2000-01-01'"),
        params,
      );
      expect(rows.length, query).toBeGreaterThan(0);
    }
  });
});
