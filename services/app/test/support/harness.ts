import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { startFakeLiveChat } from '@livechat-pipeline/livechat-fake';
import type { FakeLiveChat, FakeLiveChatOptions } from '@livechat-pipeline/livechat-fake';
import { createTestDatabase } from '@livechat-pipeline/testkit';
import type { TestDatabase } from '@livechat-pipeline/testkit';
import type { FastifyInstance } from 'fastify';
import pg from 'pg';
import { buildApp } from '../../src/app.js';
import { loadAppConfig } from '../../src/config.js';
import type { AppConfig } from '../../src/config.js';
import { createAppDeps } from '../../src/deps.js';
import type { AppDeps } from '../../src/deps.js';
import { createAppLogger } from '../../src/logger.js';

/** Canary values: if one of these shows up in a log line or a text column, a secret leaked. */
export const CANARY = {
  clientSecret: `canary-client-secret-${randomBytes(6).toString('hex')}`,
  pat: `canary-pat-${randomBytes(6).toString('hex')}`,
  lifecyclePassword: `canary-lifecycle-${randomBytes(6).toString('hex')}`,
};

export const CLIENT_ID = 'app-client-0123456789abcdef';
export const ORG = 'f9c7cc55-b35a-4e76-b0d5-ae9fce362314';
export const LICENSE = 104130623;
export const PAT_ACCOUNT = 'd3f5b9a1-0000-4000-8000-00000000a11c';

export function tokenKeys(): string {
  return `k2:${randomBytes(32).toString('base64')},k1:${randomBytes(32).toString('base64')}`;
}

export interface AppHarness {
  readonly fake: FakeLiveChat;
  readonly db: TestDatabase;
  readonly pool: pg.Pool;
  readonly config: AppConfig;
  readonly deps: AppDeps;
  readonly app: FastifyInstance;
  /** Where the app listens, e.g. http://127.0.0.1:port */
  readonly baseUrl: string;
  readonly logs: string[];
  close(): Promise<void>;
}

export function fakeOptions(
  redirectBase: string,
  overrides: Partial<FakeLiveChatOptions> = {},
): FakeLiveChatOptions {
  return {
    clients: [
      {
        clientId: CLIENT_ID,
        clientSecret: CANARY.clientSecret,
        redirectUris: [`${redirectBase}/app/oauth`],
        ownerOrganizationId: 'dev-org-0001',
      },
    ],
    account: { accountId: 'acct-0001', organizationId: ORG, licenseId: LICENSE, email: 'owner@example.com' },
    pats: [
      {
        accountId: PAT_ACCOUNT,
        token: CANARY.pat,
        organizationId: 'dev-org-0001',
        scopes: ['webhooks.configuration:rw', 'webhooks.state:rw'],
      },
    ],
    ...overrides,
  };
}

/**
 * A real app (real Postgres, own database) listening on a loopback port, talking to a fresh fake LiveChat.
 * Log lines are captured for leak checks.
 */
export async function startAppHarness(
  options: {
    env?: NodeJS.ProcessEnv;
    fake?: Partial<FakeLiveChatOptions>;
    /** The host name of APP_PUBLIC_URL (default 127.0.0.1; `localhost` reaches the same loopback listener). */
    publicHost?: string;
  } = {},
): Promise<AppHarness> {
  const db = await createTestDatabase('app');
  const pool = new pg.Pool({ connectionString: db.url, max: 5 });
  // The app must know its public URL before the fake knows the redirect URI: reserve the port first.
  const probe = await import('node:net').then(
    (net) =>
      new Promise<number>((resolve) => {
        const s = net.createServer().listen(0, '127.0.0.1', () => {
          const port = (s.address() as { port: number }).port;
          s.close(() => resolve(port));
        });
      }),
  );
  const baseUrl = `http://${options.publicHost ?? '127.0.0.1'}:${probe}`;
  const fake = await startFakeLiveChat(fakeOptions(baseUrl, options.fake));
  const config = loadAppConfig({
    LIVECHAT_CLIENT_ID: CLIENT_ID,
    LIVECHAT_CLIENT_SECRET: CANARY.clientSecret,
    LIVECHAT_ACCOUNTS_URL: fake.accountsUrl,
    LIVECHAT_API_URL: fake.apiUrl,
    LIVECHAT_PAT: `${PAT_ACCOUNT}:${CANARY.pat}`,
    LIVECHAT_HTTP_TIMEOUT_MS: '2000',
    APP_PUBLIC_URL: baseUrl,
    APP_PORT: String(probe),
    APP_TOKEN_KEYS: tokenKeys(),
    APP_LIFECYCLE_BASIC_AUTH: `livechat:${CANARY.lifecyclePassword}`,
    APP_ROTATION_OVERLAP_SECONDS: '0',
    APP_LOG_LEVEL: 'debug',
    DATABASE_URL: db.url,
    ...options.env,
  });
  const logs: string[] = [];
  const logger = createAppLogger(
    config,
    new Writable({ write: (chunk: Buffer, _e, done) => (logs.push(chunk.toString('utf8')), done()) }),
  );
  const deps = await createAppDeps(config, logger, { pool });
  const app = await buildApp(deps);
  await app.listen({ host: '127.0.0.1', port: probe });
  return {
    fake,
    db,
    pool,
    config,
    deps,
    app,
    baseUrl,
    logs,
    async close() {
      await app.close();
      await deps.close();
      await fake.close();
      await pool.end();
      await db.drop();
    },
  };
}

/** Every text-ish value in the app schema, bytea decoded as UTF-8 too: for leak scans. */
export async function dumpSchemaText(pool: pg.Pool, schema = 'app'): Promise<string> {
  const cols = await pool.query<{ table_name: string; column_name: string; data_type: string }>(
    `select table_name, column_name, data_type from information_schema.columns
      where table_schema = $1 and data_type in ('text', 'character varying', 'jsonb', 'json', 'bytea')`,
    [schema],
  );
  const parts: string[] = [];
  for (const c of cols.rows) {
    const expr =
      c.data_type === 'bytea' ? `encode("${c.column_name}", 'escape')` : `"${c.column_name}"::text`;
    const r = await pool.query<{ v: string | null }>(
      `select ${expr} as v from "${schema}"."${c.table_name}"`,
    );
    for (const row of r.rows) if (row.v !== null) parts.push(row.v);
  }
  return parts.join('\n');
}

/** Follows the OAuth dance like a browser without JS: install -> fake authorize page -> Allow -> callback. */
export async function connectViaHttp(
  h: AppHarness,
): Promise<{ callbackStatus: number; location: string | null; sessionCookie: string | null; code: string }> {
  const install = await fetch(`${h.baseUrl}/app/install`, { redirect: 'manual' });
  const stateCookie = (install.headers.get('set-cookie') ?? '').split(';')[0]!;
  const authorize = await fetch(install.headers.get('location')!, { redirect: 'manual' });
  const html = await authorize.text();
  const allow = /id="allow" href="([^"]+)"/.exec(html)![1]!.replace(/&amp;/g, '&');
  const decision = await fetch(new URL(allow, h.fake.accountsUrl), { redirect: 'manual' });
  const callback = new URL(decision.headers.get('location')!);
  const res = await fetch(callback, { redirect: 'manual', headers: { cookie: stateCookie } });
  const setCookies = res.headers.getSetCookie();
  const session = setCookies.find((c) => c.startsWith('lcp_session='))?.split(';')[0] ?? null;
  return {
    callbackStatus: res.status,
    location: res.headers.get('location'),
    sessionCookie: session,
    code: callback.searchParams.get('code') ?? '',
  };
}
