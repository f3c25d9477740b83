import pg from 'pg';
import { pino } from 'pino';
import type { FastifyInstance } from 'fastify';
import { analyticsMigrationsDir, applyAnalyticsEvents } from '@livechat-pipeline/analytics';
import { parseWebhook, type ChatDomainEvent } from '@livechat-pipeline/livechat';
import { migrateConsumerSchema } from '@livechat-pipeline/postgres-consumer';
import { createTestDatabase, type TestDatabase } from '@livechat-pipeline/testkit';
import { simulateTraffic, simulatedTenant, type SimulatedTenant } from '@livechat-pipeline/traffic-simulator';
import { applyTranscriptEvents, transcriptsMigrationsDir } from '@livechat-pipeline/transcripts';
import { buildApi, createApiDeps, loadApiConfig, type ApiDeps } from '@livechat-pipeline/api';

export interface ApiTestBed {
  readonly db: TestDatabase;
  readonly pool: pg.Pool;
  readonly deps: ApiDeps;
  readonly app: FastifyInstance;
  readonly tenants: readonly [SimulatedTenant, SimulatedTenant];
  /** The tenant id as the projections store it (v3: the organization id). */
  readonly tenantIds: readonly [string, string];
  /** A key of each tenant (`Authorization: Bearer …`). */
  readonly keys: readonly [string, string];
  close(): Promise<void>;
}

/**
 * A fresh database with the transcripts and analytics schemas migrated by their own services' migrations, filled
 * from simulated LiveChat traffic of two tenants through the real projection code, and the api on top.
 */
export async function createApiTestBed(options: { seed: number; chats: number }): Promise<ApiTestBed> {
  const db = await createTestDatabase('api');
  const pool = new pg.Pool({ connectionString: db.url, max: 4 });
  await migrateConsumerSchema({
    databaseUrl: db.url,
    schema: 'transcripts',
    migrationsDir: transcriptsMigrationsDir,
  });
  await migrateConsumerSchema({
    databaseUrl: db.url,
    schema: 'analytics',
    migrationsDir: analyticsMigrationsDir,
  });
  const tenants = [simulatedTenant(options.seed, 'a'), simulatedTenant(options.seed, 'b')] as const;
  const traffic = simulateTraffic({
    seed: options.seed,
    chats: options.chats,
    format: 'v3',
    reportFacts: true,
    duplicateRate: 0,
    reorderRate: 0,
    tenants,
  });
  // as the normalizer would: each delivery received 1 ms after the previous one, never before it was emitted
  const events: ChatDomainEvent[] = [];
  let receivedAt = 0;
  traffic.deliveries.forEach((delivery, index) => {
    receivedAt = Math.max(receivedAt + 1000, delivery.emittedAt + 1000);
    const context = { rawEventId: `raw-${index}`, receivedAtMicros: receivedAt };
    events.push(...parseWebhook(structuredClone(delivery.body), context));
  });
  await applyAll(pool, events);
  // CSV batches of 7 rows: the answers of the tests span several batches
  const config = loadApiConfig({ DATABASE_URL: db.url, API_LOG_LEVEL: 'silent', API_CSV_BATCH_ROWS: '7' });
  const deps = await createApiDeps(config, pino({ level: 'silent' }));
  const app = await buildApi(deps);
  const tenantIds = [tenants[0].organizationId, tenants[1].organizationId] as const;
  const keys = [
    (await deps.keys.create({ tenant: tenantIds[0], name: 'test a' })).key,
    (await deps.keys.create({ tenant: tenantIds[1], name: 'test b' })).key,
  ] as const;
  return {
    db,
    pool,
    deps,
    app,
    tenants,
    tenantIds,
    keys,
    async close() {
      await app.close();
      await deps.close();
      await pool.end();
      await db.drop();
    },
  };
}

async function applyAll(pool: pg.Pool, events: readonly ChatDomainEvent[]): Promise<void> {
  const client = await pool.connect();
  try {
    for (let i = 0; i < events.length; i += 200) {
      const batch = events.slice(i, i + 200);
      await client.query('begin');
      await applyTranscriptEvents(batch, client, 'transcripts');
      await applyAnalyticsEvents(batch, client, 'analytics');
      await client.query('commit');
    }
  } finally {
    client.release();
  }
}
