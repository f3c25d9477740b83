/**
 * `pnpm demo:backfill`: a backfill run against the fake Agent Chat API serving the simulator's archive rendering, on
 * the local stack (KAFKA_BROKERS, SCHEMA_REGISTRY_URL, DATABASE_URL; defaults: `pnpm stack up`'s ports), printed as
 * the CLI prints it: progress, then threads, pages, rate, duration, retries. Each run uses its own topic and schema.
 *
 *   DEMO_THREADS=10000 DEMO_RATE_LIMIT=20 pnpm demo:backfill   # 20 requests/s per credential, 429 beyond (no Retry-After)
 */
import { pino } from 'pino';
import { createServiceKafka } from '@livechat-pipeline/service-host';
import { ensureTopic, topicSpecs } from '@livechat-pipeline/events';
import { startFakeLiveChat } from '@livechat-pipeline/livechat-fake';
import type { ArchiveRow } from '@livechat-pipeline/livechat-fake';
import { generateChats, renderArchive, simulatedTenant } from '@livechat-pipeline/traffic-simulator';
import { runCli } from '../src/cli.js';

const threads = Number(process.env['DEMO_THREADS'] ?? 5000);
const ratePerSecond = Number(process.env['DEMO_RATE_LIMIT'] ?? 0);
const brokers = process.env['KAFKA_BROKERS'] ?? '127.0.0.1:59092';
const registry = process.env['SCHEMA_REGISTRY_URL'] ?? 'http://127.0.0.1:58081/apis/ccompat/v7';
const database = process.env['DATABASE_URL'] ?? 'postgres://postgres:postgres@127.0.0.1:55432/postgres';

const tenant = simulatedTenant(2026);
process.stderr.write(`demo: rendering ${threads} archive threads…\n`);
const rows = renderArchive(generateChats({ seed: 2026, chats: threads, tenants: [tenant] })).map(
  (t) => t.row as unknown as ArchiveRow,
);
const fake = await startFakeLiveChat({
  clients: [],
  account: {
    accountId: 'demo',
    organizationId: tenant.organizationId,
    licenseId: 1,
    email: 'demo@example.com',
  },
  pats: [
    {
      accountId: 'demo',
      token: 'demo-pat',
      organizationId: tenant.organizationId,
      scopes: ['chats--all:ro'],
    },
  ],
  ...(ratePerSecond > 0
    ? { agentChat: { rateLimit: { capacity: ratePerSecond, refillPerSecond: ratePerSecond } } }
    : {}),
});
fake.upsertArchives(rows);
const suffix = `${Date.now().toString(36)}`;
const topic = `demo.backfill.raw.${suffix}`;
const kafka = createServiceKafka({
  clientId: 'backfill-demo',
  brokers: brokers.split(','),
  logger: pino({ level: 'warn' }),
});
await ensureTopic(
  kafka,
  topicSpecs.rawWebhook({ topic, partitions: 6, replicationFactor: 1, maxMessageBytes: 2 * 1024 * 1024 }),
  { brokers: brokers.split(',') },
);
const since = new Date(Date.parse(rows[0]!.thread.created_at) - 1000).toISOString();
const until = new Date(Date.parse(rows[rows.length - 1]!.thread.created_at) + 1000).toISOString();
try {
  const code = await runCli(
    ['backfill', '--tenant', tenant.organizationId, '--since', since, '--until', until],
    {
      KAFKA_BROKERS: brokers,
      SCHEMA_REGISTRY_URL: registry,
      DATABASE_URL: database,
      APP_DB_SCHEMA: `demo_backfill_${suffix}`,
      APP_DB_INGEST_ROLE: 'none',
      RAW_WEBHOOK_TOPIC: topic,
      LIVECHAT_API_URL: fake.apiUrl,
      LIVECHAT_ACCOUNTS_URL: fake.accountsUrl,
      LIVECHAT_PAT: 'demo:demo-pat',
      APP_LOG_LEVEL: 'warn',
    },
    { out: (t) => process.stdout.write(`${t}\n`), err: (t) => process.stderr.write(`${t}\n`) },
  );
  const calls = fake.calls().filter((c) => c.path === 'agent/action/list_archives');
  process.stdout.write(
    `demo: ${threads} threads served; list_archives calls: ${calls.length} (${calls.filter((c) => c.status === 429).length} answered too_many_requests); topic ${topic}\n`,
  );
  process.exitCode = code;
} finally {
  await fake.close();
}
