import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { Writable } from 'node:stream';
import { buildApp, createAppDeps, createAppLogger, loadAppConfig } from '@livechat-pipeline/app';
import type { AppDeps } from '@livechat-pipeline/app';
import {
  buildApp as buildIngest,
  createIngestDeps,
  createIngestMetrics,
  createLogger,
  loadIngestConfig,
} from '@livechat-pipeline/ingest';
import type { IngestRuntime } from '@livechat-pipeline/ingest';
import { startFakeLiveChat } from '@livechat-pipeline/livechat-fake';
import { ensureLoginRole } from '@livechat-pipeline/local-stack';
import type { FakeLiveChat } from '@livechat-pipeline/livechat-fake';
import {
  createTestDatabase,
  readTopic,
  stackEndpoints,
  uniqueName,
  waitFor,
} from '@livechat-pipeline/testkit';
import type { TestDatabase } from '@livechat-pipeline/testkit';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const CLIENT_ID = 'e2e-client-0123456789abcdef';
const ORG = 'f9c7cc55-b35a-4e76-b0d5-ae9fce362314';
const OTHER_ORG = '5b8a3f0e-1c1d-4b0e-9d7e-2f2f2f2f2f2f';
const LICENSE = 104130623;
const CLIENT_SECRET = `canary-client-secret-${randomBytes(6).toString('hex')}`;
const LIFECYCLE_PASSWORD = `canary-lifecycle-${randomBytes(6).toString('hex')}`;
const STATIC_SECRET = `static-${randomBytes(8).toString('hex')}`;
/** A role of this test only (role names are cluster-wide; the stack's own is livechat_ingest). */
const INGEST_ROLE = 'lcp_test_e2e_ingest';
const INGEST_ROLE_PASSWORD = 'lcp-test-e2e-ingest';

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

type HttpApp = Awaited<ReturnType<typeof buildApp>>;
type IngestHttpApp = Awaited<ReturnType<typeof buildIngest>>;

const capture = (lines: string[]) =>
  new Writable({ write: (chunk: Buffer, _e, done) => (lines.push(chunk.toString('utf8')), done()) });

/**
 * LiveChat (the fake) -> app (install, tokens, webhook registration) -> fake delivers with the registered
 * secret -> ingest (in-process, its public entry, with the registry verifier) -> raw topic on the real Kafka.
 */
