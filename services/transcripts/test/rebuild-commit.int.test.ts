import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { createTestDatabase, type TestDatabase } from '@livechat-pipeline/testkit';
import type { ConsumerTransaction } from '@livechat-pipeline/postgres-consumer';
import { loadTranscriptsConfig, transcriptsConsumer } from '../src/index.js';
import { createProjectionSchema } from './support/projection-db.js';

let db: TestDatabase;
let pool: pg.Pool;

beforeAll(async () => {
  db = await createTestDatabase('transcripts_rebuild_commit');
  pool = new pg.Pool({ connectionString: db.url, max: 2 });
  await createProjectionSchema(pool, 'transcripts');
});
afterAll(async () => {
  await pool.end();
  await db.drop();
});

/** The synchronous_commit in force inside one batch transaction after the definition's handler ran. */
async function commitModeAfterHandle(rebuild: boolean | undefined): Promise<string> {
  const config = loadTranscriptsConfig({ DATABASE_URL: db.url });
  const definition = transcriptsConsumer(config, undefined, rebuild === undefined ? {} : { rebuild });
  const client = await pool.connect();
  try {
    await client.query('begin');
    const tx: ConsumerTransaction = {
      schema: 'transcripts',
      query: (text, values) => client.query(text, values === undefined ? undefined : [...values]),
    };
    await definition.handle([], tx);
    const { rows } = await client.query<{ mode: string }>(
      `select current_setting('synchronous_commit') as mode`,
    );
    await client.query('commit');
    return rows[0]?.mode ?? '';
  } finally {
    client.release();
  }
}

describe('transcripts consumer: commits of a rebuild', () => {
  it('a rebuild batch commits with synchronous_commit off (that transaction only); the live service keeps durable commits', async () => {
    expect(await commitModeAfterHandle(true)).toBe('off');
    // SET LOCAL ends with the transaction: the pooled connection is back to the default.
    const { rows } = await pool.query<{ mode: string }>(
      `select current_setting('synchronous_commit') as mode`,
    );
    expect(rows[0]?.mode).toBe('on');
    expect(await commitModeAfterHandle(undefined)).toBe('on');
    expect(await commitModeAfterHandle(false)).toBe('on');
  });
});
