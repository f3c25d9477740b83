/**
 * The main job (`npm start`): the local stack and the pipeline's services in the foreground.
 * Ctrl-C stops the services, then the parts of the stack this command started.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { loadStackSettings, stackDown, stackUp, StackError } from '@livechat-pipeline/local-stack';
import { runAnalyticsDemo } from './analytics-demo.js';
import { startFakeHubSpot } from '@livechat-pipeline/hubspot-fake';
import { runDemo } from './demo.js';
import { localPrivacyEnv } from './local-privacy-keys.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const say = (line: string) => process.stderr.write(`main: ${line}\n`);

/**
 * Node flags per service. The ingest caps V8's young generation: under load it would otherwise grow to
 * 32 MB semi-spaces and the RSS past 150 MB, for a few per cent less GC (see services/ingest/README.md).
 */
const nodeFlags: Readonly<Record<string, readonly string[]>> = { ingest: ['--max-semi-space-size=4'] };

/** The services `npm start` runs, in start order (crm-sync joins when a HubSpot token is configured). */
const services: string[] = ['ingest', 'normalizer', 'transcripts', 'analytics', 'app', 'api', 'privacy'];
/** `--demo --hubspot-fake`: crm-sync talks to a local fake HubSpot (packages/hubspot-fake) with this public token. */
const HUBSPOT_FAKE_TOKEN = 'local-hubspot-fake-token';

/**
 * The public local secrets the ingest accepts with INGEST_LOCAL_DEV_SECRETS=true (defined and enforced in
 * services/ingest/src/local-dev-secrets.ts; repeated here only to print them and for --demo).
 */
const LOCAL_DEV_SECRET_KEY = 'local-dev-secret';
const LOCAL_DEV_BASIC_USER = 'livechat';
const LOCAL_DEV_BASIC_PASSWORD = 'local-dev-password';

/** The ingest's test for a loopback INGEST_HOST (it refuses the local secrets on any other). */
const isLoopbackHost = (host: string): boolean => {
  const h = host
    .trim()
    .toLowerCase()
    .replace(/^\[(.*)\]$/, '$1');
  return (
    h === 'localhost' ||
    h === '::1' ||
    /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) ||
    /^::ffff:127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h)
  );
};

/**
 * The public local secret `npm start` gives the app and the api when neither DASHBOARD_URL nor
 * DASHBOARD_LINK_SECRET is set, the api listens on a loopback API_HOST and NODE_ENV is not production: the app's
 * settings page then opens the dashboard (its links signed with it). Anywhere else set your own (32+ characters).
 */
const LOCAL_DEV_DASHBOARD_LINK_SECRET = 'local-dev-dashboard-link-secret-not-for-production';

function dashboardLinkEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  if (env['DASHBOARD_URL'] !== undefined || env['DASHBOARD_LINK_SECRET'] !== undefined) return {};
  const host = env['API_HOST'] ?? '127.0.0.1';
  if (!isLoopbackHost(host) || env['NODE_ENV'] === 'production') return {};
  return {
    DASHBOARD_URL: `http://${host.includes(':') ? `[${host}]` : host}:${env['API_PORT'] ?? '8082'}`,
    DASHBOARD_LINK_SECRET: LOCAL_DEV_DASHBOARD_LINK_SECRET,
  };
}

/** The ingest's secret settings: when none is set, `npm start` runs the ingest in local mode. */
const ingestSecretVariables = [
  'LIVECHAT_SECRET_KEYS',
  'LIVECHAT_BASIC_AUTH',
  'LIVECHAT_TENANT_SECRETS_FILE',
  'INGEST_TENANT_REGISTRY_DATABASE_URL',
  'INGEST_LOCAL_DEV_SECRETS',
] as const;

/**
 * Local mode: with no secret configured, on a loopback INGEST_HOST and outside production, the ingest gets
 * INGEST_LOCAL_DEV_SECRETS=true (the public local secrets, which the ingest itself refuses anywhere else) and no
 * tenant registry (global secrets and per-tenant ones do not mix). With no secret configured anywhere else,
 * `npm start` refuses to start, in one line saying what to set.
 */
