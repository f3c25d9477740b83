import pg from 'pg';
import { stackEndpoints } from './endpoints.js';
import { uniqueName } from './names.js';

export interface TestDatabase {
  readonly name: string;
  readonly url: string;
  drop(): Promise<void>;
}

/** A fresh database per test file: projections, dedup tables and offsets start empty. */
export async function createTestDatabase(prefix = 'test'): Promise<TestDatabase> {
  const adminUrl = stackEndpoints().databaseUrl;
  const name = uniqueName(prefix).replace(/[^a-z0-9_]/g, '_');
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`create database "${name}"`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    name,
    url: url.toString(),
    async drop() {
      const client = new pg.Client({ connectionString: adminUrl });
      await client.connect();
      try {
        await client.query(`drop database if exists "${name}" with (force)`);
      } finally {
        await client.end();
      }
    },
  };
}
