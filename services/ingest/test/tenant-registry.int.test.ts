import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { TenantRegistry, hashWebhookSecret, migrateRegistry } from '@livechat-pipeline/tenant-registry';
import { createTestDatabase, waitFor, type TestDatabase } from '@livechat-pipeline/testkit';
import { buildApp } from '../src/app.js';
import { testConfig } from './support/env.js';
import { startTestIngest, topicRecordCount, type TestIngest } from './support/harness.js';

// The ingest accepts the v3 secrets of the LiveChat app's active tenants (services/app keeps them in
// the tenant registry), besides its static secrets; an uninstalled tenant's deliveries get 401.
const clientId = 'app-client-id';
const org = '49d52fa5-0a41-4384-985a-cebe7dc92d27';
const registrySecret = 'registry-secret-CANARY';
const delivery = (secret: string, organizationId = org) => ({
  webhook_id: 'wh-1',
  secret_key: secret,
  action: 'incoming_event',
  organization_id: organizationId,
  payload: { chat_id: 'CHAT1', thread_id: 'TH1', event: { id: 'EV1', type: 'message', text: 'hi' } },
});

let db: TestDatabase;
let pool: pg.Pool;
let ingest: TestIngest;
let app: Awaited<ReturnType<typeof buildApp>>;

beforeAll(async () => {
  db = await createTestDatabase('ingest-registry');
  pool = new pg.Pool({ connectionString: db.url, max: 2 });
  await migrateRegistry(pool);
  const registry = new TenantRegistry(pool);
  await registry.recordInstall({ clientId, organizationId: org, licenseId: '104130623' });
  await registry.addRegistration({
    id: 'wh-1',
    ownerClientId: clientId,
    action: 'incoming_event',
    url: 'https://ingest.example.com/webhooks/livechat',
    secretHash: hashWebhookSecret(registrySecret),
    definition: {},
  });
  // The fixture's global secrets next to the registry: only with INGEST_ALLOW_GLOBAL_SECRETS=true.
  ingest = await startTestIngest({
    INGEST_TENANT_REGISTRY_DATABASE_URL: db.url,
    INGEST_TENANT_REGISTRY_REFRESH_MS: '200',
    INGEST_ALLOW_GLOBAL_SECRETS: 'true',
  });
  app = await buildApp(ingest.config, ingest.runtime.deps);
});
afterAll(async () => {
  await app?.close();
  await ingest?.close();
  await pool?.end();
  await db?.drop();
});

const post = (body: object) =>
  app.inject({
    method: 'POST',
    url: '/webhooks/livechat',
    headers: { 'content-type': 'application/json' },
    payload: JSON.stringify(body),
  });

describe('ingest with the tenant registry', () => {
  it('refuses to start with global secrets next to the registry unless INGEST_ALLOW_GLOBAL_SECRETS=true', () => {
    expect(() => testConfig({ INGEST_TENANT_REGISTRY_DATABASE_URL: db.url })).toThrow(
      /INGEST_ALLOW_GLOBAL_SECRETS=true/,
    );
  });

  it("registry-only: a registry secret counts only for its tenant's deliveries, with a matching label or none", async () => {
    const strict = await startTestIngest({
      INGEST_TENANT_REGISTRY_DATABASE_URL: db.url,
      LIVECHAT_SECRET_KEYS: '',
      LIVECHAT_BASIC_AUTH: '',
    });
    const strictApp = await buildApp(strict.config, strict.runtime.deps);
    try {
      const send = (body: object, path = '/webhooks/livechat') =>
        strictApp.inject({
          method: 'POST',
          url: path,
          headers: { 'content-type': 'application/json' },
          payload: JSON.stringify(body),
        });
      expect((await send(delivery(registrySecret))).statusCode).toBe(200);
      expect((await send(delivery(registrySecret), `/webhooks/livechat/${org}`)).statusCode).toBe(200);
      const mismatch = await send(delivery(registrySecret, 'another-org'), `/webhooks/livechat/${org}`);
      expect(mismatch.statusCode).toBe(401);
      expect(mismatch.json<{ code: string }>().code).toBe('INGEST_TENANT_MISMATCH');
      expect((await send(delivery(registrySecret, 'another-org'))).statusCode).toBe(401);
      // No tenant in the body and none in the path: a registry secret never matches a null tenant.
      const { organization_id: _org, ...noTenant } = delivery(registrySecret);
      expect((await send(noTenant)).statusCode).toBe(401);
      expect((await send(delivery('fixture-v3-secret'))).statusCode).toBe(401);
      expect(await topicRecordCount(strict.topic)).toBe(2);
    } finally {
      await strictApp.close();
      await strict.close();
    }
  });

  it("accepts an active tenant's registry secret and the static secrets; refuses it for another tenant", async () => {
    expect((await post(delivery(registrySecret))).statusCode).toBe(200);
    expect((await post(delivery('fixture-v3-secret'))).statusCode).toBe(200);
    expect((await post(delivery(registrySecret, 'another-org'))).statusCode).toBe(401);
    expect((await post(delivery('wrong-secret'))).statusCode).toBe(401);
  });

  it('refuses the tenant within seconds of its uninstall', async () => {
    await new TenantRegistry(pool).markUninstalled({ clientId, organizationId: org });
    await waitFor(
      async () => ((await post(delivery(registrySecret))).statusCode === 401 ? true : undefined),
      {
        timeoutMs: 5000,
        message: 'an uninstalled tenant refused',
      },
    );
    // The static secrets are not the registry's to revoke.
    expect((await post(delivery('fixture-v3-secret'))).statusCode).toBe(200);
    expect(ingest.logs.join('\n')).not.toContain(registrySecret);
  });
});