describe('app + ingest end to end: install, deliver, rotate, uninstall', () => {
  let db: TestDatabase;
  let pool: pg.Pool;
  let fake: FakeLiveChat;
  let deps: AppDeps;
  let app: HttpApp;
  let appUrl: string;
  let ingest: IngestHttpApp;
  let ingestRuntime: IngestRuntime;
  let ingestUrl: string;
  let topic: string;
  const appLogs: string[] = [];
  const ingestLogs: string[] = [];
  let lifecycleUrl: string;

  beforeAll(async () => {
    const endpoints = stackEndpoints();
    db = await createTestDatabase('app_e2e');
    pool = new pg.Pool({ connectionString: db.url, max: 6 });
    // the ingest reads the registry as a role of its own (least privilege), which the app grants when it
    // migrates; the role is created as the stack does (idempotent, concurrent creators both succeed)
    await Promise.all(
      [0, 1].map(async () => {
        const admin = new pg.Client({ connectionString: db.url });
        await admin.connect();
        try {
          await ensureLoginRole(admin, INGEST_ROLE, INGEST_ROLE_PASSWORD);
        } finally {
          await admin.end();
        }
      }),
    );
    const ingestDbUrl = new URL(db.url);
    ingestDbUrl.username = INGEST_ROLE;
    ingestDbUrl.password = INGEST_ROLE_PASSWORD;

    // ingest, in-process through its public entry (with the registry verifier). It starts first, before the app
    // has migrated: it refuses registry secrets until the tables appear.
    topic = uniqueName('app-e2e-raw');
    const ingestConfig = loadIngestConfig({
      KAFKA_BROKERS: endpoints.kafkaBrokers.join(','),
      SCHEMA_REGISTRY_URL: endpoints.schemaRegistryUrl,
      RAW_WEBHOOK_TOPIC: topic,
      RAW_WEBHOOK_TOPIC_PARTITIONS: '1',
      // A global secret next to the registry is refused at start unless explicitly allowed (checked below).
      LIVECHAT_SECRET_KEYS: STATIC_SECRET,
      INGEST_ALLOW_GLOBAL_SECRETS: 'true',
      INGEST_TENANT_REGISTRY_DATABASE_URL: ingestDbUrl.toString(),
      // the default refresh (1 s): new secrets are accepted at once anyway (a miss is looked up)
      INGEST_LOG_LEVEL: 'debug',
    });
    const ingestLogger = createLogger(ingestConfig, capture(ingestLogs));
    ingestRuntime = await createIngestDeps(
      ingestConfig,
      ingestLogger,
      createIngestMetrics({ defaultMetrics: false }),
    );

    const appPort = await freePort();
    appUrl = `http://127.0.0.1:${appPort}`;
    fake = await startFakeLiveChat({
      clients: [
        {
          clientId: CLIENT_ID,
          clientSecret: CLIENT_SECRET,
          redirectUris: [`${appUrl}/app/oauth/callback`],
          ownerOrganizationId: 'dev-org',
        },
      ],
      account: { accountId: 'acct-1', organizationId: ORG, licenseId: LICENSE, email: 'owner@example.com' },
    });

    // migrations (and the ingest role's grants) run in createAppDeps
    const ingestPort = await freePort();
    ingestUrl = `http://127.0.0.1:${ingestPort}`;
    const config = loadAppConfig({
      LIVECHAT_CLIENT_ID: CLIENT_ID,
      LIVECHAT_CLIENT_SECRET: CLIENT_SECRET,
      LIVECHAT_ACCOUNTS_URL: fake.accountsUrl,
      LIVECHAT_API_URL: fake.apiUrl,
      APP_PUBLIC_URL: appUrl,
      APP_WEBHOOK_URL: `${ingestUrl}/webhooks/livechat`,
      APP_TOKEN_KEYS: `k1:${randomBytes(32).toString('base64')}`,
      APP_LIFECYCLE_BASIC_AUTH: `livechat:${LIFECYCLE_PASSWORD}`,
      APP_LOG_LEVEL: 'debug',
      DATABASE_URL: db.url,
      APP_DB_INGEST_ROLE: INGEST_ROLE,
    });
    deps = await createAppDeps(config, createAppLogger(config, capture(appLogs)), { pool });
    app = await buildApp(deps);
    await app.listen({ host: '127.0.0.1', port: appPort });

    ingest = await buildIngest(ingestConfig, ingestRuntime.deps);
    await ingest.listen({ host: '127.0.0.1', port: ingestPort });
    lifecycleUrl = `${appUrl.replace('http://', `http://livechat:${LIFECYCLE_PASSWORD}@`)}/app/lifecycle`;
  });

  afterAll(async () => {
    console.log(
      ingestLogs
        .filter((l) => /registry|warn|error/i.test(l))
        .slice(0, 10)
        .join(''),
    );
    await ingest?.close();
    await ingestRuntime?.close();
    await app?.close();
    await deps?.close();
    await fake?.close();
    await pool?.end();
    await db?.drop();
  });

  async function connect(): Promise<string> {
    const install = await fetch(`${appUrl}/app/install`, { redirect: 'manual' });
    const stateCookie = install.headers.get('set-cookie')!.split(';')[0]!;
    const page = await (await fetch(install.headers.get('location')!)).text();
    const allow = /id="allow" href="([^"]+)"/.exec(page)![1]!.replace(/&amp;/g, '&');
    const decision = await fetch(new URL(allow, fake.accountsUrl), { redirect: 'manual' });
    const callback = await fetch(decision.headers.get('location')!, {
      redirect: 'manual',
      headers: { cookie: stateCookie },
    });
    expect(callback.status).toBe(303);
    return callback.headers
      .getSetCookie()
      .find((c) => c.startsWith('lcp_session='))!
      .split(';')[0]!;
  }

  const chatPayload = (id: string) => ({ chat: { id, thread: { id: `T${id}`, events: [] }, users: [] } });

  /** Posts a v3.6 envelope with this secret straight to the ingest (what a delivery of a removed webhook looks like). */
  const postWithSecret = (secret: string, organizationId = ORG) =>
    fetch(`${ingestUrl}/webhooks/livechat`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        webhook_id: 'old',
        secret_key: secret,
        action: 'incoming_chat',
        organization_id: organizationId,
        payload: chatPayload(`X${randomBytes(3).toString('hex')}`),
        additional_data: {},
      }),
    }).then((r) => r.status);

  it('install -> tokens encrypted -> webhooks at the fake -> delivery lands on the raw topic', async () => {
    expect(
      (await fake.sendLifecycle(lifecycleUrl, { event: 'application_installed', clientId: CLIENT_ID }))
        .status,
    ).toBe(200);
    const session = await connect();
    await deps.backgroundSync!.idle(); // the webhooks are registered in the background after the connect

    const tokenRow = await pool.query<{ access_token_enc: Buffer; key_id: string }>(
      'select access_token_enc, key_id from app.tokens',
    );
    expect(tokenRow.rows).toHaveLength(1);
    for (const t of fake.issuedAccessTokens())
      expect(tokenRow.rows[0]!.access_token_enc.toString('latin1')).not.toContain(t);

    const registered = fake.webhooks();
    expect(registered.map((w) => w.action).sort()).toEqual(deps.config.webhooks.map((w) => w.action).sort());
    for (const w of registered) expect(w.url).toBe(`${ingestUrl}/webhooks/livechat`);

    // delivered at once: no waiting for the ingest's verifier to refresh (it looks a missing secret up)
    const results = await fake.deliverAction('incoming_chat', {
      organizationId: ORG,
      payload: chatPayload('E2E1'),
    });
    expect(results.map((r) => r.status)).toEqual([200]);

    const records = await readTopic(topic, { count: 1, timeoutMs: 30_000 });
    expect(records).toHaveLength(1);
    const value = records[0]!.value!;
    expect(value.includes(Buffer.from(ORG))).toBe(true);
    expect(value.includes(Buffer.from('E2E1'))).toBe(true);
    expect(
      value.includes(Buffer.from(registered.find((w) => w.action === 'incoming_chat')!.secret_key)),
    ).toBe(false);

    // a delivery for an organization that never installed the app is refused
    expect(await postWithSecret(registered[0]!.secret_key, OTHER_ORG)).toBe(401);

    // the settings page shows the last webhook the ingest accepted
    await waitFor(async () => (await deps.registry.findTenant(CLIENT_ID, ORG))?.lastWebhookAt, {
      timeoutMs: 10_000,
      message: 'last_webhook_at recorded',
    });
    const html = await (await fetch(`${appUrl}/app/settings`, { headers: { cookie: session } })).text();
    expect(html).toContain('Connected');
    expect(html).not.toContain('none recorded yet');
  });

  it('rotate-secret: old and new secrets both accepted during the overlap; the old one gets 401 after', async () => {
    const oldSecret = fake.webhooks().find((w) => w.action === 'incoming_chat')!.secret_key;
    const tenant = (await deps.registry.findTenant(CLIENT_ID, ORG))!;
    const sync = deps.webhookSync(deps.oauth!.tokens.credentialsFor(tenant.id));
    const seen: string[] = [];
    await sync.rotateSecrets(async (phase) => {
      seen.push(phase);
      if (phase === 'new-registered') {
        const secrets = fake
          .webhooks()
          .filter((w) => w.action === 'incoming_chat')
          .map((w) => w.secret_key);
        expect(secrets).toHaveLength(2);
        const newSecret = secrets.find((s) => s !== oldSecret)!;
        expect(newSecret).toBeDefined();
        // during the overlap both webhooks fire, both are accepted (the new one at once)
        const both = await fake.deliverAction('incoming_chat', {
          organizationId: ORG,
          payload: chatPayload('E2E2'),
        });
        expect(both.map((r) => r.status)).toEqual([200, 200]);
      } else {
        expect(fake.webhooks().filter((w) => w.action === 'incoming_chat')).toHaveLength(1);
        // LiveChat may still deliver the removed webhook for a while: its secret is still accepted
        expect(await postWithSecret(oldSecret)).toBe(200);
      }
    });
    expect(seen).toEqual(['new-registered', 'old-unregistered']);
    await waitFor(async () => (await postWithSecret(oldSecret)) === 401, {
      timeoutMs: 10_000,
      message: 'old secret refused after the rotation',
    });
    const current = await fake.deliverAction('incoming_chat', {
      organizationId: ORG,
      payload: chatPayload('E2E3'),
    });
    expect(current.map((r) => r.status)).toEqual([200]);
    // the static LIVECHAT_SECRET_KEYS still work beside the registry, because INGEST_ALLOW_GLOBAL_SECRETS says so
    expect(await postWithSecret(STATIC_SECRET)).toBe(200);
  });

  it("uninstall -> the tenant's deliveries get 401; no secret in any log or column", async () => {
    expect(
      (await fake.sendLifecycle(lifecycleUrl, { event: 'application_uninstalled', clientId: CLIENT_ID }))
        .status,
    ).toBe(200);
    await waitFor(
      async () =>
        (await fake.deliverAction('incoming_chat', { organizationId: ORG, payload: chatPayload('E2E4') }))[0]!
          .status === 401,
      {
        timeoutMs: 10_000,
        message: 'uninstalled tenant refused',
      },
    );
    // the app's webhooks themselves are untouched (they are per client id, other licences still use them)
    expect(fake.webhooks().length).toBe(deps.config.webhooks.length);

    const secrets = [
      CLIENT_SECRET,
      LIFECYCLE_PASSWORD,
      ...fake.issuedAccessTokens(),
      ...fake.issuedRefreshTokens(),
      ...fake.webhooks().map((w) => w.secret_key),
    ];
    const logs = appLogs.join('') + ingestLogs.join('');
    const cols = await pool.query<{ table_name: string; column_name: string; data_type: string }>(
      `select table_name, column_name, data_type from information_schema.columns where table_schema = 'app' and data_type in ('text','jsonb','bytea')`,
    );
    let text = '';
    for (const c of cols.rows) {
      const expr =
        c.data_type === 'bytea' ? `encode("${c.column_name}", 'escape')` : `"${c.column_name}"::text`;
      const r = await pool.query<{ v: string | null }>(`select ${expr} as v from app."${c.table_name}"`);
      text += r.rows.map((x) => x.v ?? '').join('\n');
    }
    for (const s of secrets) {
      expect(logs).not.toContain(s);
      expect(text).not.toContain(s);
    }
  });
});
