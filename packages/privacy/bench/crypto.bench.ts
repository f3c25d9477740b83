/**
 * What encryption costs per record: encrypt / decrypt ops/s for typical field and body sizes, and the cost of a
 * key fetch served by the cache (the common case in a consumer batch). Needs a Postgres for the key store:
 * DATABASE_URL, else the local stack's (STACK_POSTGRES_PORT, default 55432); it uses a schema of its own and
 * drops it. Run: `pnpm --filter @livechat-pipeline/privacy bench`.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import {
  PrivacyVault,
  openValues,
  sealValues,
  decryptBody,
  decryptField,
  encryptBody,
  encryptField,
  migratePrivacy,
  requireKey,
} from '../src/index.js';

const databaseUrl =
  process.env['DATABASE_URL'] ??
  `postgres://postgres:postgres@127.0.0.1:${process.env['STACK_POSTGRES_PORT'] ?? '55432'}/postgres`;
const schema = `privacy_bench_${randomBytes(4).toString('hex')}`;

/** Runs `fn` for about `ms` (after a warm-up) and returns operations per second. */
async function measure(fn: () => unknown, ms = 1000): Promise<number> {
  for (let i = 0; i < 2000; i++) await fn();
  let ops = 0;
  const start = process.hrtime.bigint();
  const deadline = start + BigInt(ms) * 1_000_000n;
  let now = start;
  while (now < deadline) {
    for (let i = 0; i < 200; i++) await fn();
    ops += 200;
    now = process.hrtime.bigint();
  }
  return ops / (Number(now - start) / 1e9);
}

const fmt = (opsPerSecond: number): string =>
  `${Math.round(opsPerSecond).toLocaleString('en-US').padStart(11)} ops/s  ${(1e6 / opsPerSecond).toFixed(2).padStart(8)} µs/op`;

const pool = new pg.Pool({ connectionString: databaseUrl, max: 2 });
try {
  await migratePrivacy(pool, { schema });
  const vault = new PrivacyVault(pool, {
    keys: new Map([['k1', randomBytes(32)]]),
    activeKeyId: 'k1',
    emailHashKey: randomBytes(32),
    cacheSize: 10_000,
    cacheTtlMs: 300_000,
    schema,
  });
  const chats = Array.from({ length: 500 }, (_, i) => `bench-${i}`);
  const states = await vault.keysFor('bench-tenant', chats, { create: true });
  const key = requireKey('bench-tenant', 'bench-0', states.get('bench-0')!);

  console.log(`privacy crypto bench (node ${process.version}, ${new Date().toISOString()})`);
  const sizes: Array<[string, number, 'field' | 'body']> = [
    ['field  32 B (a name, an e-mail)', 32, 'field'],
    ['field 200 B (a chat message)', 200, 'field'],
    ['field   2 KiB (a long message)', 2048, 'field'],
    ['body    2 KiB (a typical raw webhook)', 2048, 'body'],
    ['body   16 KiB (a large raw webhook)', 16_384, 'body'],
    ['body  256 KiB (an archive thread)', 262_144, 'body'],
  ];
  for (const [label, size, kind] of sizes) {
    if (kind === 'field') {
      const value = 'x'.repeat(size);
      const sealed = encryptField(key, 'message.text', value);
      console.log(
        `encrypt ${label.padEnd(38)} ${fmt(await measure(() => encryptField(key, 'message.text', value)))}`,
      );
      console.log(
        `decrypt ${label.padEnd(38)} ${fmt(await measure(() => decryptField(key, 'message.text', sealed)))}`,
      );
    } else {
      const body = randomBytes(size);
      const sealed = encryptBody(key, body);
      const ms = size > 100_000 ? 500 : 1000;
      console.log(`encrypt ${label.padEnd(38)} ${fmt(await measure(() => encryptBody(key, body), ms))}`);
      console.log(`decrypt ${label.padEnd(38)} ${fmt(await measure(() => decryptBody(key, sealed), ms))}`);
    }
  }
  // A message_posted as the normalizer would seal it: author name, text and a form answer in one envelope.
  const posted = {
    message: {
      kind: 'message',
      author_id: 'cust-1',
      author_name: 'Zoë Customer',
      text: 'x'.repeat(200),
      form: { fields: [{ id: 'f1', label: 'E-mail', answer: 'zoe@example.com', answers: [] }] },
    },
  };
  const specs = [
    { path: '/message/author_name' },
    { path: '/message/text' },
    { path: '/message/form/fields/*/answer' },
  ];
  const sealedEvent = sealValues(posted, specs, key, 'chat-event:bench');
  console.log(
    `seal   chat event (3 values, 1 envelope)         ${fmt(await measure(() => sealValues(posted, specs, key, 'chat-event:bench')))}`,
  );
  console.log(
    `open   chat event (3 values, 1 envelope)         ${fmt(await measure(() => openValues(sealedEvent.clear, sealedEvent.envelope!, key, 'chat-event:bench')))}`,
  );
  const queriesBefore = vault.stats().queries;
  console.log(
    `key fetch, cache hit, 1 chat                   ${fmt(await measure(() => vault.keysFor('bench-tenant', ['bench-1'], { create: false })))}`,
  );
  const batch = chats.slice(0, 100);
  const perBatch = await measure(() => vault.keysFor('bench-tenant', batch, { create: false }));
  console.log(
    `key fetch, cache hit, batch of 100 chats       ${fmt(perBatch)}  (${fmt(perBatch * 100).trim()} per chat)`,
  );
  console.log(`queries to Postgres during the cache-hit runs: ${vault.stats().queries - queriesBefore}`);
  const cold = new PrivacyVault(pool, {
    keys: new Map([['k1', randomBytes(32)]]),
    activeKeyId: 'k1',
    emailHashKey: randomBytes(32),
    cacheSize: 1,
    cacheTtlMs: 1000,
    schema,
  });
  const coldChats = Array.from({ length: 100 }, (_, i) => `cold-${i}`);
  await cold.keysFor('bench-tenant', coldChats, { create: true });
  const t0 = process.hrtime.bigint();
  const coldRuns = 50;
  for (let i = 0; i < coldRuns; i++) await cold.keysFor('bench-tenant', coldChats, { create: false });
  const coldMs = Number(process.hrtime.bigint() - t0) / 1e6 / coldRuns;
  console.log(
    `key fetch, cache miss, batch of 100 chats      ${coldMs.toFixed(2).padStart(8)} ms/batch (one query + 100 unwraps)`,
  );
} finally {
  await pool.query(`drop schema if exists "${schema}" cascade`).catch(() => undefined);
  await pool.end();
}
