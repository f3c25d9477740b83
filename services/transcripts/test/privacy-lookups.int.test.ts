import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { createTestDatabase, uniqueName, type TestDatabase } from '@livechat-pipeline/testkit';
import { PrivacyVault, parsePrivacyConfig } from '@livechat-pipeline/privacy';
import { ChatEventOpener } from '../src/privacy.js';
import { canaryChat } from './support/canary.js';
import { privacyEnv, sealEvents, writerVault } from './support/sealed.js';

// Given one consumer batch of sealed events of many chats of two tenants, when the projection opens it with a cold
// key cache, then the key store is asked once per tenant (issue 19's performance rule), not once per event or chat.
let db: TestDatabase;
let pool: pg.Pool;
let writer: Awaited<ReturnType<typeof writerVault>>;
let env: Record<string, string>;

beforeAll(async () => {
  db = await createTestDatabase('transcripts_lookups');
  pool = new pg.Pool({ connectionString: db.url, max: 2 });
  env = privacyEnv(uniqueName('keys').replace(/[^a-z0-9_]/g, '_'));
  writer = await writerVault(db.url, env);
});
afterAll(async () => {
  await writer?.close();
  await pool?.end();
  await db?.drop();
});

describe('ChatEventOpener on a real key store', () => {
  it('asks the key store once per tenant per batch', async () => {
    const tenants = [uniqueName('t-a'), uniqueName('t-b')];
    const events = tenants.flatMap((tenant) =>
      Array.from({ length: 5 }, (_, i) => canaryChat(tenant, `c${i}`, `CANARY${i}`)).flat(),
    );
    const sealed = await sealEvents(writer.vault, events);
    expect(sealed.length).toBeGreaterThanOrEqual(50);
    // The reader's own vault: nothing cached.
    const reader = new PrivacyVault(pool, parsePrivacyConfig(env)!);
    const opened = await new ChatEventOpener(reader, { service: 'transcripts' }).open(sealed);
    expect(JSON.stringify(opened)).toContain('CANARY4');
    expect(reader.stats().queries).toBeLessThanOrEqual(tenants.length);
  });
});