function ingestSecretsEnv(env: NodeJS.ProcessEnv): {
  readonly local: boolean;
  readonly env: NodeJS.ProcessEnv;
} {
  if (ingestSecretVariables.some((name) => (env[name] ?? '').trim() !== '')) return { local: false, env: {} };
  const host = env['INGEST_HOST']?.trim() || '127.0.0.1';
  if (env['NODE_ENV'] === 'production' || !isLoopbackHost(host)) {
    say(
      `no ingest secrets configured and the local ones are refused with ${env['NODE_ENV'] === 'production' ? 'NODE_ENV=production' : `INGEST_HOST=${host}`}: set LIVECHAT_SECRET_KEYS / LIVECHAT_BASIC_AUTH, LIVECHAT_TENANT_SECRETS_FILE or INGEST_TENANT_REGISTRY_DATABASE_URL`,
    );
    process.exit(2);
  }
  return { local: true, env: { INGEST_LOCAL_DEV_SECRETS: 'true' } };
}

async function main(): Promise<void> {
  const ingestSecrets = ingestSecretsEnv(process.env);
  const settings = loadStackSettings();
  const t0 = Date.now();
  const { endpoints, started } = await useOrStartStack(settings);
  say(`stack ready in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  process.stdout.write(
    `KAFKA_BROKERS=${endpoints.kafkaBrokers}\nSCHEMA_REGISTRY_URL=${endpoints.schemaRegistryUrl}\nDATABASE_URL=${endpoints.databaseUrl}\n`,
  );
  const env: NodeJS.ProcessEnv & {
    KAFKA_BROKERS: string;
    SCHEMA_REGISTRY_URL: string;
    DATABASE_URL: string;
  } = {
    ...process.env,
    KAFKA_BROKERS: process.env['KAFKA_BROKERS'] ?? endpoints.kafkaBrokers,
    SCHEMA_REGISTRY_URL: process.env['SCHEMA_REGISTRY_URL'] ?? endpoints.schemaRegistryUrl,
    DATABASE_URL: process.env['DATABASE_URL'] ?? endpoints.databaseUrl,
    // Locally the app and the ingest listen on their own ports; behind one public host a proxy joins them.
    APP_WEBHOOK_URL:
      process.env['APP_WEBHOOK_URL'] ??
      `http://${process.env['INGEST_HOST'] ?? '127.0.0.1'}:${process.env['INGEST_PORT'] ?? '8080'}/webhooks/livechat`,
    // The ingest's on-disk spool (Kafka down: webhooks are kept here and drained later), under the stack's
    // git-ignored data: `pnpm stack down --clean` wipes it with the registry whose schema ids its records carry.
    // One directory per raw topic: spooled records belong to the topic they were spooled for.
    INGEST_SPOOL_DIR:
      process.env['INGEST_SPOOL_DIR'] ??
      path.join(
        settings.home,
        'data',
        'ingest-spool',
        process.env['RAW_WEBHOOK_TOPIC'] ?? 'livechat.webhooks.raw',
      ),
    ...ingestSecrets.env,
    ...dashboardLinkEnv(process.env),
  };
  // Privacy on: every service gets the same master key and e-mail HMAC key (issue 19), local ones unless set.
  const privacy = localPrivacyEnv(process.env, path.join(settings.home, 'data'));
  Object.assign(env, privacy.env);
  // One key store for every service: the writers (ingest, normalizer) have no database of their own.
  if ((env.PRIVACY_KEYS ?? '').trim() !== '') env.PRIVACY_DATABASE_URL ??= env.DATABASE_URL;
  if (privacy.file !== undefined)
    say(
      `privacy on with local keys ${privacy.created === true ? 'generated into' : 'from'} ${privacy.file} (losing that file makes the local log's personal data unreadable; set PRIVACY_KEYS yourself, or PRIVACY_KEYS= to turn privacy off)`,
    );
  else if ((env.PRIVACY_KEYS ?? '').trim() === '')
    say('privacy off (PRIVACY_KEYS is empty): the privacy service is not started');
  const hubspotFake = process.argv.includes('--hubspot-fake')
    ? await startFakeHubSpot({ tokens: { [HUBSPOT_FAKE_TOKEN]: 1 } })
    : undefined;
  if (hubspotFake !== undefined) {
    env.HUBSPOT_API_URL = hubspotFake.url;
    env.HUBSPOT_ACCESS_TOKEN = HUBSPOT_FAKE_TOKEN;
    say(`--hubspot-fake: crm-sync talks to a fake HubSpot at ${hubspotFake.url}`);
  }
  const crmSync =
    (env.HUBSPOT_ACCESS_TOKEN ?? '').trim() !== '' || (env.CRM_TENANT_REGISTRY_DATABASE_URL ?? '') !== '';
  if (crmSync) services.push('crm-sync');
  else say('CRM sync is off: set HUBSPOT_ACCESS_TOKEN (or try npm start -- --demo --hubspot-fake)');
  if ((env.PRIVACY_KEYS ?? '').trim() === '') services.splice(services.indexOf('privacy'), 1);
  // an erasure erases the projections that run here, each in its configured schema
  env.PRIVACY_PROJECTIONS ??= [
    `transcripts:${env.TRANSCRIPTS_SCHEMA ?? 'transcripts'}`,
    `analytics:${env.ANALYTICS_SCHEMA ?? 'analytics'}`,
    ...(crmSync ? [`crm:${env.CRM_SCHEMA ?? 'crm'}`] : []),
  ].join(',');
  if (ingestSecrets.local) {
    say(
      `no ingest secrets configured: local mode, the ingest accepts the local ones (v3 secret_key "${LOCAL_DEV_SECRET_KEY}", v2 Basic "${LOCAL_DEV_BASIC_USER}:${LOCAL_DEV_BASIC_PASSWORD}") and not the app's tenant registry (for the app's tenants set INGEST_TENANT_REGISTRY_DATABASE_URL, e.g. to the ingest role's URL that \`pnpm stack up\` prints)`,
    );
  }
  const children = new Map<string, ChildProcess>();
  let stopping = false;

  const stopAll = async (code: number) => {
    if (stopping) return;
    stopping = true;
    say('stopping…');
    await Promise.all(
      [...children.entries()].reverse().map(
        ([name, child]) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            const force = setTimeout(() => child.kill('SIGKILL'), 15_000);
            child.once('exit', () => {
              clearTimeout(force);
              say(`${name} stopped`);
              resolve();
            });
            child.kill('SIGTERM');
          }),
      ),
    );
    if (started.length > 0)
      await stackDown(settings, { components: started }, (line) => process.stderr.write(`stack: ${line}\n`));
    process.exit(code);
  };

  for (const name of services) {
    const child = spawn(
      process.execPath,
      [...(nodeFlags[name] ?? []), '--import', 'tsx', path.join(root, 'services', name, 'src', 'main.ts')],
      {
        cwd: root,
        env,
        stdio: ['ignore', 'inherit', 'inherit'],
      },
    );
    children.set(name, child);
    say(`${name} started (pid ${child.pid ?? '?'})`);
    child.once('exit', (code, signal) => {
      if (!stopping) {
        say(`${name} exited (${signal ?? code}); stopping everything`);
        void stopAll(1);
      }
    });
  }
  say(`running ${services.join(', ')}; Ctrl-C stops everything`);
  const apiUrl = `http://${env.API_HOST ?? '127.0.0.1'}:${env.API_PORT ?? '8082'}`;
  say(`api: ${apiUrl} (reference ${apiUrl}/docs); a key: pnpm api-keys create --tenant <tenant id>`);
  if (services.includes('privacy'))
    say(
      'privacy: erase a customer with pnpm privacy erase --tenant <id> --email <address> (or POST /v1/admin/erasures with an --admin key)',
    );
  say(
    `dashboard: ${apiUrl}/dashboard (sign in with an API key${env.DASHBOARD_LINK_SECRET === LOCAL_DEV_DASHBOARD_LINK_SECRET ? ", or open it from the app's settings page: DASHBOARD_URL and the local DASHBOARD_LINK_SECRET are set for the app and the api" : ''})`,
  );
  process.on('SIGINT', () => void stopAll(0));
  process.on('SIGTERM', () => void stopAll(0));
  void announceReady(env, () => stopping);
  if (process.argv.includes('--demo')) {
    const [secretKey] = ingestSecrets.local
      ? [LOCAL_DEV_SECRET_KEY]
      : (env.LIVECHAT_SECRET_KEYS ?? '').split(',');
    const [basicAuth] = ingestSecrets.local
      ? [`${LOCAL_DEV_BASIC_USER}:${LOCAL_DEV_BASIC_PASSWORD}`]
      : (env.LIVECHAT_BASIC_AUTH ?? '').split(',');
    if (!secretKey || !basicAuth) {
      say('--demo needs LIVECHAT_SECRET_KEYS and LIVECHAT_BASIC_AUTH (or neither, for the local ones)');
      return;
    }
    const ingestUrl = `http://${env.INGEST_HOST ?? '127.0.0.1'}:${env.INGEST_PORT ?? '8080'}`;
    const ingestReadyUrl = `http://${env.INGEST_OPERATIONS_HOST ?? '127.0.0.1'}:${env.INGEST_OPERATIONS_PORT ?? '8092'}/readyz`;
    runDemo({
      ingestUrl,
      ingestReadyUrl,
      databaseUrl: env.DATABASE_URL,
      secretKey,
      basicAuth,
      schema: env.TRANSCRIPTS_SCHEMA ?? 'transcripts',
      ...(hubspotFake === undefined ? {} : { hubspotFakeUrl: hubspotFake.url }),
      say,
    })
      .then(() =>
        runAnalyticsDemo({
          ingestUrl,
          ingestReadyUrl,
          databaseUrl: env.DATABASE_URL,
          secretKey,
          basicAuth,
          say,
          schema: env.ANALYTICS_SCHEMA ?? 'analytics',
        }),
      )
      .then(() => printDemoApiKey(env, apiUrl))
      .then(
        () => say('demo done; the pipeline keeps running (Ctrl-C stops it)'),
        (error: unknown) => say(`demo failed: ${error instanceof Error ? error.message : String(error)}`),
      );
  }
}

