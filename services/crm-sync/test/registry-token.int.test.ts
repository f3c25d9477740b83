import { createCipheriv, randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { startFakeHubSpot, type FakeHubSpot } from '@livechat-pipeline/hubspot-fake';
import { TenantRegistry, migrateRegistry } from '@livechat-pipeline/tenant-registry';
import { createTestDatabase, waitFor, type TestDatabase } from '@livechat-pipeline/testkit';
import { startCrmSync, type CrmSync } from '../src/start.js';
import { ORG, smallChat } from './support/chats.js';
import { allRowsText, captureLogs, chatEventsTopic, crmConfig, crmEnv, eventsOf } from './support/harness.js';

const TENANT_TOKEN = 'pat-na1-CANARY-tenant-token';
const KEY = randomBytes(32);

/** Sealed as the app's TokenCipher seals (version 1 | iv | tag | ciphertext, AAD `<tenant id>/hubspot`). */
function seal(plaintext: string, aad: string): Buffer {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', KEY, iv);
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return Buffer.concat([Buffer.from([1]), iv, cipher.getAuthTag(), body]);
}

let db: TestDatabase | undefined;
let pool: pg.Pool | undefined;
let fake: FakeHubSpot | undefined;
let crm: CrmSync | undefined;
afterAll(async () => {
  await crm?.stop();
  await fake?.close();
  await pool?.end();
  await db?.drop();
});

describe('crm-sync with per-tenant tokens from the tenant registry', () => {
  it("uses the tenant's sealed token, and reports a refused one as a broken connection for the app", async () => {
    db = await createTestDatabase('crm_registry');
    pool = new pg.Pool({ connectionString: db.url, max: 2 });
    await migrateRegistry(pool);
    const registry = new TenantRegistry(pool);
    const tenant = await registry.recordInstall({ clientId: 'client-1', organizationId: ORG });
    await registry.saveCrmToken(tenant.id, {
      keyId: 'k1',
      tokenEnc: seal(TENANT_TOKEN, `${tenant.id}/hubspot`),
    });

    fake = await startFakeHubSpot({ tokens: { [TENANT_TOKEN]: 11 } });
    const { topic, publish } = await chatEventsTopic(1);
    const env = crmEnv(
      { databaseUrl: db.url, topic, apiUrl: fake.url, token: '' },
      {
        CRM_TENANT_REGISTRY_DATABASE_URL: db.url,
        CRM_TOKEN_KEYS: `k1:${KEY.toString('base64')}`,
      },
    );
    const { lines, logger } = captureLogs('debug');
    crm = await startCrmSync(crmConfig(env), logger);

    await publish(eventsOf(smallChat(900).deliveries));
    await waitFor(() => fake!.notes().length === 1, { timeoutMs: 20_000, message: 'the note' });
    await waitFor(async () => (await registry.getCrmConnection(tenant.id))?.status === 'ok', {
      message: 'ok',
    });

    fake.setToken(TENANT_TOKEN, null);
    await publish(eventsOf(smallChat(901).deliveries));
    await waitFor(async () => (await registry.getCrmConnection(tenant.id))?.status === 'broken', {
      timeoutMs: 20_000,
      message: 'broken',
    });
    expect((await registry.getCrmConnection(tenant.id))?.code).toBe('CRM_HUBSPOT_UNAUTHORIZED');
    expect(lines.filter((l) => l.includes('CANARY'))).toEqual([]);
    expect(await allRowsText(pool, 'crm')).not.toContain('CANARY');
  });
});