/**
 * The stack named by KAFKA_BROKERS, SCHEMA_REGISTRY_URL and DATABASE_URL when all three are set (e.g. the
 * compose stack, or the one a test runs on), used as is; otherwise the local stack, started when not running.
 */
async function useOrStartStack(settings: ReturnType<typeof loadStackSettings>): ReturnType<typeof stackUp> {
  const kafkaBrokers = process.env['KAFKA_BROKERS'];
  const schemaRegistryUrl = process.env['SCHEMA_REGISTRY_URL'];
  const databaseUrl = process.env['DATABASE_URL'];
  if (kafkaBrokers && schemaRegistryUrl && databaseUrl) {
    say('KAFKA_BROKERS, SCHEMA_REGISTRY_URL and DATABASE_URL are set: using that stack as is');
    // The ingest's least-privilege role exists only where the app's migrations granted it; otherwise DATABASE_URL.
    const ingestDatabaseUrl = process.env['INGEST_TENANT_REGISTRY_DATABASE_URL'] || databaseUrl;
    return { endpoints: { kafkaBrokers, schemaRegistryUrl, databaseUrl, ingestDatabaseUrl }, started: [] };
  }
  return stackUp(settings, (line) => process.stderr.write(`stack: ${line}\n`));
}

/** --demo: an API key for the tenant of the newest chat (the demo's v3 one), made by `pnpm api-keys create`. */
async function printDemoApiKey(
  env: NodeJS.ProcessEnv & { DATABASE_URL: string },
  apiUrl: string,
): Promise<void> {
  const client = new pg.Client({ connectionString: env.DATABASE_URL });
  await client.connect();
  let tenant: string | undefined;
  try {
    const { rows } = await client.query<{ tenant: string }>(
      `select tenant from ${env.TRANSCRIPTS_SCHEMA ?? 'transcripts'}.chats
       order by first_thread_started_us desc nulls last limit 1`,
    );
    tenant = rows[0]?.tenant;
  } finally {
    await client.end();
  }
  if (tenant === undefined) return;
  const cli = path.join(root, 'services', 'api', 'src', 'cli.ts');
  const key = await new Promise<string>((resolve, reject) => {
    let out = '';
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', cli, 'create', '--tenant', tenant, '--name', 'demo'],
      {
        cwd: root,
        env,
        stdio: ['ignore', 'pipe', 'ignore'],
      },
    );
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? resolve(out.trim()) : reject(new Error(`api-keys exited ${code}`)),
    );
  });
  say(`demo: an API key for tenant ${tenant}: ${key}`);
  say(`demo: try curl -H "Authorization: Bearer ${key}" ${apiUrl}/v1/chats?limit=3`);
}

/** Where each service answers whether it is ready (its operations port's /readyz). */
function readinessUrls(env: NodeJS.ProcessEnv): Record<string, string> {
  const base = (host: string | undefined, port: string) => {
    const h = host === undefined || host === '' || host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
    return `http://${h.includes(':') ? `[${h}]` : h}:${port}`;
  };
  return {
    ingest: base(env['INGEST_OPERATIONS_HOST'], env['INGEST_OPERATIONS_PORT'] ?? '8092'),
    normalizer: base(env['NORMALIZER_HOST'], env['NORMALIZER_PORT'] ?? '8090'),
    transcripts: base(env['TRANSCRIPTS_HOST'], env['TRANSCRIPTS_PORT'] ?? '8091'),
    analytics: base(env['ANALYTICS_HOST'], env['ANALYTICS_PORT'] ?? '8094'),
    app: base(env['APP_OPERATIONS_HOST'], env['APP_OPERATIONS_PORT'] ?? '8093'),
    'crm-sync': base(env['CRM_HOST'], env['CRM_PORT'] ?? '8095'),
    api: base(env['API_OPERATIONS_HOST'], env['API_OPERATIONS_PORT'] ?? '8096'),
    privacy: base(env['PRIVACY_OPERATIONS_HOST'], env['PRIVACY_OPERATIONS_PORT'] ?? '8097'),
  };
}

async function isReady(base: string): Promise<boolean> {
  try {
    const ready = await fetch(`${base}/readyz`, { signal: AbortSignal.timeout(2_000) });
    await ready.body?.cancel();
    return ready.status === 200;
  } catch {
    return false;
  }
}

/** Prints `main: ready: …` once every service answers ready (what a supervisor or a test waits for). */
async function announceReady(env: NodeJS.ProcessEnv, stopping: () => boolean): Promise<void> {
  const t0 = Date.now();
  const pending = new Map(Object.entries(readinessUrls(env)).filter(([name]) => services.includes(name)));
  while (pending.size > 0 && !stopping()) {
    for (const [name, base] of [...pending]) if (await isReady(base)) pending.delete(name);
    if (pending.size > 0) await new Promise((resolve) => setTimeout(resolve, 250));
  }
  if (!stopping()) say(`ready: ${services.join(', ')} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
}

main().catch((error: unknown) => {
  say(
    error instanceof StackError
      ? error.message
      : error instanceof Error
        ? (error.stack ?? error.message)
        : String(error),
  );
  process.exit(1);
});
